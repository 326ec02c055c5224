"""Tests for the Gamma-Gamma spend model (analytics.gamma_gamma).

Parameter sets (spend in currency units):

* CDNOW -- the paper's estimates p=6.25, q=3.74, gamma=15.44 (Fader, Hardie & Lee 2005, JMR);
* SET2 -- less heterogeneous spend: p=2, q=10, gamma=200 (population mean 44.4).

Recovery tolerances come from a 20-30 seed study at 50,000 customers (about 23,000 repeat buyers):
relative error SDs were 3.1% / 1.3% / 4.1% (p, q, gamma) for CDNOW, 1.8% / 3.7% / 5.4% for SET2, and
0.3-0.5% for the population mean, so the bounds below are about 4 SDs or more.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from analytics.bgnbd import simulate_bgnbd
from analytics.gamma_gamma import (
    EXCLUDED_NEGATIVE_SPEND,
    EXCLUDED_ZERO_SPEND,
    GammaGammaFit,
    SpendExclusion,
    _Objective,
    conditional_expected_spend,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
    simulate_gamma_gamma,
)

CDNOW = (6.25, 3.74, 15.44)
SET2 = (2.0, 10.0, 200.0)
TOL = {"p": 0.15, "q": 0.15, "gamma": 0.25, "population_mean": 0.02}


def _frequencies(n: int, seed: int) -> pd.Series:
    """Repeat-purchase counts as the BG/NBD model produces them (CDNOW-like: ~45% repeat buyers)."""
    T = np.random.default_rng(1000 + seed).uniform(189, 546, n)
    return simulate_bgnbd(n, 0.243, 30.9, 0.793, 2.426, T, seed=seed)["frequency"]


def _pop_mean(p: float, q: float, gamma: float) -> float:
    return p * gamma / (q - 1)


# --------------------------------------------------------------------------- recovery and likelihood


@pytest.mark.parametrize(("params", "seed"), [(CDNOW, 1), (SET2, 2)], ids=["cdnow", "set2"])
def test_parameter_recovery(params, seed):
    sim = simulate_gamma_gamma(_frequencies(50_000, seed), *params, seed=seed)
    fit = fit_gamma_gamma(sim["frequency"], sim["mean_spend"])
    repeat = int((sim["frequency"] > 0).sum())
    assert fit.informative and fit.converged, fit.message
    assert (fit.n_customers, fit.n_fitted, fit.n_excluded) == (50_000, repeat, 0)
    assert fit.unidentified == ()
    got = {"p": fit.p, "q": fit.q, "gamma": fit.gamma, "population_mean": fit.population_mean}
    truth = dict(zip(("p", "q", "gamma"), params, strict=True)) | {"population_mean": _pop_mean(*params)}
    for name, true in truth.items():
        rel = abs(got[name] / true - 1.0)
        print(f"{name}: true={true:.4g} fitted={got[name]:.4g} rel.err={rel:.3f} (tol {TOL[name]})")
        assert rel < TOL[name], (name, true, got[name])
    rb = sim[sim["frequency"] > 0]
    assert fit.log_likelihood >= gamma_gamma_log_likelihood(rb["frequency"], rb["mean_spend"], *params) - 1e-6
    assert fit.log_likelihood == pytest.approx(
        gamma_gamma_log_likelihood(rb["frequency"], rb["mean_spend"], fit.p, fit.q, fit.gamma), rel=1e-12
    )
    assert abs(fit.spend_frequency_correlation) < 0.05  # independent by construction


def test_log_likelihood_is_the_density_of_the_mean_spend():
    # Independent check: integrate the density of the mean of x Gamma(p, nu) values over nu ~ Gamma(q, gamma).
    p, q, gamma = 2.5, 4.0, 30.0
    for x, m in [(1, 12.0), (3, 25.0), (10, 60.0)]:

        def integrand(nu, x=x, m=m):
            return stats.gamma.pdf(m, a=p * x, scale=1.0 / (x * nu)) * stats.gamma.pdf(
                nu, a=q, scale=1.0 / gamma
            )

        direct = integrate.quad(integrand, 0, np.inf, epsrel=1e-11, limit=200)[0]
        assert gamma_gamma_log_likelihood([x], [m], p, q, gamma) == pytest.approx(math.log(direct), rel=1e-9)


def test_analytic_gradient_matches_finite_differences():
    sim = simulate_gamma_gamma(np.arange(1, 400) % 17 + 1, *CDNOW, seed=3)
    m = sim["mean_spend"].to_numpy()
    obj = _Objective(sim["frequency"].to_numpy(float), m / m.mean(), np.ones(len(m)), 0.01)
    theta = np.log([3.0, 2.5, 0.7])
    value, grad = obj(theta)
    # the objective is the mean negative log-likelihood (spend rescaled by its mean) plus the penalty
    direct = gamma_gamma_log_likelihood(sim["frequency"], m / m.mean(), *np.exp(theta))
    assert value == pytest.approx(-direct / len(m) + 0.01 * float(theta @ theta), rel=1e-12)
    h = 1e-6
    num = np.array([(obj(theta + h * e)[0] - obj(theta - h * e)[0]) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-8)


def test_fit_on_distinct_pairs_with_counts_equals_fit_per_customer():
    sim = simulate_gamma_gamma(_frequencies(4_000, 4), *CDNOW, seed=4)
    sim["mean_spend"] = sim["mean_spend"].round(0)  # whole currency units: many customers share a pair
    pairs = sim.groupby(["frequency", "mean_spend"], as_index=False, dropna=False).size()
    assert len(pairs) < len(sim) / 3
    per_customer = fit_gamma_gamma(sim["frequency"], sim["mean_spend"])
    by_pair = fit_gamma_gamma(pairs["frequency"], pairs["mean_spend"], weights=pairs["size"])
    assert (by_pair.n_customers, by_pair.n_fitted) == (per_customer.n_customers, per_customer.n_fitted)
    for name in ("p", "q", "gamma", "log_likelihood", "spend_frequency_correlation", "default_mean"):
        assert getattr(by_pair, name) == pytest.approx(getattr(per_customer, name), rel=1e-9), name


# --------------------------------------------------------------------------- conditional expectation


def test_conditional_expected_spend_matches_simulation():
    # E[M | x, m_x] is the posterior mean of the customer's true mean order value p / nu.
    sim = simulate_gamma_gamma(_frequencies(80_000, 5), *CDNOW, seed=5, include_latent=True)
    fit = GammaGammaFit(*CDNOW)
    rb = sim[sim["frequency"] > 0]
    pred = conditional_expected_spend(fit, rb["frequency"], rb["mean_spend"])
    true = CDNOW[0] / rb["nu"].to_numpy()
    buckets = np.digitize(rb["frequency"], [2, 3, 5, 10])
    for k in np.unique(buckets):
        d = (true - pred)[buckets == k]
        assert abs(d.mean()) < 4.5 * d.std() / math.sqrt(len(d)), k
    # More repeat purchases: closer to the customer's own mean than to the population mean.
    m = np.full(4, 80.0)
    e = conditional_expected_spend(fit, [1, 3, 10, 100], m)
    assert np.all(np.diff(e) > 0) and e[0] > fit.population_mean and e[-1] < 80.0
    assert e[-1] == pytest.approx(80.0, rel=0.05)


def test_conditional_expected_spend_exact_value():
    p, q, gamma = CDNOW
    fit = GammaGammaFit(p, q, gamma)
    # weights: (q-1)/(px+q-1) on the population mean, px/(px+q-1) on the customer's mean
    x, m = 2, 50.0
    w_own = p * x / (p * x + q - 1)
    expect = (1 - w_own) * _pop_mean(p, q, gamma) + w_own * m
    assert float(conditional_expected_spend(fit, x, m)) == pytest.approx(expect, rel=1e-12)
    assert float(conditional_expected_spend(fit, x, m)) == pytest.approx(
        p * (gamma + x * m) / (p * x + q - 1)
    )


def test_one_purchase_only_gets_the_population_mean():
    fit = GammaGammaFit(*CDNOW)
    got = conditional_expected_spend(fit, [0, 0, 0], [np.nan, 0.0, 999.0])  # spend ignored without repeats
    np.testing.assert_array_equal(got, np.full(3, _pop_mean(*CDNOW)))
    assert fit.population_mean == pytest.approx(35.22, abs=0.01)


# --------------------------------------------------------------------------- edge cases


def test_zero_spend_is_excluded_counted_and_named():
    sim = simulate_gamma_gamma(_frequencies(20_000, 6), *CDNOW, seed=6)
    base = fit_gamma_gamma(sim["frequency"], sim["mean_spend"])
    free = pd.DataFrame({"frequency": [1, 1, 3], "mean_spend": [0.0, 0.0, 0.0]})  # free orders only
    data = pd.concat([sim, free], ignore_index=True)
    fit = fit_gamma_gamma(data["frequency"], data["mean_spend"])
    assert fit.excluded == (
        SpendExclusion(1.0, 0.0, 2, EXCLUDED_ZERO_SPEND),
        SpendExclusion(3.0, 0.0, 1, EXCLUDED_ZERO_SPEND),
    )
    assert (fit.n_customers, fit.n_fitted, fit.n_excluded) == (20_003, base.n_fitted, 3)
    assert f"excluded 3 of {base.n_fitted + 3:,} repeat buyers from the fit: 3 zero spend" in fit.message
    for name in ("p", "q", "gamma", "log_likelihood"):
        assert getattr(fit, name) == getattr(base, name), name
    # Still scored: shrunk below the population mean, the more so the more free repeat purchases.
    e = conditional_expected_spend(fit, [1, 3], [0.0, 0.0])
    assert 0 < e[1] < e[0] < fit.population_mean


def test_refunds_net_negative_spend_is_excluded_and_counted():
    sim = simulate_gamma_gamma(_frequencies(20_000, 7), *CDNOW, seed=7)
    refunds = pd.DataFrame({"frequency": [2, 2, 5], "mean_spend": [-10.0, -10.0, -0.5]})
    data = pd.concat([sim, refunds], ignore_index=True)
    fit = fit_gamma_gamma(data["frequency"], data["mean_spend"])
    assert fit.excluded == (
        SpendExclusion(2.0, -10.0, 2, EXCLUDED_NEGATIVE_SPEND),
        SpendExclusion(5.0, -0.5, 1, EXCLUDED_NEGATIVE_SPEND),
    )
    assert fit.n_excluded == 3 and fit.n_fitted == int((sim["frequency"] > 0).sum())
    assert "3 negative net spend (refunds exceed purchases)" in fit.message
    # Scored like zero spend (the limit of the formula), never negative.
    np.testing.assert_array_equal(
        conditional_expected_spend(fit, [2, 5], [-10.0, -0.5]),
        conditional_expected_spend(fit, [2, 5], [0.0, 0.0]),
    )
    assert pd.DataFrame(fit.excluded).columns.tolist() == ["frequency", "mean_spend", "customers", "reason"]


def test_fewer_repeat_buyers_than_the_minimum_is_not_informative_with_a_usable_default():
    data = pd.DataFrame(
        {"frequency": [0, 0, 1, 2, 4, 3], "mean_spend": [np.nan, np.nan, 10.0, 20.0, 40.0, -5.0]}
    )
    fit = fit_gamma_gamma(
        data["frequency"], data["mean_spend"], weights=[5, 1, 1, 1, 2, 1], min_repeat_buyers=5
    )
    assert not fit.informative and not fit.converged
    assert (fit.n_customers, fit.n_fitted, fit.n_excluded) == (11, 4, 1)
    assert (
        "not informative: 4 repeat buyer(s) with positive spend, fewer than min_repeat_buyers=5"
        in fit.message
    )
    assert math.isnan(fit.p) and math.isnan(fit.log_likelihood)
    expect = (10 + 20 + 2 * 40) / 4
    assert fit.default_mean == pytest.approx(expect) and fit.population_mean == pytest.approx(expect)
    np.testing.assert_allclose(conditional_expected_spend(fit, [0, 1, 4], [np.nan, 10.0, 40.0]), expect)
    # Exactly at the minimum the model is fitted.
    assert fit_gamma_gamma(
        data["frequency"], data["mean_spend"], weights=[5, 1, 1, 1, 2, 1], min_repeat_buyers=4
    ).informative
    # Nobody with a repeat purchase: no spend estimate at all, and it says so.
    none = fit_gamma_gamma([0, 0, 1], [np.nan, np.nan, 0.0])
    assert not none.informative and math.isnan(none.population_mean)
    assert "no spend estimate" in none.message and none.n_excluded == 1


def test_independence_check_reports_the_spend_frequency_correlation():
    rng = np.random.default_rng(8)
    x = rng.integers(1, 20, 5_000).astype(float)
    dependent = x * 5.0 * rng.gamma(20.0, 1 / 20.0, 5_000)  # frequent buyers spend more per order
    fit = fit_gamma_gamma(x, dependent)
    assert fit.spend_frequency_correlation == pytest.approx(np.corrcoef(x, dependent)[0, 1], rel=1e-9)
    assert fit.spend_frequency_correlation > 0.8
    # Weighted: equal to the plain correlation over the expanded rows; excluded rows do not count.
    xs, ms, w = (
        np.array([1.0, 2.0, 3.0, 4.0, 2.0]),
        np.array([10.0, 30.0, 20.0, 50.0, -3.0]),
        np.array([1, 3, 2, 1, 4]),
    )
    small = fit_gamma_gamma(xs, ms, weights=w, min_repeat_buyers=100)
    expanded = np.repeat(np.c_[xs, ms][:4], w[:4], axis=0)
    assert small.spend_frequency_correlation == pytest.approx(np.corrcoef(expanded.T)[0, 1], rel=1e-12)
    assert math.isnan(fit_gamma_gamma([2, 2], [10.0, 20.0]).spend_frequency_correlation)  # x does not vary


def test_heavy_tailed_spend_with_q_below_one_falls_back_to_the_observed_mean():
    sim = simulate_gamma_gamma(_frequencies(30_000, 9), 3.0, 0.7, 20.0, seed=9)
    fit = fit_gamma_gamma(sim["frequency"], sim["mean_spend"])
    assert fit.informative and fit.q < 1, fit
    assert "q <= 1" in fit.message
    assert fit.population_mean == fit.default_mean == pytest.approx(sim["mean_spend"].mean())
    assert float(conditional_expected_spend(fit, 0, np.nan)) == fit.default_mean


def test_homogeneous_spend_reports_unidentified_parameters():
    # Everybody's mean order value is 40: q, gamma -> infinity at gamma / (q - 1) = 40 / p.
    x = _frequencies(20_000, 10)
    x = x[x > 0].to_numpy()
    rng = np.random.default_rng(10)
    m = rng.gamma(4.0 * x, 10.0) / x
    fit = fit_gamma_gamma(x, m)
    assert {"q", "gamma"} <= set(fit.unidentified), fit.message
    assert "drifting towards 0 or infinity" in fit.message
    assert fit.population_mean == pytest.approx(40.0, rel=0.02)
    pen = fit_gamma_gamma(x, m, penalizer=1e-3)
    assert pen.unidentified == () and pen.population_mean == pytest.approx(40.0, rel=0.05)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"frequency": [], "mean_spend": []}, "empty"),
        ({"frequency": [1, 2], "mean_spend": [10.0]}, "same length"),
        ({"frequency": [1.5], "mean_spend": [10.0]}, "whole numbers"),
        ({"frequency": [-1], "mean_spend": [10.0]}, "frequency contains 1 negative"),
        ({"frequency": [1, 2, 0], "mean_spend": [np.nan, np.nan, np.nan]}, "missing for 2 repeat buyer"),
        ({"frequency": [1], "mean_spend": [np.inf]}, "mean_spend contains 1 infinite"),
        ({"frequency": [1], "mean_spend": [1.0], "weights": [0.5]}, "customer counts"),
        ({"frequency": [1], "mean_spend": [1.0], "min_repeat_buyers": 0}, "min_repeat_buyers"),
    ],
)
def test_invalid_input_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_gamma_gamma(**kwargs)


def test_simulation_shape_and_holdout():
    x = np.array([0, 1, 5, 0, 2])
    sim = simulate_gamma_gamma(x, *CDNOW, seed=1, holdout_frequency=[0, 2, 0, 3, 1], include_latent=True)
    assert list(sim.columns) == ["frequency", "mean_spend", "holdout_spend", "nu"]
    assert sim["mean_spend"].isna().tolist() == [True, False, False, True, False]
    assert (sim["holdout_spend"] == 0).tolist() == [True, False, True, False, False]
    assert sim.equals(
        simulate_gamma_gamma(x, *CDNOW, seed=1, holdout_frequency=[0, 2, 0, 3, 1], include_latent=True)
    )
    # Mean of one transaction: E[z] = p gamma / (q - 1) over the population.
    big = simulate_gamma_gamma(np.ones(200_000), *CDNOW, seed=2)
    assert big["mean_spend"].mean() == pytest.approx(_pop_mean(*CDNOW), rel=0.02)
    with pytest.raises(ValueError, match="finite and positive"):
        simulate_gamma_gamma(x, 0.0, 1.0, 1.0, seed=1)
