"""BG/NBD (Fader, Hardie & Lee 2005) fitted on every buyer's repeat-purchase summary as of the run's date.

A dbt Python model rather than a Dagster asset between two dbt selections: the inputs and outputs are dbt
relations in the same DuckDB database, so keeping it inside dbt keeps one lineage graph and one `dbt build`.
The math lives in analytics.bgnbd (pure, unit-tested); this model only moves data.
Output: one row per customer with a completed order, with P(alive), expected purchases over the horizon, and
the fitted parameters of this run repeated on every row (bgnbd_fit_history keeps one row per run).
"""

import numpy as np
import pandas as pd


def model(dbt, session):
    dbt.config(materialized="table")
    from analytics.bgnbd import expected_purchases, fit_bgnbd, p_alive

    horizon_days = int(dbt.config.get("horizon_days"))
    summary = (
        dbt.ref("int_orders_aggregated_to_customer")
        .filter("lifetime_orders > 0")
        .project("customer_id, bgnbd_frequency, bgnbd_recency_days, bgnbd_age_days")
        .order("customer_id")
        .df()
    )
    columns = {
        "customer_id": pd.Series(dtype="string"),
        "p_alive": pd.Series(dtype="float64"),
        "expected_purchases_90d": pd.Series(dtype="float64"),
        "bgnbd_r": pd.Series(dtype="float64"),
        "bgnbd_alpha": pd.Series(dtype="float64"),
        "bgnbd_a": pd.Series(dtype="float64"),
        "bgnbd_b": pd.Series(dtype="float64"),
        "bgnbd_log_likelihood": pd.Series(dtype="float64"),
        "bgnbd_n_customers": pd.Series(dtype="int64"),
        "bgnbd_converged": pd.Series(dtype="bool"),
        "bgnbd_message": pd.Series(dtype="string"),
    }
    if summary.empty:
        return pd.DataFrame(columns)

    x = summary["bgnbd_frequency"].to_numpy(dtype=float)
    t_x = summary["bgnbd_recency_days"].to_numpy(dtype=float)
    age = summary["bgnbd_age_days"].to_numpy(dtype=float)
    fit = fit_bgnbd(x, t_x, age)
    out = pd.DataFrame(
        {
            "customer_id": summary["customer_id"].astype("string"),
            "p_alive": np.round(p_alive(fit, x, t_x, age), 6),
            "expected_purchases_90d": np.round(expected_purchases(fit, horizon_days, x, t_x, age), 6),
        }
    )
    out["bgnbd_r"] = fit.r
    out["bgnbd_alpha"] = fit.alpha
    out["bgnbd_a"] = fit.a
    out["bgnbd_b"] = fit.b
    out["bgnbd_log_likelihood"] = fit.log_likelihood
    out["bgnbd_n_customers"] = fit.n_customers
    out["bgnbd_converged"] = fit.converged
    out["bgnbd_message"] = fit.message
    return out
