"""Tests for the BG/NBD model (analytics.bgnbd).

Parameter sets (time unit: days):

* CDNOW -- the paper's estimates r=0.243, alpha=4.414 weeks (= 30.898 days), a=0.793,
  b=2.426 (Fader, Hardie & Lee 2005, LL=-9582.4 on the CDNOW sample, which is not shipped);
* SET2 -- a heavier-buying, slower-churning population.

Recovery tolerances were chosen from a 40-seed study (see the report in the commit):
relative error SDs were about 1% (r), 2% (alpha), 4-5% (a), 5-6% (b), so the bounds below
are 3.5-10 standard deviations wide and the tests are not seed-sensitive.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special

from analytics._numerics import flat_parameters
from analytics.bgnbd import (
    EXCLUDED_NOT_FINITE,
    EXCLUDED_OUTLIER,
    BgNbdExclusion,
    BgNbdFit,
    _e_alive_hyp,
    _e_alive_quad,
    _Objective,
    bgnbd_log_likelihood,
    expected_purchases,
    fit_bgnbd,
    p_alive,
    score_triples,
    simulate_bgnbd,
)

WEEK = 7.0
CDNOW = (0.243, 4.414 * WEEK, 0.793, 2.426)
SET2 = (1.2, 45.0, 1.6, 5.0)
TOL = {"r": 0.10, "alpha": 0.15, "a": 0.20, "b": 0.20}


def _fit_of(r: float, alpha: float, a: float, b: float) -> BgNbdFit:
    return BgNbdFit(r=r, alpha=alpha, a=a, b=b)


def _sim(params, n, t_range, seed, **kw):
    T = np.random.default_rng(10_000 + seed).uniform(*t_range, n)
    return simulate_bgnbd(n, *params, T, seed=seed, **kw)


# --------------------------------------------------------------------------- recovery


@pytest.mark.parametrize(
    ("params", "n", "t_range", "seed"),
    [
        pytest.param(CDNOW, 50_000, (27 * WEEK, 78 * WEEK), 11, id="cdnow"),
        pytest.param(SET2, 20_000, (180.0, 720.0), 12, id="set2"),
    ],
)
def test_parameter_recovery(params, n, t_range, seed):
    sim = _sim(params, n, t_range, seed)
    fit = fit_bgnbd(sim["frequency"], sim["recency"], sim["T"])
    assert fit.converged, fit.message
    assert (fit.n_customers, fit.n_fitted, fit.n_excluded, fit.excluded) == (n, n, 0, ())
    assert fit.unidentified == ()
    fitted = {"r": fit.r, "alpha": fit.alpha, "a": fit.a, "b": fit.b}
    for (name, true), got in zip(
        zip(("r", "alpha", "a", "b"), params, strict=True), fitted.values(), strict=True
    ):
        rel = abs(got / true - 1.0)
        print(f"{name}: true={true:.4g} fitted={got:.4g} rel.err={rel:.3f} (tol {TOL[name]})")
        assert rel < TOL[name], f"{name}: true {true}, fitted {got} (rel. error {rel:.3f})"
    # MLE: the likelihood at the estimate is at least the likelihood at the truth.
    ll_true = bgnbd_log_likelihood(sim["frequency"], sim["recency"], sim["T"], *params)
    assert fit.log_likelihood >= ll_true - 1e-6
    assert fit.log_likelihood == pytest.approx(
        bgnbd_log_likelihood(sim["frequency"], sim["recency"], sim["T"], fit.r, fit.alpha, fit.a, fit.b),
        rel=1e-12,
    )


def test_alpha_is_in_callers_time_unit():
    sim = _sim(CDNOW, 10_000, (189.0, 546.0), 3)
    days = fit_bgnbd(sim["frequency"], sim["recency"], sim["T"])
    weeks = fit_bgnbd(sim["frequency"], sim["recency"] / WEEK, sim["T"] / WEEK)
    assert days.alpha == pytest.approx(WEEK * weeks.alpha, rel=1e-4)
    for name in ("r", "a", "b"):
        assert getattr(days, name) == pytest.approx(getattr(weeks, name), rel=1e-4)
    # The likelihood is a density in the purchase times: LL_days = LL_weeks - sum(x) log 7.
    shift = float(sim["frequency"].sum()) * math.log(WEEK)
    assert days.log_likelihood == pytest.approx(weeks.log_likelihood - shift, rel=1e-9)
    # Predictions are unit-free given consistent inputs.
    x, tx, T = sim["frequency"][:50], sim["recency"][:50], sim["T"][:50]
    np.testing.assert_allclose(
        expected_purchases(days, 90.0, x, tx, T),
        expected_purchases(weeks, 90.0 / WEEK, x, tx / WEEK, T / WEEK),
        rtol=1e-3,
    )


def test_weights_equal_duplicated_rows():
    sim = _sim(SET2, 3_000, (180.0, 720.0), 4)
    w = np.random.default_rng(0).integers(1, 4, len(sim))
    rep = sim.loc[sim.index.repeat(w)]
    f_rep = fit_bgnbd(rep["frequency"], rep["recency"], rep["T"])
    f_w = fit_bgnbd(sim["frequency"], sim["recency"], sim["T"], weights=w)
    for name in ("r", "alpha", "a", "b", "log_likelihood"):
        assert getattr(f_w, name) == pytest.approx(getattr(f_rep, name), rel=1e-5)


def test_log_likelihood_matches_direct_formula():
    r, alpha, a, b = 0.5, 12.0, 0.9, 3.0
    for x, tx, T in [(0, 0.0, 40.0), (1, 10.0, 40.0), (4, 33.0, 40.0)]:
        beta_ratio = special.beta(a, b + x) / special.beta(a, b)
        gamma_part = special.gamma(r + x) * alpha**r / special.gamma(r)
        bracket = (alpha + T) ** -(r + x)
        if x > 0:
            bracket += a / (b + x - 1) * (alpha + tx) ** -(r + x)
        direct = math.log(beta_ratio * gamma_part * bracket)
        assert bgnbd_log_likelihood([x], [tx], [T], r, alpha, a, b) == pytest.approx(direct, rel=1e-12)


def test_analytic_gradient_matches_finite_differences():
    sim = _sim(CDNOW, 2_000, (189.0, 546.0), 5)
    x = sim["frequency"].to_numpy(float)
    scale = float(sim["T"].mean())
    obj = _Objective(x, sim["recency"].to_numpy() / scale, sim["T"].to_numpy() / scale, np.ones(len(x)), 0.01)
    theta = np.log([0.3, 0.2, 0.7, 2.0])
    _, grad = obj(theta)
    h = 1e-6
    num = np.array([(obj(theta + h * e)[0] - obj(theta - h * e)[0]) / (2 * h) for e in np.eye(4)])
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-8)


# --------------------------------------------------------------------------- simulation vs formulas


def test_simulation_matches_unconditional_expectation():
    # A new customer (x=0, t_x=0, T=0) has the prior: E[Y(t)] is the paper's eq. (9).
    r, alpha, a, b = CDNOW
    t = 365.0
    sim = simulate_bgnbd(60_000, r, alpha, a, b, t, seed=21)
    eq9 = (
        (a + b - 1)
        / (a - 1)
        * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1, t / (alpha + t)))
    )
    pred = float(expected_purchases(_fit_of(*CDNOW), t, 0, 0, 0))
    assert pred == pytest.approx(eq9, rel=1e-10)
    x = sim["frequency"].to_numpy()
    se = x.std() / math.sqrt(len(x))
    assert abs(x.mean() - pred) < 4 * se


@pytest.mark.parametrize("params", [CDNOW, SET2], ids=["cdnow", "set2"])
def test_conditional_expectation_and_p_alive_match_simulation(params):
    sim = _sim(params, 60_000, (189.0, 546.0), 22, holdout=180.0, include_latent=True)
    fit = _fit_of(*params)
    x, tx, T = sim["frequency"], sim["recency"], sim["T"]
    pred = expected_purchases(fit, 180.0, x, tx, T)
    pa = p_alive(fit, x, tx, T)
    y = sim["frequency_holdout"].to_numpy()
    alive = sim["alive"].to_numpy(float)
    buckets = np.digitize(x.to_numpy(), [1, 2, 3, 6, 15])
    for k in np.unique(buckets):
        m = buckets == k
        if m.sum() < 200:
            continue
        d = y[m] - pred[m]
        assert abs(d.mean()) < 4.5 * d.std() / math.sqrt(m.sum()) + 1e-3, f"E[Y] bucket {k}"
        da = alive[m] - pa[m]
        assert abs(da.mean()) < 4.5 * da.std() / math.sqrt(m.sum()) + 1e-3, f"P(alive) bucket {k}"


def test_simulation_shape_and_consistency():
    sim = simulate_bgnbd(5_000, *SET2, T=np.linspace(0, 800, 5_000), seed=1)
    assert list(sim.columns) == ["frequency", "recency", "T"]
    assert (sim["recency"] <= sim["T"]).all()
    assert ((sim["frequency"] == 0) == (sim["recency"] == 0)).all()
    again = simulate_bgnbd(5_000, *SET2, T=np.linspace(0, 800, 5_000), seed=1)
    assert sim.equals(again)


# --------------------------------------------------------------------------- P(alive)


def test_p_alive_properties():
    fit = _fit_of(*CDNOW)
    T = 300.0
    assert np.all(p_alive(fit, np.zeros(3), np.zeros(3), [0.0, 10.0, 3650.0]) == 1.0)
    for x in (1, 3, 10, 50):
        tx = np.linspace(1, T, 50)
        pa = p_alive(fit, np.full(50, x), tx, np.full(50, T))
        assert np.all((pa >= 0) & (pa <= 1))
        assert np.all(np.diff(pa) > 0), "more recent last purchase must mean higher P(alive)"
        # For the same (x, t_x), a longer silence since the last purchase lowers P(alive).
        later = p_alive(fit, np.full(50, x), tx, np.full(50, T + 100))
        assert np.all(later < pa)
    # Closed form, for one customer.
    r, alpha, a, b = CDNOW
    x, tx = 4, 120.0
    expect = 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x))
    assert float(p_alive(fit, x, tx, T)) == pytest.approx(expect, rel=1e-12)


def test_p_alive_extreme_histories_stay_in_unit_interval():
    fit = _fit_of(*CDNOW)
    x = np.array([1, 500, 2000, 2000, 500])
    tx = np.array([1.0, 1.0, 1.0, 3650.0, 3649.0])
    T = np.full(5, 3650.0)
    pa = p_alive(fit, x, tx, T)
    assert np.all(np.isfinite(pa)) and np.all((pa >= 0) & (pa <= 1))
    assert pa[2] < 1e-300 or pa[2] == 0.0  # 2000 purchases, then silent for 10 years
    assert pa[3] > 0.99


# --------------------------------------------------------------------------- expected purchases


def _reference_e_alive(r, alpha, a, b, x, T, t):
    """Independent quadrature of E[Y(t) | alive] = E_p[(1 - (1 + p t/(alpha+T))^-(r+x)) / p]."""
    n, tau = r + x, t / (alpha + T)

    def f(p):
        h = -math.expm1(-n * math.log1p(p * tau)) / p
        return h * math.exp((a - 1) * math.log(p) + (b + x - 1) * math.log1p(-p) - special.betaln(a, b + x))

    m = a / (a + b + x)
    knots = sorted({0.0, m / 100, m, min(1.0, 20 * m), 1.0})
    return sum(
        integrate.quad(f, lo, hi, limit=200, epsrel=1e-11)[0]
        for lo, hi in zip(knots[:-1], knots[1:], strict=True)
    )


@pytest.mark.parametrize("params", [CDNOW, SET2, (0.5, 5.0, 0.3, 0.7), (0.24, 1.0, 1.0, 2.4)])
def test_expected_purchases_matches_quadrature(params):
    fit = _fit_of(*params)
    for x, tx, T, t in [
        (0, 0, 0, 365),
        (0, 0, 200, 30),
        (2, 150, 200, 365),
        (30, 300, 365, 90),
        (500, 3600, 3650, 3650),
    ]:
        got = float(expected_purchases(fit, t, x, tx, T))
        ref = float(p_alive(fit, x, tx, T)) * _reference_e_alive(*params, x, T, t)
        assert got == pytest.approx(ref, rel=1e-6), (params, x, tx, T, t)


def test_expected_purchases_agrees_with_paper_eq10_where_hyp2f1_behaves():
    r, alpha, a, b = CDNOW
    fit = _fit_of(*CDNOW)
    for x, tx, T, t in [(0, 0, 100, 30), (1, 50, 100, 30), (3, 90, 200, 60)]:
        z = t / (alpha + T + t)
        num = (
            (a + b + x - 1)
            / (a - 1)
            * (
                1
                - ((alpha + T) / (alpha + T + t)) ** (r + x) * special.hyp2f1(r + x, b + x, a + b + x - 1, z)
            )
        )
        den = 1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x)
        assert float(expected_purchases(fit, t, x, tx, T)) == pytest.approx(num / den, rel=1e-9)


def test_expected_purchases_extreme_grid_is_finite_and_nonnegative():
    xs = np.array([0, 1, 2, 10, 100, 500])
    Ts = np.array([0.0, 1.0, 30.0, 365.0, 3650.0])
    fracs = np.array([0.0, 0.01, 0.5, 1.0])
    X, F, T, H = np.meshgrid(xs, fracs, Ts, [0.0, 1.0, 30.0, 365.0, 3650.0], indexing="ij")
    TX = np.where(X > 0, F * T, 0.0)
    for params in (CDNOW, SET2, (0.05, 0.5, 5.0, 50.0), (3.0, 0.01, 12.0, 0.05), (2.0, 50.0, 3.0, 8.0)):
        fit = _fit_of(*params)
        e = expected_purchases(fit, H, X, TX, T)
        pa = p_alive(fit, X, TX, T)
        assert e.shape == X.shape
        assert np.all(np.isfinite(e)) and np.all(e >= 0)
        assert np.all((pa >= 0) & (pa <= 1))
        assert np.all(e[..., 0] == 0)  # t = 0
        r, alpha = params[0], params[1]
        assert np.all(e <= (r + X) * H / (alpha + T) * (1 + 1e-9) + 1e-12)
        assert np.all(np.diff(e, axis=-1) >= -1e-9)  # non-decreasing in the horizon


def test_expected_purchases_increase_with_frequency_for_recent_customers():
    fit = _fit_of(*CDNOW)
    x = np.arange(0, 200)
    T = np.full(x.shape, 365.0)
    tx = np.where(x > 0, 360.0, 0.0)  # bought 5 days ago
    e = expected_purchases(fit, 90.0, x, tx, T)
    assert np.all(np.diff(e) > 0)


def test_quadrature_fallback_agrees_with_closed_form():
    # _e_alive_quad is the last-resort path of expected_purchases when hyp2f1 fails.
    for params in (CDNOW, SET2, (0.5, 5.0, 0.3, 0.8)):
        for x, T, t in [(0, 0.0, 365.0), (3, 200.0, 90.0), (500, 3650.0, 3650.0)]:
            closed = _e_alive_hyp(*params, np.array([float(x)]), np.array([T]), np.array([t]))[0]
            assert _e_alive_quad(*params, float(x), T, t) == pytest.approx(closed, rel=1e-7)


def test_expected_purchases_integer_c_minus_a_minus_b():
    # r - a integer makes c-A-B an integer in the transformed 2F1, where scipy's hyp2f1
    # returns NaN for large c; the fallback must give the continuous value.
    x, tx, T, t = np.array([100.0, 500.0]), np.array([0.0, 0.0]), np.array([0.0, 0.0]), 3650.0
    exact = expected_purchases(_fit_of(2.0, 50.0, 3.0, 8.0), t, x, tx + 0, T)
    near = expected_purchases(_fit_of(2.0 + 1e-6, 50.0, 3.0, 8.0), t, x, tx, T)
    assert np.all(np.isfinite(exact))
    np.testing.assert_allclose(exact, near, rtol=1e-5)


def test_expected_purchases_when_a_plus_b_is_one():
    # c = a + b + x - 1 = 0 for x = 0: a pole of the transformed 2F1, removable in E[Y].
    x, tx, T = np.array([0, 0, 1]), np.array([0.0, 0.0, 50.0]), np.array([0.0, 100.0, 100.0])
    exact = expected_purchases(_fit_of(0.5, 5.0, 0.25, 0.75), 365.0, x, tx, T)
    near = expected_purchases(_fit_of(0.5, 5.0, 0.25, 0.75 + 1e-6), 365.0, x, tx, T)
    assert np.all(np.isfinite(exact))
    np.testing.assert_allclose(exact, near, rtol=1e-5)


def test_expected_purchases_continuous_through_a_equal_one():
    args = (90.0, np.array([0, 1, 10]), np.array([0.0, 100.0, 300.0]), np.array([300.0, 300.0, 300.0]))
    at_one = expected_purchases(_fit_of(0.24, 30.0, 1.0, 2.4), *args)
    for a in (1 - 1e-3, 1 + 1e-3, 1 + 3e-5):
        np.testing.assert_allclose(expected_purchases(_fit_of(0.24, 30.0, a, 2.4), *args), at_one, rtol=2e-3)


def test_expected_purchases_broadcasts_scalars():
    fit = _fit_of(*CDNOW)
    scalar = expected_purchases(fit, 30.0, 2, 100.0, 200.0)
    assert np.ndim(scalar) == 0
    vec = expected_purchases(fit, [30.0, 60.0], 2, 100.0, 200.0)
    assert vec.shape == (2,) and vec[1] > vec[0] and vec[0] == pytest.approx(float(scalar))


# --------------------------------------------------------------------------- robustness


def test_no_repeat_purchases_is_not_informative_but_finite():
    T = np.random.default_rng(0).uniform(1, 400, 5_000)
    fit = fit_bgnbd(np.zeros_like(T), np.zeros_like(T), T)
    assert not fit.converged
    assert "not informative" in fit.message
    params = np.array([fit.r, fit.alpha, fit.a, fit.b])
    assert np.all(np.isfinite(params)) and np.all(params > 0)
    assert np.isfinite(fit.log_likelihood)
    assert float(expected_purchases(fit, 365.0, 0, 0, 100.0)) < 1e-3
    assert float(p_alive(fit, 0, 0, 100.0)) == 1.0


def test_single_customer_and_zero_T():
    fit = fit_bgnbd([0], [0.0], [0.0])
    assert not fit.converged and "not informative" in fit.message
    assert all(math.isfinite(v) for v in (fit.r, fit.alpha, fit.a, fit.b, fit.log_likelihood))


def test_genuine_heavy_buyer_is_fitted_not_excluded():
    # Issue 17: on a real purchase log the former default outlier guard dropped a genuine heavy buyer
    # (179 orders in 405 days) from a population of occasional buyers.  Fitting on everyone keeps them.
    params = (0.8, 80.0, 0.5, 3.0)
    sim = _sim(params, 20_000, (1.0, 405.0), 13)
    assert sim["frequency"].max() < 60
    base = fit_bgnbd(sim["frequency"], sim["recency"], sim["T"])
    x, tx, T = np.r_[sim["frequency"], 178], np.r_[sim["recency"], 403.0], np.r_[sim["T"], 405.0]
    fit = fit_bgnbd(x, tx, T)
    assert fit.converged, fit.message
    assert (fit.n_customers, fit.n_fitted, fit.n_excluded, fit.excluded) == (20_001, 20_001, 0, ())
    assert "exclu" not in fit.message
    assert fit.log_likelihood == pytest.approx(bgnbd_log_likelihood(x, tx, T, fit.r, fit.alpha, fit.a, fit.b))
    for name, true in zip(("r", "alpha", "a", "b"), params, strict=True):
        assert getattr(fit, name) == pytest.approx(getattr(base, name), rel=0.03), name
        assert getattr(fit, name) == pytest.approx(true, rel=TOL[name]), name
    # The heavy buyer bought two days ago: alive, and expected to keep close to their pace: below the
    # no-dropout bound (r + x) t / (alpha + T) (~33 in 90 days) by the small chance of leaving meanwhile.
    assert float(p_alive(fit, 178, 403.0, 405.0)) > 0.99
    bound = (fit.r + 178) * 90.0 / (fit.alpha + 405.0)
    assert 0.85 * bound < float(expected_purchases(fit, 90.0, 178, 403.0, 405.0)) < bound
    # The opt-in outlier guard is what used to drop them: it still does, and says so.
    guarded = fit_bgnbd(x, tx, T, trim_outliers=True)
    assert guarded.excluded == (BgNbdExclusion(178.0, 403.0, 405.0, 1, EXCLUDED_OUTLIER),)
    assert (guarded.n_fitted, guarded.n_excluded) == (20_000, 1)


def test_outlier_guard_reports_what_it_excludes_and_likelihood_covers_the_fitted_rows():
    sim = _sim(CDNOW, 20_000, (189.0, 546.0), 7)
    base = fit_bgnbd(sim["frequency"], sim["recency"], sim["T"])
    # A bot: 2,000 purchases in the first 10 days, twice (weight 2), as orders not collapsed to days.
    x, tx, T = np.r_[sim["frequency"], 2000], np.r_[sim["recency"], 10.0], np.r_[sim["T"], 546.0]
    w = np.r_[np.ones(len(sim)), 2]
    raw = fit_bgnbd(x, tx, T, weights=w)
    assert raw.converged and np.isfinite(raw.log_likelihood)
    assert (raw.n_customers, raw.n_fitted, raw.n_excluded) == (20_002, 20_002, 0)
    assert raw.r < 0.9 * base.r  # included, the bot drags the purchase-rate distribution
    guarded = fit_bgnbd(x, tx, T, weights=w, trim_outliers=True)
    assert guarded.converged, guarded.message
    assert guarded.excluded == (BgNbdExclusion(2000.0, 10.0, 546.0, 2, EXCLUDED_OUTLIER),)
    assert (guarded.n_customers, guarded.n_fitted, guarded.n_excluded) == (20_002, 20_000, 2)
    assert "excluded 2 of 20,002 customers from the fit: 2 implausible purchase count" in guarded.message
    for name in ("r", "alpha", "a", "b"):
        assert getattr(guarded, name) == pytest.approx(getattr(base, name), rel=1e-3), name
    # The stored log-likelihood is the one of the fitted population, not of everyone given.
    params = (guarded.r, guarded.alpha, guarded.a, guarded.b)
    ll_fitted = bgnbd_log_likelihood(sim["frequency"], sim["recency"], sim["T"], *params)
    assert guarded.log_likelihood == pytest.approx(ll_fitted, rel=1e-12)
    assert abs(guarded.log_likelihood - bgnbd_log_likelihood(x, tx, T, *params, weights=w)) > 100
    # Scoring the excluded customer is well defined.
    assert np.isfinite(expected_purchases(guarded, 365.0, 2000, 10.0, 546.0))


def test_outlier_guard_is_silent_on_model_data():
    sim = _sim(SET2, 20_000, (30.0, 900.0), 8)
    fit = fit_bgnbd(sim["frequency"], sim["recency"], sim["T"], trim_outliers=True)
    assert fit.n_excluded == 0 and fit.excluded == ()
    assert "exclu" not in fit.message


def test_numerical_safeguard_excludes_only_rows_with_no_finite_likelihood():
    # A count around 1e306 overflows the log-gamma terms: that one row would make the whole objective NaN.
    sim = _sim(SET2, 5_000, (180.0, 720.0), 14)
    base = fit_bgnbd(sim["frequency"], sim["recency"], sim["T"])
    x, tx, T = np.r_[sim["frequency"], 1e306], np.r_[sim["recency"], 700.0], np.r_[sim["T"], 720.0]
    fit = fit_bgnbd(x, tx, T, weights=np.r_[np.ones(len(sim)), 3])
    assert fit.excluded == (BgNbdExclusion(1e306, 700.0, 720.0, 3, EXCLUDED_NOT_FINITE),)
    assert (fit.n_customers, fit.n_fitted, fit.n_excluded) == (5_003, 5_000, 3)
    assert "excluded 3 of 5,003 customers from the fit: 3 log-likelihood not finite" in fit.message
    assert fit.log_likelihood == pytest.approx(base.log_likelihood, rel=1e-9)
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fit, name) == pytest.approx(getattr(base, name), rel=1e-6), name
    with pytest.raises(ValueError, match="no customer could be fitted"):
        fit_bgnbd([1e306], [1.0], [2.0])


def test_long_histories():
    sim = _sim(SET2, 10_000, (365.0, 3650.0), 9)
    assert sim["frequency"].max() > 100
    fit = fit_bgnbd(sim["frequency"], sim["recency"], sim["T"])
    assert fit.converged, fit.message
    for name, true in zip(("r", "alpha", "a", "b"), SET2, strict=True):
        assert getattr(fit, name) == pytest.approx(true, rel=0.25)
    e = expected_purchases(fit, 3650.0, sim["frequency"], sim["recency"], sim["T"])
    assert np.all(np.isfinite(e)) and np.all(e >= 0)


def test_flat_likelihood_is_reported_and_penalizer_regularizes():
    # Nearly homogeneous purchase rates (r, alpha -> infinity with r/alpha = 1/30 per day): the MLE goes
    # to infinity along a ridge; the fit names r and alpha as unidentified, a penalizer pins them.
    sim = simulate_bgnbd(
        5_000, 1e4, 1e4 * 30.0, 0.8, 2.4, np.random.default_rng(0).uniform(189, 546, 5_000), 1
    )
    raw = fit_bgnbd(sim["frequency"], sim["recency"], sim["T"])
    assert raw.unidentified == ("r", "alpha")
    assert "drifting towards 0 or infinity: r, alpha" in raw.message
    assert raw.r > 1e3 and raw.r / raw.alpha == pytest.approx(1 / 30.0, rel=0.05)
    pen = fit_bgnbd(sim["frequency"], sim["recency"], sim["T"], penalizer=1e-3)
    assert pen.converged and pen.unidentified == ()
    assert "drifting" not in pen.message and "bound" not in pen.message
    assert pen.r < 1e3 and pen.r / pen.alpha == pytest.approx(1 / 30.0, rel=0.05)
    assert pen.log_likelihood <= raw.log_likelihood
    # Predictions remain usable on the ridge: both fits rank and total the customers' futures alike.
    x, tx, T = sim["frequency"][:500], sim["recency"][:500], sim["T"][:500]
    e_raw, e_pen = expected_purchases(raw, 180.0, x, tx, T), expected_purchases(pen, 180.0, x, tx, T)
    assert np.corrcoef(e_raw, e_pen)[0, 1] > 0.99
    assert e_raw.sum() == pytest.approx(e_pen.sum(), rel=0.02)


def test_flat_diagnosis_does_not_depend_on_where_the_optimizer_stops():
    # Optimizer versions stop at different points of a ridge (before the bound, at it): the diagnosis
    # looks at the likelihood around the estimate, so every point of the ridge gives the same answer.
    sim = simulate_bgnbd(
        5_000, 1e4, 1e4 * 30.0, 0.8, 2.4, np.random.default_rng(0).uniform(189, 546, 5_000), 1
    )
    x = sim["frequency"].to_numpy(float)
    scale = float(sim["T"].mean())
    obj = _Objective(x, sim["recency"].to_numpy() / scale, sim["T"].to_numpy() / scale, np.ones(len(x)), 0.0)
    ratio = math.log(scale / 30.0)  # log(r) - log(alpha) in internal units on the ridge
    for log_r in (4.0, 7.0, 10.0, 13.0, 15.0):
        theta = np.array([log_r, log_r - ratio, math.log(0.8), math.log(2.4)])
        assert flat_parameters(obj, theta, len(x), ("r", "alpha", "a", "b")) == ("r", "alpha"), log_r
    # An identified maximum is not flat.
    sim = _sim(CDNOW, 5_000, (189.0, 546.0), 15)
    fit = fit_bgnbd(sim["frequency"], sim["recency"], sim["T"])
    assert fit.unidentified == () and "drifting" not in fit.message


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"frequency": [], "recency": [], "T": []}, "empty"),
        ({"frequency": [1, np.nan], "recency": [1, 0], "T": [5, 5]}, "frequency contains 1 NaN"),
        ({"frequency": [1, 2], "recency": [1, np.nan], "T": [5, 5]}, "recency contains 1 NaN"),
        ({"frequency": [1, 2], "recency": [1, 2], "T": [5, np.inf]}, "T contains 1 infinite"),
        ({"frequency": [-1, 2], "recency": [1, 2], "T": [5, 5]}, "frequency contains 1 negative"),
        ({"frequency": [1, 2], "recency": [-1, 2], "T": [5, 5]}, "recency contains 1 negative"),
        ({"frequency": [1, 2], "recency": [1, 2], "T": [-5, 5]}, "T contains 1 negative"),
        ({"frequency": [1, 2], "recency": [6, 2], "T": [5, 5]}, "recency exceeds T for 1"),
        ({"frequency": [0, 2], "recency": [3, 2], "T": [5, 5]}, "recency must be 0 when frequency is 0"),
        ({"frequency": [1.5, 2], "recency": [3, 2], "T": [5, 5]}, "whole numbers"),
        ({"frequency": [1, 2, 3], "recency": [3, 2], "T": [5, 5]}, "same length"),
        (
            {"frequency": [1, 2], "recency": [1, 2], "T": [5, 5], "weights": [1, -1]},
            "weights contains 1 negative",
        ),
        ({"frequency": [1, 2], "recency": [1, 2], "T": [5, 5], "weights": [0, 0]}, "all zero"),
        ({"frequency": [1, 2], "recency": [1, 2], "T": [5, 5], "weights": [1, 0.5]}, "customer counts"),
    ],
)
def test_invalid_input_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_bgnbd(**kwargs)


def test_dataframe_transpose_pitfall_is_explained():
    sim = _sim(SET2, 10, (180.0, 720.0), 1)
    with pytest.raises(ValueError, match=r"df\.T is the transpose"):
        fit_bgnbd(sim["frequency"], sim["recency"], sim.T)


def test_prediction_input_validation():
    fit = _fit_of(*CDNOW)
    with pytest.raises(ValueError, match="recency exceeds T"):
        p_alive(fit, [1], [10.0], [5.0])
    with pytest.raises(ValueError, match="t contains 1 negative"):
        expected_purchases(fit, -1.0, [1], [1.0], [5.0])
    with pytest.raises(ValueError, match="empty"):
        expected_purchases(fit, 1.0, [], [], [])
    with pytest.raises(ValueError, match="finite and positive"):
        p_alive(_fit_of(float("nan"), 1.0, 1.0, 1.0), [1], [1.0], [5.0])


def test_fit_one_million_customers():
    # Integer-day data as produced by the pipeline (distinct purchase days); speed is measured in benchmarks/.
    n = 1_000_000
    T = np.random.default_rng(0).integers(1, 1096, n).astype(float)
    sim = simulate_bgnbd(n, *CDNOW, T, seed=3)
    x = sim["frequency"].to_numpy()
    tx = np.minimum(np.where(x > 0, np.maximum(np.floor(sim["recency"].to_numpy()), 1.0), 0.0), T)
    fit = fit_bgnbd(x, tx, T)
    assert fit.converged, fit.message
    for name, true in zip(("r", "alpha", "a", "b"), CDNOW, strict=True):
        assert getattr(fit, name) == pytest.approx(true, rel=0.05)


# --------------------------------------------------------------------------- fitting and scoring by triple


def _triples(sim):
    """The distinct integer-day (frequency, recency_days, age_days) with customer counts, as the warehouse has them."""
    days = pd.DataFrame(
        {
            "frequency": sim["frequency"].to_numpy(),
            "recency_days": np.floor(sim["recency"].to_numpy()),
            "age_days": np.ceil(sim["T"].to_numpy()),
        }
    )
    return days, days.groupby(["frequency", "recency_days", "age_days"], as_index=False).size()


def test_fit_on_distinct_triples_with_counts_equals_fit_per_customer():
    days, triples = _triples(_sim(CDNOW, 30_000, (189.0, 546.0), 16))
    assert len(triples) < len(days) / 2
    per_customer = fit_bgnbd(days["frequency"], days["recency_days"], days["age_days"])
    by_triple = fit_bgnbd(
        triples["frequency"], triples["recency_days"], triples["age_days"], weights=triples["size"]
    )
    assert (by_triple.n_customers, by_triple.n_fitted) == (30_000, 30_000)
    for name in ("r", "alpha", "a", "b", "log_likelihood"):
        assert getattr(by_triple, name) == pytest.approx(getattr(per_customer, name), rel=1e-9), name


def test_score_triples_is_the_joinable_scoring_table():
    days, triples = _triples(_sim(CDNOW, 5_000, (189.0, 546.0), 17))
    triples = triples.sample(frac=1.0, random_state=0)  # any order; the keys come back as given
    fit = fit_bgnbd(
        triples["frequency"], triples["recency_days"], triples["age_days"], weights=triples["size"]
    )
    table = score_triples(fit, triples, 90.0)
    assert list(table.columns) == ["frequency", "recency_days", "age_days", "p_alive", "expected_purchases"]
    assert table["frequency"].dtype == triples["frequency"].dtype
    pd.testing.assert_frame_equal(
        table[["frequency", "recency_days", "age_days"]],
        triples[["frequency", "recency_days", "age_days"]].reset_index(drop=True),
    )
    x, tx, T = (triples[c].to_numpy(float) for c in ("frequency", "recency_days", "age_days"))
    np.testing.assert_array_equal(table["p_alive"], p_alive(fit, x, tx, T))
    np.testing.assert_array_equal(table["expected_purchases"], expected_purchases(fit, 90.0, x, tx, T))
    # Joined back to the customers, the scores equal scoring every customer directly.
    joined = days.merge(
        table, on=["frequency", "recency_days", "age_days"], how="left", validate="many_to_one"
    )
    direct = expected_purchases(fit, 90.0, days["frequency"], days["recency_days"], days["age_days"])
    np.testing.assert_allclose(joined["expected_purchases"], direct, rtol=1e-12)


def test_score_triples_rejects_duplicates_and_missing_columns():
    fit = _fit_of(*CDNOW)
    dup = pd.DataFrame({"frequency": [1, 1, 2], "recency_days": [5, 5, 5], "age_days": [9, 9, 9]})
    with pytest.raises(ValueError, match="1 row"):
        score_triples(fit, dup, 90.0)
    with pytest.raises(ValueError, match="lacks column.*age_days"):
        score_triples(fit, dup.drop(columns="age_days"), 90.0)
    empty = score_triples(fit, dup.iloc[:0], 90.0)
    assert empty.empty and list(empty.columns)[-2:] == ["p_alive", "expected_purchases"]


def test_p_alive_sql_recipe_in_the_docstring_matches_to_1e_9():
    # The SQL model copies the closed form from p_alive's docstring; run that recipe in DuckDB.
    r, alpha, a, b = 0.243, 30.898, 0.793, 2.426
    fit = _fit_of(r, alpha, a, b)
    xs = np.array([0, 0, 1, 1, 3, 10, 50, 500, 2000, 2000])
    txs = np.array([0, 0, 1, 300, 120, 360, 3000, 1, 1, 3650], dtype=float)
    Ts = np.array([0, 400, 1, 400, 365, 365, 3650, 3650, 3650, 3650], dtype=float)
    con = duckdb.connect()
    con.register("t", pd.DataFrame({"frequency": xs, "recency_days": txs, "age_days": Ts}))
    sql = f"""
        select case when frequency = 0 then 1.0
                    else 1.0 / (1.0 + exp(least(
                        ln({a}) - ln({b} + frequency - 1)
                        + ({r} + frequency) * (ln({alpha} + age_days) - ln({alpha} + recency_days)),
                        700.0))) end as p_alive
        from t
    """
    got = con.sql(sql).df()["p_alive"].to_numpy()
    assert "least(L, 700.0)" in p_alive.__doc__
    np.testing.assert_allclose(got, p_alive(fit, xs, txs, Ts), rtol=0, atol=1e-9)
    assert got[-2] < 1e-300 and got[0] == 1.0
