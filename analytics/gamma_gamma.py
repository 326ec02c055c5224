"""Gamma-Gamma model: how much a customer is expected to spend per purchase.

In plain words.  Each customer has a typical order value of their own, and their individual orders
scatter around it.  A customer's average so far is a noisy guess of that typical value: after two orders
it says little, after twenty it says a lot.  The model learns, from all repeat buyers, how typical order
values vary across the customer base, and then estimates each customer's expected order value as a blend
of their own average and the average of the whole base, trusting their own average more the more orders
it rests on.  A customer who bought only once (no repeat purchase yet) gets the average of the base.

The model assumes that how much someone spends per order has nothing to do with how often they order.
The fit reports the correlation between the two among the fitted customers
(``spend_frequency_correlation``) so that this can be recorded and watched: near 0 is what the model
expects; a strong correlation means the blend above is biased for frequent (or infrequent) buyers.

Inputs per customer, as in the pipeline:

* ``frequency`` ``x`` -- the number of repeat purchases (as for BG/NBD);
* ``mean_spend`` ``m_x`` -- the mean spend of those repeat purchases, net of refunds, in the reporting
  currency (ignored when ``x == 0``).

Only repeat buyers with a positive mean spend enter the fit.  Repeat buyers with zero spend (free
orders) or negative net spend (refunds larger than purchases) cannot be described by a gamma
distribution: they are left out of the fit, counted in ``n_excluded`` and named with their reason in
``excluded``; they are still scored (see :func:`conditional_expected_spend`).  With fewer than
``min_repeat_buyers`` fitted customers the fit is reported as not informative, and everyone gets the
mean spend of the repeat buyers (the population default).

Model (Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "RFM and CLV: Using Iso-Value Curves for
Customer Base Analysis". Journal of Marketing Research 42(4); and Fader & Hardie (2013), "The Gamma-Gamma
Model of Monetary Value"):

* a customer's transaction values are ``z ~ Gamma(shape=p, rate=nu)``, so their mean order value is
  ``p / nu``;
* ``nu ~ Gamma(shape=q, rate=gamma)`` across customers, so the population mean order value is
  ``E[M] = p * gamma / (q - 1)`` (finite when ``q > 1``).

``gamma`` is in currency units; ``p`` and ``q`` are dimensionless.  The paper's CDNOW estimates are
``p = 6.25, q = 3.74, gamma = 15.44`` (US dollars); the tests check recovery on data simulated from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import special

from analytics._numerics import (
    FitDiagnostics,
    as_float_array,
    check_finite_nonneg,
    check_penalizer,
    check_whole,
    count_nonfinite,
    exclusion_summary,
    identification,
    minimize,
    validate_counts,
    weighted_pearson,
    wsum,
)

__all__ = [
    "EXCLUDED_NEGATIVE_SPEND",
    "EXCLUDED_ZERO_SPEND",
    "GammaGammaFit",
    "SpendExclusion",
    "conditional_expected_spend",
    "fit_gamma_gamma",
    "gamma_gamma_log_likelihood",
    "simulate_gamma_gamma",
]

_PARAM_NAMES = ("p", "q", "gamma")

EXCLUDED_ZERO_SPEND = "zero spend"
EXCLUDED_NEGATIVE_SPEND = "negative net spend (refunds exceed purchases)"


class SpendExclusion(NamedTuple):
    """A distinct (frequency, mean_spend) of repeat buyers left out of the fit, with the customers and why."""

    frequency: float
    mean_spend: float
    customers: int
    reason: str


@dataclass(frozen=True)
class GammaGammaFit(FitDiagnostics):
    """Result of :func:`fit_gamma_gamma` (or known parameters, for scoring: p, q and gamma suffice).

    Attributes:
        p, q, gamma: the model's parameters (``gamma`` in currency units); NaN when not informative.
        spend_frequency_correlation: weighted Pearson correlation of ``frequency`` and ``mean_spend``
            over the fitted customers (independence check; NaN with fewer than two distinct values).
        informative: ``False`` when fewer than ``min_repeat_buyers`` customers could be fitted; every
            customer then gets ``default_mean``.
        default_mean: weighted mean of the fitted customers' mean spend (NaN when there are none); the
            population mean whenever the model cannot give one (not informative, or ``q <= 1``).

    and the diagnostics of :class:`FitDiagnostics` (keyword-only): ``n_customers`` counts every customer
    given, repeat buyer or not; ``n_fitted`` the repeat buyers with a positive mean spend (the population
    the parameters describe); ``excluded`` holds :class:`SpendExclusion` rows (zero or negative spend).
    """

    p: float
    q: float
    gamma: float
    spend_frequency_correlation: float = math.nan
    informative: bool = True
    default_mean: float = math.nan

    @property
    def population_mean(self) -> float:
        """Expected order value of a customer we know nothing about: ``p * gamma / (q - 1)``.

        Falls back to ``default_mean`` when the fit is not informative or ``q <= 1`` (the model's mean
        is then infinite, a sign of a very heavy tail of order values).
        """
        if self.informative and math.isfinite(self.q) and self.q > 1:
            return float(self.p * self.gamma / (self.q - 1.0))
        return float(self.default_mean)


# --------------------------------------------------------------------------- validation


def _validate_xm(frequency: object, mean_spend: object, *, require_1d: bool) -> tuple[np.ndarray, np.ndarray]:
    x = as_float_array(frequency, "frequency")
    m = as_float_array(mean_spend, "mean_spend")
    if require_1d:
        if x.ndim != 1 or m.ndim != 1:
            raise ValueError(
                f"frequency and mean_spend must be one-dimensional, got shapes {x.shape}, {m.shape}"
            )
        if len(x) != len(m):
            raise ValueError(f"frequency and mean_spend must have the same length (got {len(x)}, {len(m)})")
    else:
        try:
            x, m = np.broadcast_arrays(x, m)
        except ValueError as exc:
            raise ValueError(f"frequency and mean_spend have incompatible shapes: {exc}") from exc
    if x.size == 0:
        raise ValueError("empty input: at least one customer (frequency, mean_spend) is required")
    check_finite_nonneg(x, "frequency")
    check_whole(x, "frequency", "repeat-purchase counts")
    repeat = x > 0
    n_missing = int(np.count_nonzero(repeat & np.isnan(m)))
    if n_missing:
        raise ValueError(
            f"mean_spend is missing for {n_missing} repeat buyer(s) (frequency > 0); "
            "it may be missing only where frequency is 0"
        )
    count_nonfinite(np.where(repeat, m, 0.0), "mean_spend")
    return x, m


def _params(fit: GammaGammaFit) -> tuple[float, float, float]:
    vals = (float(fit.p), float(fit.q), float(fit.gamma))
    if not all(math.isfinite(v) and v > 0 for v in vals):
        raise ValueError(f"Gamma-Gamma parameters must be finite and positive, got p, q, gamma = {vals}")
    return vals


# --------------------------------------------------------------------------- likelihood


def _loglik_terms(p: float, q: float, gamma: float, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per-customer log-density of the mean spend ``m_x`` given ``x`` (x >= 1, m > 0)."""
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + x * m)
    )


def gamma_gamma_log_likelihood(
    frequency: object, mean_spend: object, p: float, q: float, gamma: float, *, weights: object | None = None
) -> float:
    """Total Gamma-Gamma log-likelihood of repeat buyers' mean spend at the given parameters.

    ``log f(m_x | x) = log Gamma(px+q) - log Gamma(px) - log Gamma(q) + q log(gamma)
    + (px-1) log(m_x) + px log(x) - (px+q) log(gamma + x m_x)``

    Every row must be a repeat buyer (``frequency >= 1``) with ``mean_spend > 0``; ``weights`` are
    customer counts per row.
    """
    x, m = _validate_xm(frequency, mean_spend, require_1d=True)
    if np.any(x < 1) or np.any(m <= 0):
        raise ValueError("every row must have frequency >= 1 and mean_spend > 0")
    vals = _params(GammaGammaFit(p=p, q=q, gamma=gamma))
    w = validate_counts(weights, len(x))
    return wsum(w, _loglik_terms(*vals, x, m))


class _Objective:
    """Weighted mean negative log-likelihood with analytic gradient over (log p, log q, log gamma).

    Per row the log-density is rewritten without large cancelling terms as

        lgamma(px + q) - lgamma(px) - lgamma(q) - q log1p(x m / gamma) - px log1p(gamma / (x m)) - log(m);

    the log-gamma and digamma terms depend on ``x`` alone and are evaluated once per distinct ``x``, the
    ``log(m)`` term is a constant, so per row only two ``log1p`` and a few divisions remain.
    """

    def __init__(self, x: np.ndarray, m: np.ndarray, w: np.ndarray, penalizer: float) -> None:
        self.total_w = float(np.sum(w))
        self.penalizer = penalizer
        self.ux, inverse = np.unique(x, return_inverse=True)
        self.wux = np.bincount(inverse, weights=w, minlength=len(self.ux))  # weight per distinct x
        self.xm = x * m
        self.w, self.wx = w, w * x
        self.sum_w_log_m = wsum(w, np.log(m))

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, gamma = np.exp(theta)
        big_w, pux, xm = self.total_w, p * self.ux, self.xm
        l_q = np.log1p(xm / gamma)  # log((gamma + x m) / gamma)
        l_p = np.log1p(gamma / xm)  # log((gamma + x m) / (x m))
        inv_g = 1.0 / (gamma + xm)
        sum_wx_lp, sum_w_lq = wsum(self.wx, l_p), wsum(self.w, l_q)
        ll = (
            wsum(self.wux, special.gammaln(pux + q) - special.gammaln(pux))
            - big_w * special.gammaln(q)
            - q * sum_w_lq
            - p * sum_wx_lp
            - self.sum_w_log_m
        )
        dig = special.digamma(pux + q)
        g_p = wsum(self.wux * self.ux, dig - special.digamma(pux)) - sum_wx_lp
        g_q = wsum(self.wux, dig) - big_w * special.digamma(q) - sum_w_lq
        # d/dgamma per row: q/gamma - (px + q)/(gamma + x m) = (q/gamma) x m/(gamma + x m) - px/(gamma + x m)
        g_gamma = q / gamma * wsum(self.w, xm * inv_g) - p * wsum(self.wx, inv_g)
        f = -ll / big_w
        g = -np.array([g_p * p, g_q * q, g_gamma * gamma]) / big_w
        if self.penalizer:
            f += self.penalizer * wsum(theta, theta)
            g = g + 2.0 * self.penalizer * theta
        return f, g


# --------------------------------------------------------------------------- fit


def _compress(x: np.ndarray, m: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (x, m) rows of the repeat buyers with their summed weights (zero weights dropped)."""
    keep = (w > 0) & (x > 0)
    g = pd.DataFrame({"x": x[keep], "m": m[keep], "w": w[keep]}).groupby(["x", "m"], sort=True)["w"].sum()
    return (
        g.index.get_level_values(0).to_numpy(dtype=float),
        g.index.get_level_values(1).to_numpy(dtype=float),
        g.to_numpy(dtype=float),
    )


def fit_gamma_gamma(
    frequency: object,
    mean_spend: object,
    *,
    weights: object | None = None,
    min_repeat_buyers: int = 50,
    penalizer: float = 0.0,
    maxiter: int = 2000,
) -> GammaGammaFit:
    """Fit the Gamma-Gamma spend model by maximum likelihood on the repeat buyers.

    Customers with ``frequency == 0`` are counted in ``n_customers`` but carry no spend information for
    the model (their ``mean_spend`` is ignored and may be NaN).  Repeat buyers with ``mean_spend <= 0``
    are left out of the fit and reported in ``excluded`` (see the module docstring); the rest, ``n_fitted``
    customers, are fitted by L-BFGS-B over the log-parameters with an analytic gradient, spend rescaled
    internally by its mean.  Passing distinct (frequency, mean_spend) pairs with their customer counts as
    ``weights`` gives the same fit as passing every customer.

    Args:
        frequency: repeat-purchase counts ``x`` (whole numbers >= 0).
        mean_spend: mean spend of the repeat purchases, net of refunds; required (finite) where x >= 1.
        weights: optional customer counts per row (whole numbers >= 0).
        min_repeat_buyers: below this many fitted customers the fit is not attempted: ``informative`` is
            ``False``, the parameters are NaN and everyone gets ``default_mean``.
        penalizer: optional L2 penalty on the log-parameters added to the mean negative log-likelihood
            (default 0, plain MLE); useful when spend barely varies across customers, where
            ``q, gamma -> infinity`` at a fixed ``gamma / (q - 1)`` (``unidentified`` then names them).
        maxiter: optimizer iteration cap.

    Returns:
        :class:`GammaGammaFit`, with ``log_likelihood`` over exactly the ``n_fitted`` customers and the
        independence check ``spend_frequency_correlation``.

    Raises:
        ValueError: empty input, NaN/inf/negative/fractional frequency, missing or infinite mean spend for
            a repeat buyer, bad weights, ``min_repeat_buyers < 1``.
    """
    x, m = _validate_xm(frequency, mean_spend, require_1d=True)
    w = validate_counts(weights, len(x))
    check_penalizer(penalizer)
    if min_repeat_buyers < 1:
        raise ValueError(f"min_repeat_buyers must be >= 1, got {min_repeat_buyers}")
    n_customers = int(round(float(np.sum(w))))

    xc, mc, wc = _compress(x, m, w)
    positive = mc > 0
    excluded = tuple(
        SpendExclusion(
            float(xc[i]),
            float(mc[i]),
            int(round(wc[i])),
            EXCLUDED_ZERO_SPEND if mc[i] == 0 else EXCLUDED_NEGATIVE_SPEND,
        )
        for i in np.flatnonzero(~positive)
    )
    n_excluded = sum(e.customers for e in excluded)
    xf, mf, wf = xc[positive], mc[positive], wc[positive]
    n_fitted = int(round(float(np.sum(wf))))
    default_mean = wsum(wf, mf) / float(np.sum(wf)) if n_fitted else math.nan
    common = {
        "n_customers": n_customers,
        "n_fitted": n_fitted,
        "n_excluded": n_excluded,
        "excluded": excluded,
        "spend_frequency_correlation": weighted_pearson(xf, mf, wf) if n_fitted else math.nan,
        "default_mean": default_mean,
    }
    notes = [exclusion_summary(excluded, n_fitted + n_excluded, "repeat buyers")] if excluded else []

    if n_fitted < min_repeat_buyers:
        default = (
            "no spend estimate" if n_fitted == 0 else "everyone gets their mean spend (population default)"
        )
        return GammaGammaFit(
            p=math.nan,
            q=math.nan,
            gamma=math.nan,
            informative=False,
            message="; ".join(
                [
                    f"not informative: {n_fitted:,} repeat buyer(s) with positive spend, fewer than "
                    f"min_repeat_buyers={min_repeat_buyers}: {default}",
                    *notes,
                ]
            ),
            **common,
        )

    scale = default_mean
    objective = _Objective(xf, mf / scale, wf, penalizer)
    # Start: p = 1, q = 2, gamma such that the population mean p gamma / (q - 1) is the observed mean.
    theta, converged, opt_msg = minimize(objective, np.log([1.0, 2.0, 1.0]), maxiter)
    p, q, gamma_s = (float(v) for v in np.exp(theta))
    gamma = gamma_s * scale
    ll = wsum(wf, _loglik_terms(p, q, gamma, xf, mf))
    unidentified, identification_notes = identification(objective, theta, objective.total_w, _PARAM_NAMES)
    msgs = [opt_msg, *identification_notes, *notes]
    if q <= 1:
        msgs.append("q <= 1: the model's population mean is infinite; default_mean is used for it")
    return GammaGammaFit(
        p=p,
        q=q,
        gamma=gamma,
        log_likelihood=ll,
        informative=True,
        converged=converged,
        unidentified=unidentified,
        message="; ".join(msgs),
        **common,
    )


# --------------------------------------------------------------------------- prediction


def conditional_expected_spend(fit: GammaGammaFit, frequency: object, mean_spend: object) -> np.ndarray:
    """Expected order value of each customer given their repeat purchases.

        E[M | x, m_x] = p * (gamma + x * m_x) / (p * x + q - 1)          for x >= 1

    i.e. a weighted average of the population mean ``p gamma / (q - 1)`` (weight ``(q - 1) / (px + q - 1)``)
    and the customer's own mean ``m_x`` (weight ``px / (px + q - 1)``): the more repeat purchases, the
    more the customer's own average counts.  Customers without a repeat purchase (``x == 0``) get the
    population mean (:attr:`GammaGammaFit.population_mean`).  A repeat buyer with zero or negative net
    mean spend (left out of the fit) is scored with ``m_x = 0``, the limit of the formula: their expected
    order value is shrunk below the population mean the more purchases showed no spend.  When the fit is
    not informative everyone gets ``fit.default_mean``.

    Inputs broadcast together; ``mean_spend`` is ignored (may be NaN) where ``frequency == 0``.
    """
    x, m = _validate_xm(frequency, mean_spend, require_1d=False)
    if not fit.informative:
        return np.full(x.shape, float(fit.default_mean))
    p, q, gamma = _params(fit)
    mx = np.where(x > 0, np.maximum(np.nan_to_num(m, nan=0.0), 0.0), 0.0)
    den = p * x + q - 1.0
    with np.errstate(all="ignore"):
        own = p * (gamma + x * mx) / den
    population = fit.population_mean
    return np.where(x == 0, population, np.where(den > 0, own, population))


# --------------------------------------------------------------------------- simulation


def simulate_gamma_gamma(
    frequency: object,
    p: float,
    q: float,
    gamma: float,
    seed: int | None,
    *,
    holdout_frequency: object | None = None,
    include_latent: bool = False,
) -> pd.DataFrame:
    """Simulate each customer's mean spend from the Gamma-Gamma process (for tests and benchmarks).

    Per customer ``nu ~ Gamma(shape=q, rate=gamma)``; the sum of their ``x`` transaction values is
    ``Gamma(shape=p x, rate=nu)`` and the mean spend is that sum over ``x`` (NaN where ``x == 0``).

    Args:
        frequency: number of transactions averaged per customer (whole numbers >= 0), e.g. the simulated
            BG/NBD frequency.
        holdout_frequency: if given, also return ``holdout_spend``, the total value of that many further
            transactions of the same customer (0 where none).
        include_latent: also return ``nu`` (the customer's mean order value is ``p / nu``).

    Returns:
        DataFrame with ``frequency`` and ``mean_spend`` (and the optional columns).
    """
    x = as_float_array(frequency, "frequency")
    check_finite_nonneg(x, "frequency")
    check_whole(x, "frequency", "transaction counts")
    _params(GammaGammaFit(p=p, q=q, gamma=gamma))
    rng = np.random.default_rng(seed)
    nu = rng.gamma(shape=q, scale=1.0 / gamma, size=x.shape)

    def total(count: np.ndarray) -> np.ndarray:
        out = np.zeros(count.shape)
        pos = count > 0
        out[pos] = rng.gamma(shape=p * count[pos], scale=1.0 / nu[pos])
        return out

    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(x > 0, total(x) / x, np.nan)
    out = pd.DataFrame({"frequency": x.astype(np.int64), "mean_spend": mean})
    if holdout_frequency is not None:
        h = np.broadcast_to(as_float_array(holdout_frequency, "holdout_frequency"), x.shape)
        check_finite_nonneg(h, "holdout_frequency")
        check_whole(h, "holdout_frequency", "transaction counts")
        out["holdout_spend"] = total(np.asarray(h, dtype=float))
    if include_latent:
        out["nu"] = nu
    return out
