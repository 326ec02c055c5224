"""Tests for discounted CLV (analytics.clv)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

from analytics.bgnbd import BgNbdFit, expected_purchases, simulate_bgnbd
from analytics.clv import PERIOD_DAYS, clv, customer_clv, discounted_expected_purchases
from analytics.gamma_gamma import GammaGammaFit, conditional_expected_spend

CDNOW = BgNbdFit(0.243, 30.898, 0.793, 2.426)
SPEND = GammaGammaFit(6.25, 3.74, 15.44)
# No dropout (a -> 0): E[Y(t)] = (r + x) t / (alpha + T), here 3 t / 60 = 0.05 purchases a day.
NO_DROPOUT = BgNbdFit(1.0, 20.0, 1e-12, 1.0)
HISTORIES = (
    np.array([0, 1, 2, 5, 30]),
    np.array([0.0, 10.0, 30.0, 200.0, 350.0]),
    np.array([5.0, 40.0, 40.0, 365.0, 365.0]),
)


def test_hand_computed_case_without_dropout():
    # 0.05 purchases a day, 30.4375 days a month: 1.521875 purchases a month; spend 40, margin 25%.
    monthly_1pct = 1.01**12 - 1  # 12.6825% a year is 1% a month
    got = clv(
        NO_DROPOUT,
        2,
        30.0,
        40.0,
        40.0,
        horizon=3,
        period="month",
        annual_discount_rate=monthly_1pct,
        margin=0.25,
    )
    # 0.25 * 40 * 1.521875 * (1/1.01 + 1/1.01^2 + 1/1.01^3)
    assert float(got) == pytest.approx(44.75811862261611, rel=1e-9)
    days = clv(
        NO_DROPOUT, 2, 30.0, 40.0, 40.0, horizon=3, period="day", annual_discount_rate=0.0, margin=0.25
    )
    assert float(days) == pytest.approx(0.25 * 40 * 0.05 * 3, rel=1e-9)


def test_hand_computed_case_with_the_papers_formula():
    # Two months for a customer with no repeat purchase yet (x = t_x = 0, T = 100): E[Y(t)] from eq. (10).
    r, alpha, a, b = CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b

    def eq10(t, T=100.0):
        z = t / (alpha + T + t)
        return (
            (a + b - 1)
            / (a - 1)
            * (1 - ((alpha + T) / (alpha + T + t)) ** r * special.hyp2f1(r, b, a + b - 1, z))
        )

    month = 365.25 / 12
    d = 1.1 ** (month / 365.25) - 1
    expect = 0.3 * 35.0 * (eq10(month) / (1 + d) + (eq10(2 * month) - eq10(month)) / (1 + d) ** 2)
    got = clv(CDNOW, 0, 0.0, 100.0, 35.0, horizon=2, period="month", annual_discount_rate=0.1, margin=0.3)
    assert float(got) == pytest.approx(expect, rel=1e-9)


@pytest.mark.parametrize("period", ["month", "day"])
def test_zero_discount_is_the_undiscounted_expected_purchases(period):
    x, tx, T = HISTORIES
    spend = conditional_expected_spend(SPEND, x, np.array([np.nan, 20.0, 35.0, 50.0, 10.0]))
    horizon = 24 if period == "month" else 400
    got = clv(CDNOW, x, tx, T, spend, horizon=horizon, period=period, annual_discount_rate=0.0, margin=0.3)
    expect = 0.3 * spend * expected_purchases(CDNOW, horizon * PERIOD_DAYS[period], x, tx, T)
    np.testing.assert_allclose(got, expect, rtol=1e-10)
    # Discounting only lowers the value.
    assert np.all(
        clv(CDNOW, x, tx, T, spend, horizon=horizon, period=period, annual_discount_rate=0.1, margin=0.3)
        < got
    )


def test_monotone_in_horizon():
    x, tx, T = HISTORIES
    values = np.array(
        [
            clv(CDNOW, x, tx, T, 30.0, horizon=h, period="month", annual_discount_rate=0.1, margin=0.3)
            for h in range(0, 37)
        ]
    )
    assert np.all(values[0] == 0.0)
    assert np.all(np.diff(values, axis=0) > 0)  # every customer here has P(alive) well above 0


def test_zero_for_a_customer_the_model_believes_gone():
    # 50 purchases in the first 10 days, then ten years of silence: P(alive) ~ 0.
    value = clv(
        CDNOW, 50, 10.0, 3650.0, 100.0, horizon=60, period="month", annual_discount_rate=0.0, margin=1.0
    )
    assert float(value) < 1e-9
    assert (
        float(
            clv(
                CDNOW,
                50,
                3640.0,
                3650.0,
                100.0,
                horizon=60,
                period="month",
                annual_discount_rate=0.0,
                margin=1.0,
            )
        )
        > 100
    )


def test_per_triple_equals_per_customer_and_margin_arrays():
    T = np.random.default_rng(1).integers(30, 720, 3_000).astype(float)
    sim = simulate_bgnbd(3_000, CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b, T, seed=1)
    x, tx = sim["frequency"].to_numpy(float), np.floor(sim["recency"].to_numpy())
    kw = {"horizon": 12, "period": "month", "annual_discount_rate": 0.1}
    dep = discounted_expected_purchases(CDNOW, x, tx, T, **kw)
    triples, inverse = np.unique(np.c_[x, tx, T], axis=0, return_inverse=True)
    by_triple = discounted_expected_purchases(CDNOW, triples[:, 0], triples[:, 1], triples[:, 2], **kw)
    np.testing.assert_array_equal(dep, by_triple[inverse.ravel()])
    margin = np.where(np.arange(3_000) % 2 == 0, 0.2, 0.5)
    np.testing.assert_allclose(
        clv(CDNOW, x, tx, T, 40.0, margin=margin, **kw), margin * 40.0 * dep, rtol=1e-15
    )


def test_customer_clv_combines_both_models_and_known_cost_margins():
    customers = pd.DataFrame(
        {
            "frequency": [0, 3, 3, 12],
            "recency_days": [0.0, 100.0, 100.0, 300.0],
            "age_days": [200.0, 200.0, 200.0, 310.0],
            "mean_spend": [np.nan, 20.0, 20.0, 80.0],
            "margin": [np.nan, 0.5, np.nan, -0.1],  # known cost for two customers; one is sold at a loss
        },
        index=["c1", "c2", "c3", "c4"],
    )
    out = customer_clv(
        CDNOW, SPEND, customers, horizon=12, period="month", annual_discount_rate=0.1, margin=0.3
    )
    assert list(out.index) == ["c1", "c2", "c3", "c4"]
    assert out["margin"].tolist() == [0.3, 0.5, 0.3, -0.1]
    assert out.loc["c1", "expected_spend"] == pytest.approx(SPEND.population_mean)
    x, tx, T = (customers[c].to_numpy(float) for c in ("frequency", "recency_days", "age_days"))
    expect = clv(
        CDNOW,
        x,
        tx,
        T,
        conditional_expected_spend(SPEND, x, customers["mean_spend"]),
        horizon=12,
        period="month",
        annual_discount_rate=0.1,
        margin=out["margin"].to_numpy(),
    )
    np.testing.assert_allclose(out["clv"], expect, rtol=1e-15)
    assert out.loc["c2", "clv"] == pytest.approx(out.loc["c3", "clv"] * 0.5 / 0.3)
    assert out.loc["c4", "clv"] < 0
    without_margin_column = customer_clv(
        CDNOW, SPEND, customers.drop(columns="margin"), horizon=12, annual_discount_rate=0.1, margin=0.3
    )
    assert (without_margin_column["margin"] == 0.3).all()
    # Not informative spend model without any repeat buyer: spend unknown, CLV unknown (NaN), not an error.
    unknown = GammaGammaFit(np.nan, np.nan, np.nan, informative=False)
    assert (
        customer_clv(CDNOW, unknown, customers, horizon=12, annual_discount_rate=0.1, margin=0.3)["clv"]
        .isna()
        .all()
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"horizon": -1}, "horizon"),
        ({"horizon": 1.5}, "horizon"),
        ({"period": "week"}, "period must be one of day, month"),
        ({"annual_discount_rate": -0.1}, "annual_discount_rate"),
        ({"margin": 1.2}, "must be <= 1"),
        ({"margin": np.nan}, "margin contains 1 NaN"),
        ({"expected_spend": -5.0}, "expected_spend contains 1 negative"),
        ({"recency": 50.0}, "recency exceeds T"),
    ],
)
def test_invalid_settings_raise(kwargs, match):
    args = {"frequency": 2, "recency": 10.0, "T": 40.0, "expected_spend": 30.0}
    settings = {"horizon": 12, "period": "month", "annual_discount_rate": 0.1, "margin": 0.3}
    for key, value in kwargs.items():
        (args if key in args else settings)[key] = value
    with pytest.raises(ValueError, match=match):
        clv(CDNOW, args["frequency"], args["recency"], args["T"], args["expected_spend"], **settings)
