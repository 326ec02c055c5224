"""The fit step between the two dbt selections: the models of ``analytics`` fitted on what dbt grouped, on whatever
engine holds the tables.

dbt first builds the models tagged ``fit_input`` (models/intermediate/fit_inputs/): the distinct purchase histories
and spend histories with the number of customers sharing each, a few thousand rows at 100k orders. Each likelihood
depends on a customer only through that row, so a fit on the rows with their counts as weights is the fit on every
customer, at a cost that grows with the number of distinct rows, not of customers. This module reads them through the
:class:`warehouse.Warehouse` interface, fits, computes what SQL cannot (BG/NBD expected purchases need a
hypergeometric function), and replaces the tables of the dbt source ``analytics`` that the rest of the project reads:

=====================  =========================================  ==================================================
step                   reads (intermediate.*)                     writes (analytics.*)
=====================  =========================================  ==================================================
run_bgnbd_fit          int_purchase_histories_grouped             bgnbd_fit (one row), bgnbd_triple_scores (expected
                                                                  purchases over the horizon and the discounted
                                                                  purchases of CLV, per triple)
run_gamma_gamma_fit    int_spend_histories_grouped                gamma_gamma_fit (one row)
run_backtest_fit       int_calibration_histories_grouped,         backtest_fit (one row: both models fitted as of the
                       int_calibration_spend_grouped              calibration end), backtest_triple_scores (purchases
                                                                  expected in the holdout, per calibration triple)
=====================  =========================================  ==================================================

Each step takes a Warehouse and keyword settings and returns the one-row fit it wrote, as a dict; :func:`run_fit_steps`
runs all three with the run's dbt vars (the harness of warehouse/engines.py and the Dagster asset call it). Per
customer, the scores are joined or computed in closed form in SQL (P(alive), expected order value, CLV).

Nothing is dropped silently: each fit row carries the customers given, fitted and excluded, with the reasons.
The math is analytics/; this module only moves data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from analytics import (
    BgNbdFit,
    GammaGammaFit,
    discounted_expected_purchases,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
)
from c360.dbt_vars import defaults
from warehouse import Warehouse

SCHEMA = "analytics"
TRIPLES = "intermediate.int_purchase_histories_grouped"
SPEND = "intermediate.int_spend_histories_grouped"
CALIBRATION_TRIPLES = "intermediate.int_calibration_histories_grouped"
CALIBRATION_SPEND = "intermediate.int_calibration_spend_grouped"
CLV_PERIOD = "month"

_BGNBD_PARAMS = [("r", pa.float64()), ("alpha", pa.float64()), ("a", pa.float64()), ("b", pa.float64())]
_SPEND_PARAMS = [("p", pa.float64()), ("q", pa.float64()), ("gamma", pa.float64())]
# What every fit row says about the fit besides its parameters (see _diagnostics).
_DIAGNOSTICS = [
    ("log_likelihood", pa.float64()),
    ("n_customers", pa.int64()),
    ("n_fitted", pa.int64()),
    ("n_excluded", pa.int64()),
    ("exclusion_reasons", pa.string()),
    ("is_converged", pa.bool_()),
    ("fit_message", pa.string()),
]
_TRIPLE = [("frequency", pa.int64()), ("recency_days", pa.int64()), ("age_days", pa.int64())]

FIT_SCHEMA = pa.schema(
    [
        ("as_of_date", pa.date32()),
        *_BGNBD_PARAMS,
        *_DIAGNOSTICS,
        ("n_triples", pa.int64()),
        ("horizon_days", pa.int32()),
        ("clv_horizon_months", pa.int32()),
        ("clv_annual_discount_rate", pa.float64()),
    ]
)
SCORES_SCHEMA = pa.schema(
    [*_TRIPLE, ("expected_purchases", pa.float64()), ("discounted_expected_purchases", pa.float64())]
)
SPEND_FIT_SCHEMA = pa.schema(
    [
        ("as_of_date", pa.date32()),
        *_SPEND_PARAMS,
        ("population_mean_order_value", pa.float64()),
        *_DIAGNOSTICS,
        ("n_pairs", pa.int64()),
        ("spend_frequency_correlation", pa.float64()),
        ("is_informative", pa.bool_()),
    ]
)
BACKTEST_FIT_SCHEMA = pa.schema(
    [
        ("as_of_date", pa.date32()),
        ("calibration_end_date", pa.date32()),
        ("holdout_days", pa.int32()),
        *_BGNBD_PARAMS,
        ("bgnbd_n_customers", pa.int64()),
        ("bgnbd_n_excluded", pa.int64()),
        ("bgnbd_is_converged", pa.bool_()),
        *_SPEND_PARAMS,
        ("population_mean_order_value", pa.float64()),
        ("spend_n_fitted", pa.int64()),
        ("spend_n_excluded", pa.int64()),
        ("spend_is_informative", pa.bool_()),
        ("fit_message", pa.string()),
    ]
)
BACKTEST_SCORES_SCHEMA = pa.schema([*_TRIPLE, ("expected_purchases", pa.float64())])


@dataclass(frozen=True)
class FitSettings:
    """The dbt vars the fit step needs (their rules and defaults are in dbt_project.yml)."""

    horizon_days: int
    clv_horizon_months: int
    clv_annual_discount_rate: float
    backtest_holdout_days: int

    @classmethod
    def from_vars(cls, overrides: Mapping[str, Any] | None = None) -> FitSettings:
        """From the project's vars with the run's overrides applied (checked by the caller, c360.dbt_vars)."""
        values = {**defaults(), **(overrides or {})}
        return cls(
            horizon_days=int(values["bgnbd_horizon_days"]),
            clv_horizon_months=int(values["clv_horizon_months"]),
            clv_annual_discount_rate=float(values["clv_annual_discount_rate"]),
            backtest_holdout_days=int(values["backtest_holdout_days"]),
        )


def _number(value: float) -> float | None:
    """A fitted value for the table: NaN (not estimated) becomes null on every engine."""
    return None if value is None or not math.isfinite(float(value)) else float(value)


def _exclusion_reasons(excluded: tuple[Any, ...]) -> str | None:
    """'2 customers: zero spend; 1 customer: ...' per reason, or None when nobody was left out."""
    by_reason: dict[str, int] = {}
    for row in excluded:
        by_reason[row.reason] = by_reason.get(row.reason, 0) + int(row.customers)
    if not by_reason:
        return None
    return "; ".join(
        f"{count:,} customer{'s' if count != 1 else ''}: {reason}" for reason, count in by_reason.items()
    )


def _diagnostics(fit: BgNbdFit | GammaGammaFit | None, customers: np.ndarray, nothing: str) -> dict[str, Any]:
    """The _DIAGNOSTICS columns of a fit row: log-likelihood over the fitted customers, customers given, fitted and
    excluded (with the reasons), the optimizer's outcome; ``nothing`` says why when there was nothing to fit."""
    return {
        "log_likelihood": _number(fit.log_likelihood) if fit else None,
        "n_customers": int(customers.sum()),
        "n_fitted": fit.n_fitted if fit else 0,
        "n_excluded": fit.n_excluded if fit else 0,
        "exclusion_reasons": _exclusion_reasons(fit.excluded) if fit else None,
        "is_converged": bool(fit.converged) if fit else False,
        "fit_message": fit.message if fit else nothing,
    }


def _scores(
    frequency: np.ndarray, recency: np.ndarray, age: np.ndarray, schema: pa.Schema, **values
) -> pa.Table:
    """A scores table: one row per triple (as read, in the same order) with the given score columns."""
    triple = {"frequency": frequency, "recency_days": recency, "age_days": age}
    return pa.table({**{k: v.astype(np.int64) for k, v in triple.items()}, **values}, schema=schema)


def _read(wh: Warehouse, table: str, columns: list[str]) -> pd.DataFrame:
    """The grouped rows in a fixed order, so that every engine hands the optimizer the same sequence."""
    listed = ", ".join(columns)
    return wh.query(f"select {listed} from {table} order by {listed}")


def _bgnbd(
    frequency: np.ndarray, recency: np.ndarray, age: np.ndarray, customers: np.ndarray
) -> BgNbdFit | None:
    return fit_bgnbd(frequency, recency, age, weights=customers) if len(frequency) else None


def _gamma_gamma(frequency: np.ndarray, revenue: np.ndarray, customers: np.ndarray) -> GammaGammaFit | None:
    """Gamma-Gamma on (frequency, total repeat revenue) pairs: the mean spend is revenue / frequency."""
    if not len(frequency):
        return None
    return fit_gamma_gamma(frequency, revenue / frequency, weights=customers)


def _arrays(frame: pd.DataFrame, columns: list[str]) -> list[np.ndarray]:
    return [frame[c].astype(float).to_numpy() for c in columns]


def run_bgnbd_fit(
    wh: Warehouse,
    *,
    as_of_date: str,
    horizon_days: int,
    clv_horizon_months: int,
    clv_annual_discount_rate: float,
) -> dict[str, Any]:
    """Fit BG/NBD on the run's purchase histories; write ``analytics.bgnbd_fit`` (one row) and
    ``analytics.bgnbd_triple_scores`` (one row per triple: expected purchases over ``horizon_days`` and the
    discounted expected purchases over ``clv_horizon_months`` months, the purchase part of CLV), replacing both.

    Args:
        wh: the warehouse dbt built ``intermediate.int_purchase_histories_grouped`` in.
        as_of_date: the run's as-of date (``YYYY-MM-DD``), stored with the fit so that the dbt models can check
            they score with this run's fit.
        horizon_days: horizon of the expected purchases (dbt var ``bgnbd_horizon_days``).
        clv_horizon_months, clv_annual_discount_rate: the CLV horizon and discount rate (dbt vars of the same names).

    Returns:
        The row written to ``analytics.bgnbd_fit``, as a dict (for logging or Dagster metadata).
    """
    run_date = date.fromisoformat(as_of_date)
    if horizon_days < 0:
        raise ValueError(f"horizon_days must be >= 0 (got {horizon_days})")
    if clv_horizon_months < 0 or not (
        math.isfinite(clv_annual_discount_rate) and clv_annual_discount_rate >= 0
    ):
        raise ValueError("clv_horizon_months and clv_annual_discount_rate must be >= 0")
    triples = _read(wh, TRIPLES, ["bgnbd_frequency", "bgnbd_recency_days", "bgnbd_age_days", "customers"])
    frequency, recency, age, customers = _arrays(
        triples, ["bgnbd_frequency", "bgnbd_recency_days", "bgnbd_age_days", "customers"]
    )
    fit = _bgnbd(frequency, recency, age, customers)
    row: dict[str, Any] = {
        "as_of_date": run_date,
        **_bgnbd_values(fit),
        **_diagnostics(fit, customers, "no customer with a completed order: nothing to fit"),
        "n_triples": len(triples),
        "horizon_days": horizon_days,
        "clv_horizon_months": clv_horizon_months,
        "clv_annual_discount_rate": clv_annual_discount_rate,
    }
    if fit is None:
        expected = discounted = np.empty(0)
    else:
        expected = expected_purchases(fit, horizon_days, frequency, recency, age)
        discounted = discounted_expected_purchases(
            fit,
            frequency,
            recency,
            age,
            horizon=clv_horizon_months,
            period=CLV_PERIOD,
            annual_discount_rate=clv_annual_discount_rate,
        )
    scores = _scores(
        frequency,
        recency,
        age,
        SCORES_SCHEMA,
        expected_purchases=expected,
        discounted_expected_purchases=discounted,
    )
    wh.write_table(SCHEMA, "bgnbd_triple_scores", scores)
    wh.write_table(SCHEMA, "bgnbd_fit", pa.Table.from_pylist([row], schema=FIT_SCHEMA))
    return row


def _bgnbd_values(fit: BgNbdFit | None) -> dict[str, float | None]:
    return {k: (_number(getattr(fit, k)) if fit else None) for k in ("r", "alpha", "a", "b")}


def _spend_values(fit: GammaGammaFit | None) -> dict[str, float | None]:
    values: dict[str, float | None] = {
        k: (_number(getattr(fit, k)) if fit else None) for k in ("p", "q", "gamma")
    }
    values["population_mean_order_value"] = _number(fit.population_mean) if fit else None
    return values


def run_gamma_gamma_fit(wh: Warehouse, *, as_of_date: str) -> dict[str, Any]:
    """Fit the Gamma-Gamma spend model on the run's repeat buyers and write ``analytics.gamma_gamma_fit`` (one row:
    parameters, the expected order value of a customer without repeat purchases, sample sizes with exclusions and
    their reasons, and the independence check: the correlation of frequency and mean spend), replacing it.

    Returns:
        The row written, as a dict.
    """
    run_date = date.fromisoformat(as_of_date)
    pairs = _read(wh, SPEND, ["frequency", "repeat_net_revenue", "customers"])
    frequency, revenue, customers = _arrays(pairs, ["frequency", "repeat_net_revenue", "customers"])
    fit = _gamma_gamma(frequency, revenue, customers)
    row = {
        "as_of_date": run_date,
        **_spend_values(fit),
        **_diagnostics(fit, customers, "no repeat buyer: nothing to fit"),
        "n_pairs": len(pairs),
        "spend_frequency_correlation": _number(fit.spend_frequency_correlation) if fit else None,
        "is_informative": bool(fit.informative) if fit else False,
    }
    wh.write_table(SCHEMA, "gamma_gamma_fit", pa.Table.from_pylist([row], schema=SPEND_FIT_SCHEMA))
    return row


def run_backtest_fit(wh: Warehouse, *, as_of_date: str, holdout_days: int) -> dict[str, Any]:
    """Fit both models on the histories as they were at the calibration end (``holdout_days`` before the as-of
    date) and predict the holdout: write ``analytics.backtest_fit`` (one row with both fits) and
    ``analytics.backtest_triple_scores`` (purchases expected in the holdout per calibration triple), replacing both.
    dbt compares them with what each customer did in the holdout (model ``model_backtest``).

    Returns:
        The row written to ``analytics.backtest_fit``, as a dict.
    """
    run_date = date.fromisoformat(as_of_date)
    if holdout_days < 1:
        raise ValueError(f"holdout_days must be >= 1 (got {holdout_days})")
    columns = ["calibration_frequency", "calibration_recency_days", "calibration_age_days", "customers"]
    triples = _read(wh, CALIBRATION_TRIPLES, columns)
    frequency, recency, age, customers = _arrays(triples, columns)
    bgnbd = _bgnbd(frequency, recency, age, customers)
    spend_columns = ["calibration_frequency", "calibration_repeat_net_revenue", "customers"]
    pairs = _read(wh, CALIBRATION_SPEND, spend_columns)
    spend = _gamma_gamma(*_arrays(pairs, spend_columns))
    messages = [
        f"BG/NBD: {bgnbd.message}" if bgnbd else "BG/NBD: no customer had bought by the calibration end",
        f"Gamma-Gamma: {spend.message}" if spend else "Gamma-Gamma: no repeat buyer by the calibration end",
    ]
    row = {
        "as_of_date": run_date,
        "calibration_end_date": run_date - timedelta(days=holdout_days),
        "holdout_days": holdout_days,
        **_bgnbd_values(bgnbd),
        "bgnbd_n_customers": int(customers.sum()),
        "bgnbd_n_excluded": bgnbd.n_excluded if bgnbd else 0,
        "bgnbd_is_converged": bool(bgnbd.converged) if bgnbd else False,
        **_spend_values(spend),
        "spend_n_fitted": spend.n_fitted if spend else 0,
        "spend_n_excluded": spend.n_excluded if spend else 0,
        "spend_is_informative": bool(spend.informative) if spend else False,
        "fit_message": "; ".join(messages),
    }
    expected = expected_purchases(bgnbd, holdout_days, frequency, recency, age) if bgnbd else np.empty(0)
    scores = _scores(frequency, recency, age, BACKTEST_SCORES_SCHEMA, expected_purchases=expected)
    wh.write_table(SCHEMA, "backtest_triple_scores", scores)
    wh.write_table(SCHEMA, "backtest_fit", pa.Table.from_pylist([row], schema=BACKTEST_FIT_SCHEMA))
    return row


def run_fit_steps(wh: Warehouse, *, as_of_date: str, settings: FitSettings) -> dict[str, dict[str, Any]]:
    """Every fit of the run, in order; returns the row each wrote, by table (bgnbd_fit, gamma_gamma_fit,
    backtest_fit)."""
    return {
        "bgnbd_fit": run_bgnbd_fit(
            wh,
            as_of_date=as_of_date,
            horizon_days=settings.horizon_days,
            clv_horizon_months=settings.clv_horizon_months,
            clv_annual_discount_rate=settings.clv_annual_discount_rate,
        ),
        "gamma_gamma_fit": run_gamma_gamma_fit(wh, as_of_date=as_of_date),
        "backtest_fit": run_backtest_fit(
            wh, as_of_date=as_of_date, holdout_days=settings.backtest_holdout_days
        ),
    }
