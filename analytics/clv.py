"""Customer lifetime value (CLV): the discounted margin a customer is expected to bring over a horizon.

In plain words.  For each coming period (month or day) up to the horizon, CLV takes the purchases the
customer is expected to make in that period (from BG/NBD, which already accounts for the chance that
the customer has left), multiplies them by the customer's expected order value (from Gamma-Gamma) and by
the margin (the share of revenue that is profit), and discounts the result: money next year is worth
less than money today, by the annual discount rate.  The sum over the periods is the CLV, in the
reporting currency.

    CLV = sum_{k=1..H} margin * E[spend] * (E[Y(k L)] - E[Y((k-1) L)]) / (1 + d)^k

where ``E[Y(t)]`` is the BG/NBD expected number of purchases in the next ``t`` days, ``L`` the period
length in days (1 for days, 365.25 / 12 for months), ``H`` the horizon in periods and
``d = (1 + annual_discount_rate)^(L / 365.25) - 1`` the discount rate per period.  With a zero discount
rate CLV is simply ``margin * E[spend] * E[Y(H L)]``.

CLV is a forward-looking value; the value tier is based on revenue so far.  A customer in a high tier
whose model says they have left has a low CLV, and a recent customer with a promising start can have a
high CLV in a low tier.

Because the purchase part depends only on the customer's (frequency, recency, age) triple, it is
computed once per distinct triple (:func:`discounted_expected_purchases`) and CLV is then
``margin * expected_spend * discounted_expected_purchases`` for every customer.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd

from analytics._numerics import as_float_array, count_nonfinite
from analytics.bgnbd import BgNbdFit, _validate_rft, expected_purchases
from analytics.gamma_gamma import GammaGammaFit, conditional_expected_spend

__all__ = ["DAYS_PER_YEAR", "PERIOD_DAYS", "clv", "customer_clv", "discounted_expected_purchases"]

Period = Literal["day", "month"]
DAYS_PER_YEAR = 365.25
PERIOD_DAYS = {"day": 1.0, "month": DAYS_PER_YEAR / 12}
# Upper bound on the number of (row, period) evaluations held in memory at once.
_CHUNK_CELLS = 1_000_000


def _period_days(period: str) -> float:
    if period not in PERIOD_DAYS:
        raise ValueError(f"period must be one of {', '.join(PERIOD_DAYS)}, got {period!r}")
    return PERIOD_DAYS[period]


def _check_settings(horizon: int, annual_discount_rate: float) -> None:
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 0:
        raise ValueError(f"horizon must be a whole number of periods >= 0, got {horizon!r}")
    if not (math.isfinite(annual_discount_rate) and annual_discount_rate >= 0):
        raise ValueError(f"annual_discount_rate must be a finite number >= 0, got {annual_discount_rate}")


def discounted_expected_purchases(
    fit: BgNbdFit,
    frequency: object,
    recency: object,
    T: object,
    *,
    horizon: int,
    period: Period = "month",
    annual_discount_rate: float,
) -> np.ndarray:
    """Expected purchases per period over the horizon, each discounted to today, summed.

        sum_{k=1..H} (E[Y(k L)] - E[Y((k-1) L)]) / (1 + d)^k

    (see the module docstring).  Multiply by margin and expected spend to get CLV.  Evaluated once per
    distinct (frequency, recency, T), so it can be called per customer or per triple at the same cost.

    Args:
        fit: the BG/NBD fit (days).
        frequency, recency, T: the customers' histories, as for :func:`analytics.bgnbd.expected_purchases`
            (recency and T in days); broadcast together.
        horizon: number of periods ``H`` (0 gives 0).
        period: ``"month"`` (365.25 / 12 days) or ``"day"``.
        annual_discount_rate: e.g. 0.1 for 10% a year; converted to the period by compounding.

    Returns:
        Array with the broadcast shape of the inputs; >= 0 and non-decreasing in the horizon.
    """
    _check_settings(horizon, annual_discount_rate)
    length = _period_days(period)
    x, tx, tt = _validate_rft(frequency, recency, T, require_1d=False)
    shape = x.shape
    rows = np.stack([x.ravel(), tx.ravel(), tt.ravel()], axis=1)
    distinct, inverse = np.unique(rows, axis=0, return_inverse=True)
    out = np.zeros(len(distinct))
    if horizon > 0:
        k = np.arange(1, horizon + 1, dtype=float)
        discount = (1.0 + annual_discount_rate) ** (-k * length / DAYS_PER_YEAR)
        step = max(1, _CHUNK_CELLS // horizon)
        for start in range(0, len(distinct), step):
            d = distinct[start : start + step]
            cum = expected_purchases(fit, k[None, :] * length, d[:, :1], d[:, 1:2], d[:, 2:3])
            per_period = np.diff(cum, axis=1, prepend=0.0)
            out[start : start + step] = np.sum(np.maximum(per_period, 0.0) * discount, axis=1)
    return out[inverse.ravel()].reshape(shape)


def clv(
    fit: BgNbdFit,
    frequency: object,
    recency: object,
    T: object,
    expected_spend: object,
    *,
    horizon: int,
    period: Period = "month",
    annual_discount_rate: float,
    margin: float | object,
) -> np.ndarray:
    """Discounted CLV per row: ``margin * expected_spend * discounted_expected_purchases``.

    Rows may be customers or distinct (triple, spend) combinations; the purchase part is evaluated once
    per distinct triple either way.

    Args:
        fit, frequency, recency, T, horizon, period, annual_discount_rate: as for
            :func:`discounted_expected_purchases`.
        expected_spend: expected order value per row (e.g. from
            :func:`analytics.gamma_gamma.conditional_expected_spend`), >= 0; NaN (spend unknown) gives NaN.
        margin: share of revenue that is profit, a constant or one value per row (e.g. from known cost),
            at most 1 (negative for customers sold to at a loss).

    Returns:
        Array with the broadcast shape of the inputs, in the currency of ``expected_spend``.
    """
    spend, share = _spend_and_margin(expected_spend, margin)
    dep = discounted_expected_purchases(
        fit, frequency, recency, T, horizon=horizon, period=period, annual_discount_rate=annual_discount_rate
    )
    try:
        return share * spend * dep
    except ValueError as exc:
        raise ValueError(f"expected_spend and margin must broadcast with the customers: {exc}") from exc


def _spend_and_margin(expected_spend: object, margin: object) -> tuple[np.ndarray, np.ndarray]:
    spend = as_float_array(expected_spend, "expected_spend")
    n_neg = int(np.count_nonzero(spend < 0))
    if n_neg:
        raise ValueError(f"expected_spend contains {n_neg} negative value(s)")
    count_nonfinite(np.nan_to_num(spend, nan=0.0), "expected_spend")
    share = as_float_array(margin, "margin")
    count_nonfinite(share, "margin")
    n_over = int(np.count_nonzero(share > 1))
    if n_over:
        raise ValueError(f"margin is a share of revenue and must be <= 1; {n_over} value(s) are above")
    return spend, share


def customer_clv(
    bgnbd: BgNbdFit,
    gamma_gamma: GammaGammaFit,
    customers: pd.DataFrame,
    *,
    horizon: int,
    period: Period = "month",
    annual_discount_rate: float,
    margin: float,
) -> pd.DataFrame:
    """CLV for each customer from both models, in one call.

    Args:
        bgnbd, gamma_gamma: the fitted models.
        customers: one row per customer with ``frequency``, ``recency_days``, ``age_days`` and
            ``mean_spend`` (mean spend of the repeat purchases, net of refunds; may be NaN when
            frequency is 0), and optionally ``margin``: the customer's own margin share from known cost,
            NaN where the cost is unknown.
        horizon, period, annual_discount_rate: as for :func:`discounted_expected_purchases`.
        margin: the margin share used where the customer has none of their own.

    Returns:
        DataFrame on the index of ``customers`` with ``expected_spend`` (Gamma-Gamma),
        ``discounted_purchases``, ``margin`` (the share used) and ``clv``.
    """
    missing = [
        c for c in ("frequency", "recency_days", "age_days", "mean_spend") if c not in customers.columns
    ]
    if missing:
        raise ValueError(f"customers lacks column(s) {', '.join(missing)}")
    if customers.empty:
        cols = ("expected_spend", "discounted_purchases", "margin", "clv")
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols}, index=customers.index)
    x, tx, tt = (customers[c].to_numpy(dtype=float) for c in ("frequency", "recency_days", "age_days"))
    spend = conditional_expected_spend(gamma_gamma, x, customers["mean_spend"].to_numpy(dtype=float))
    own = (
        customers["margin"].to_numpy(dtype=float)
        if "margin" in customers.columns
        else np.full(len(x), np.nan)
    )
    spend, share = _spend_and_margin(spend, np.where(np.isnan(own), float(margin), own))
    dep = discounted_expected_purchases(
        bgnbd, x, tx, tt, horizon=horizon, period=period, annual_discount_rate=annual_discount_rate
    )
    return pd.DataFrame(
        {"expected_spend": spend, "discounted_purchases": dep, "margin": share, "clv": share * spend * dep},
        index=customers.index,
    )
