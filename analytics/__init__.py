"""Predictive customer value: pure numpy / scipy / pandas functions, no I/O, nothing from orchestration.

Units: every time (recency, age, horizons, BG/NBD ``alpha``) is in days; spend is in the reporting currency.
Customer histories use the pipeline's summary: ``frequency`` = repeat purchases (distinct purchase days
minus one), ``recency`` = days from the first to the last purchase, ``T`` / age = days from the first
purchase to the as-of date.  Every fit accepts customer counts as ``weights``, so it can run on the distinct
(frequency, recency, age) triples or (frequency, mean spend) pairs instead of on every customer.

Who buys again, and how much (BG/NBD, :mod:`analytics.bgnbd`):

- ``fit_bgnbd(frequency, recency, T, *, weights=None, penalizer=0.0, trim_outliers=False) -> BgNbdFit``:
  fit on every customer; any exclusion is counted (``n_excluded``) and named (``excluded``).
- ``p_alive(fit, frequency, recency, T) -> ndarray``: probability the customer is still active (closed
  form, copied by the SQL side; the formula is in its docstring).
- ``expected_purchases(fit, t, frequency, recency, T) -> ndarray``: purchases expected in the next ``t`` days.
- ``score_triples(fit, triples, horizon_days) -> DataFrame``: the per-triple scoring table
  (frequency, recency_days, age_days, p_alive, expected_purchases) to join customers on.

How much per purchase (Gamma-Gamma, :mod:`analytics.gamma_gamma`):

- ``fit_gamma_gamma(frequency, mean_spend, *, weights=None, min_repeat_buyers=50) -> GammaGammaFit``: fit on
  repeat buyers with positive mean spend; zero / negative spend excluded, counted and named; reports the
  spend-frequency correlation (the model's independence assumption) and whether it is informative.
- ``conditional_expected_spend(fit, frequency, mean_spend) -> ndarray``: expected order value per customer
  (the population mean for customers without a repeat purchase).

What a customer is worth (:mod:`analytics.clv`):

- ``discounted_expected_purchases(fit, frequency, recency, T, *, horizon, period, annual_discount_rate)``:
  per distinct triple, the discounted purchases over the horizon (months or days).
- ``clv(fit, frequency, recency, T, expected_spend, *, horizon, period, annual_discount_rate, margin)``:
  ``margin * expected_spend * discounted_expected_purchases``, vectorized; margin a constant or per row.
- ``customer_clv(bgnbd, gamma_gamma, customers, *, horizon, period, annual_discount_rate, margin)``: both
  models in one call per customer, with the customer's own margin from known cost where available.

How good the predictions were (:mod:`analytics.backtest`):

- ``backtest_rows(customers, bgnbd, gamma_gamma, *, holdout_days) -> DataFrame``: the ``model_backtest``
  rows, predicted against actual purchases and spend per calibration-frequency bucket '0'..'7+' and total.

For tests and benchmarks: ``simulate_bgnbd`` and ``simulate_gamma_gamma`` draw populations from the models.
"""

from analytics.backtest import BACKTEST_COLUMNS, BUCKETS, backtest_rows
from analytics.bgnbd import (
    BgNbdExclusion,
    BgNbdFit,
    bgnbd_log_likelihood,
    expected_purchases,
    fit_bgnbd,
    p_alive,
    score_triples,
    simulate_bgnbd,
)
from analytics.clv import clv, customer_clv, discounted_expected_purchases
from analytics.gamma_gamma import (
    GammaGammaFit,
    SpendExclusion,
    conditional_expected_spend,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
    simulate_gamma_gamma,
)

__all__ = [
    "BACKTEST_COLUMNS",
    "BUCKETS",
    "BgNbdExclusion",
    "BgNbdFit",
    "GammaGammaFit",
    "SpendExclusion",
    "backtest_rows",
    "bgnbd_log_likelihood",
    "clv",
    "conditional_expected_spend",
    "customer_clv",
    "discounted_expected_purchases",
    "expected_purchases",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "gamma_gamma_log_likelihood",
    "p_alive",
    "score_triples",
    "simulate_bgnbd",
    "simulate_gamma_gamma",
]
