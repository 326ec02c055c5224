"""The BG/NBD fit step between the two dbt selections, on whatever engine holds the tables.

dbt builds ``intermediate.int_purchase_histories_grouped`` (the distinct repeat-purchase histories with their
customer counts: a few thousand rows at 100k orders); this step reads it through the :class:`warehouse.Warehouse`
interface, fits BG/NBD with the counts as weights (the likelihood depends on a customer only through the triple,
so the parameters are those of a fit on every customer), computes the expected purchases of every triple over the
horizon (a hypergeometric function SQL does not have) and replaces ``analytics.bgnbd_fit`` and
``analytics.bgnbd_triple_scores``. The rest of the dbt project reads them as the source ``analytics``:
P(alive) in closed form per customer, expected purchases joined by triple, the fit history.

The math is analytics.bgnbd; this module only moves data.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa

from analytics.bgnbd import expected_purchases, fit_bgnbd
from warehouse import Warehouse

TRIPLES = "intermediate.int_purchase_histories_grouped"
SCHEMA = "analytics"

FIT_SCHEMA = pa.schema(
    [
        ("as_of_date", pa.date32()),
        ("r", pa.float64()),
        ("alpha", pa.float64()),
        ("a", pa.float64()),
        ("b", pa.float64()),
        ("log_likelihood", pa.float64()),
        ("n_customers", pa.int64()),
        ("n_triples", pa.int64()),
        ("n_excluded", pa.int64()),
        ("is_converged", pa.bool_()),
        ("fit_message", pa.string()),
        ("horizon_days", pa.int32()),
    ]
)
SCORES_SCHEMA = pa.schema(
    [
        ("frequency", pa.int64()),
        ("recency_days", pa.int64()),
        ("age_days", pa.int64()),
        ("expected_purchases", pa.float64()),
    ]
)


def run_bgnbd_fit(wh: Warehouse, *, as_of_date: str, horizon_days: int) -> dict[str, Any]:
    """Fit BG/NBD on the run's purchase histories and write ``analytics.bgnbd_fit`` (one row) and
    ``analytics.bgnbd_triple_scores`` (one row per triple), replacing both.

    Args:
        wh: the warehouse dbt built ``intermediate.int_purchase_histories_grouped`` in.
        as_of_date: the run's as-of date (``YYYY-MM-DD``), stored with the fit so that the dbt models can check
            they score with this run's fit.
        horizon_days: horizon of the expected purchases (dbt var ``bgnbd_horizon_days``).

    Returns:
        The row written to ``analytics.bgnbd_fit``, as a dict (for logging or Dagster metadata).
    """
    run_date = date.fromisoformat(as_of_date)
    if horizon_days < 0:
        raise ValueError(f"horizon_days must be >= 0 (got {horizon_days})")
    triples = wh.query(
        "select bgnbd_frequency, bgnbd_recency_days, bgnbd_age_days, customers "
        f"from {TRIPLES} order by bgnbd_frequency, bgnbd_recency_days, bgnbd_age_days"
    )
    frequency = triples["bgnbd_frequency"].to_numpy(dtype=np.int64)
    recency = triples["bgnbd_recency_days"].to_numpy(dtype=np.int64)
    age = triples["bgnbd_age_days"].to_numpy(dtype=np.int64)
    customers = triples["customers"].to_numpy(dtype=np.int64)

    if len(triples) == 0:
        fit_row: dict[str, Any] = {
            "as_of_date": run_date,
            "r": None,
            "alpha": None,
            "a": None,
            "b": None,
            "log_likelihood": None,
            "n_customers": 0,
            "n_triples": 0,
            "n_excluded": 0,
            "is_converged": False,
            "fit_message": "no customer with a completed order: nothing to fit",
            "horizon_days": horizon_days,
        }
        expected = np.empty(0)
    else:
        fit = fit_bgnbd(frequency, recency, age, weights=customers)
        fit_row = {
            "as_of_date": run_date,
            "r": fit.r,
            "alpha": fit.alpha,
            "a": fit.a,
            "b": fit.b,
            "log_likelihood": fit.log_likelihood,
            "n_customers": int(customers.sum()),
            "n_triples": len(triples),
            "n_excluded": int(fit.n_excluded),
            "is_converged": fit.converged,
            "fit_message": fit.message,
            "horizon_days": horizon_days,
        }
        expected = expected_purchases(fit, horizon_days, frequency, recency, age)

    scores = pa.table(
        {"frequency": frequency, "recency_days": recency, "age_days": age, "expected_purchases": expected},
        schema=SCORES_SCHEMA,
    )
    wh.write_table(SCHEMA, "bgnbd_triple_scores", scores)
    wh.write_table(SCHEMA, "bgnbd_fit", pa.Table.from_pylist([fit_row], schema=FIT_SCHEMA))
    return fit_row
