"""Backtest: how well the models predicted a period that has already happened.

In plain words.  The models are fitted as if today were one holdout period ago (the calibration end),
they predict each customer's purchases and order value for the holdout period, and the predictions are
compared with what the customers actually did.  The comparison is made per group of customers with the
same number of repeat purchases at the calibration end (0, 1, ..., 6, 7 or more) and in total, so that a
model that is right on average but wrong for the best customers shows it.

Per group: the number of customers, predicted and actual purchases (sums), and the mean absolute error
per customer.  For spend, among the customers who did buy in the holdout period: the predicted and the
actual average order value (means over customers) and the mean absolute error per customer.

Purchases are counted as for the models: distinct purchase days.  The actual average order value of a
customer is their holdout spend divided by their holdout purchases.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analytics._numerics import as_float_array, check_finite_nonneg, check_whole, count_nonfinite
from analytics.bgnbd import BgNbdFit, expected_purchases
from analytics.gamma_gamma import GammaGammaFit, conditional_expected_spend

__all__ = ["BACKTEST_COLUMNS", "BUCKETS", "backtest_rows"]

BUCKETS = ("0", "1", "2", "3", "4", "5", "6", "7+", "total")
BACKTEST_COLUMNS = (
    "bucket",
    "bucket_order",
    "customers",
    "predicted_purchases",
    "actual_purchases",
    "purchases_mae",
    "spend_customers",
    "predicted_avg_spend",
    "actual_avg_spend",
    "spend_mae",
)
_INPUT_COLUMNS = ("frequency", "recency_days", "age_days", "mean_spend", "holdout_purchases", "holdout_spend")


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if values.size else math.nan


def backtest_rows(
    customers: pd.DataFrame, bgnbd: BgNbdFit, gamma_gamma: GammaGammaFit, *, holdout_days: float
) -> pd.DataFrame:
    """The ``model_backtest`` rows of one run: predicted against actual, per frequency bucket and in total.

    Args:
        customers: one row per customer known at the calibration end, with ``frequency``,
            ``recency_days``, ``age_days`` and ``mean_spend`` as of the calibration end (the models'
            inputs; ``mean_spend`` may be NaN when frequency is 0), ``holdout_purchases`` (purchase days
            in the holdout period) and ``holdout_spend`` (their total spend, net of refunds; ignored where
            there are no holdout purchases).
        bgnbd, gamma_gamma: the models fitted on the calibration period.
        holdout_days: length of the holdout period in days.

    Returns:
        Nine rows, buckets ``'0'`` .. ``'6'``, ``'7+'`` and ``'total'`` (``bucket_order`` 0..8), with the
        columns of :data:`BACKTEST_COLUMNS`.  Sums are 0 and means NaN for an empty group (a bucket without
        customers, or without holdout buyers for the spend columns).

    Raises:
        ValueError: a column is missing, holdout purchases are not whole numbers >= 0, holdout spend is
            missing or infinite for a holdout buyer, or the calibration values are invalid.
    """
    missing = [c for c in _INPUT_COLUMNS if c not in customers.columns]
    if missing:
        raise ValueError(f"customers lacks column(s) {', '.join(missing)}")
    if not (math.isfinite(holdout_days) and holdout_days >= 0):
        raise ValueError(f"holdout_days must be a finite number >= 0, got {holdout_days}")
    actual = as_float_array(customers["holdout_purchases"], "holdout_purchases")
    check_finite_nonneg(actual, "holdout_purchases")
    check_whole(actual, "holdout_purchases", "purchase days")
    bought = actual > 0
    spend = as_float_array(customers["holdout_spend"], "holdout_spend")
    count_nonfinite(spend[bought], "holdout_spend of holdout buyers")

    x, tx, tt = (customers[c].to_numpy(dtype=float) for c in ("frequency", "recency_days", "age_days"))
    if len(x):
        predicted = expected_purchases(bgnbd, holdout_days, x, tx, tt)
        predicted_spend = conditional_expected_spend(
            gamma_gamma, x, customers["mean_spend"].to_numpy(dtype=float)
        )
    else:
        predicted = predicted_spend = np.empty(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        actual_spend = np.where(bought, spend / actual, np.nan)
    bucket = np.minimum(x, 7).astype(int) if len(x) else np.empty(0, dtype=int)

    rows = []
    for order, name in enumerate(BUCKETS):
        members = np.ones(len(x), dtype=bool) if name == "total" else bucket == order
        buyers = members & bought
        rows.append(
            {
                "bucket": name,
                "bucket_order": order,
                "customers": int(np.count_nonzero(members)),
                "predicted_purchases": float(np.sum(predicted[members])),
                "actual_purchases": float(np.sum(actual[members])),
                "purchases_mae": _mean(np.abs(predicted[members] - actual[members])),
                "spend_customers": int(np.count_nonzero(buyers)),
                "predicted_avg_spend": _mean(predicted_spend[buyers]),
                "actual_avg_spend": _mean(actual_spend[buyers]),
                "spend_mae": _mean(np.abs(predicted_spend[buyers] - actual_spend[buyers])),
            }
        )
    return pd.DataFrame(rows, columns=list(BACKTEST_COLUMNS))
