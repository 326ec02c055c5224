"""BG/NBD model: how many more purchases to expect from each customer, and whether they are still a customer.

In plain words.  A customer who buys now and then does two things we cannot see directly: buys at some
personal pace while they are still a customer, and at some point quietly stops being one (moves away,
switches to a competitor) without telling us.  The model learns, from everybody's purchase history, how
the pace varies across the customer base and how likely people are to drop out after a purchase.  It then
reads each customer's own history with three numbers:

* ``frequency`` -- how many times they came back after the first purchase (repeat purchases, counted
  as distinct purchase days);
* ``recency`` -- when the last purchase was, in days after the first one;
* ``T`` (age) -- how long we have known them, in days from the first purchase to the as-of date.

Someone who used to buy every month and has been silent for a year has probably left (low P(alive)); a
customer with a long gap who always buys rarely has probably not.  The two outputs are the probability
that the customer is still active (``p_alive``) and the expected number of purchases over a coming
horizon (``expected_purchases``); the latter already accounts for the chance that the customer has left.
Customers who never came back (frequency 0) count as alive: in this model nobody leaves before a first
repeat purchase, and their low expected purchases come from their low pace instead.

The model is fitted on every customer (nothing is dropped quietly: a customer can only be left out by a
numerical safeguard or the optional outlier guard, and every exclusion is counted and named in the fit).
Fitting on the distinct (frequency, recency, age) rows with their customer counts gives exactly the same
result as fitting customer by customer, so the cost depends on the number of distinct rows, not on the
number of customers.

Reference: Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers the Easy Way: An
Alternative to the Pareto/NBD Model". Marketing Science 24(2).  Pure numerical code (numpy / scipy /
pandas only, no I/O).

Model (paper, section 3):

* while active, purchases follow a Poisson process with rate ``lambda``;
  ``lambda ~ Gamma(shape=r, rate=alpha)``;
* after each *repeat* purchase the customer becomes inactive with probability ``p``;
  ``p ~ Beta(a, b)``.

Units: ``recency``, ``T``, the horizon ``t`` of :func:`expected_purchases` and the fitted ``alpha`` are all
in the *caller's* time unit -- days in this pipeline.  Internally the fit divides times by a data-derived
constant for numerical conditioning and converts back, so ``alpha`` is returned in days and ``r / alpha``
is the mean purchase rate per day.  ``r``, ``a`` and ``b`` are dimensionless.  The reported
log-likelihood is in the caller's unit too (the likelihood is a density in the purchase times, so it
changes by ``-sum(x) * log(c)`` when time is rescaled by ``c``; the paper's CDNOW value LL = -9582.4 is in
weeks).

Reference values: on the CDNOW sample (2,357 customers, 39 weeks) the paper reports
``r = 0.243, alpha = 4.414 (weeks), a = 0.793, b = 2.426, LL = -9582.4`` -- i.e. ``alpha = 30.9`` days.
The dataset is not shipped here; the tests check parameter recovery on data simulated from these values.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import integrate, special

from analytics._numerics import (
    LOG_BOUND,
    FitDiagnostics,
    as_float_array,
    check_finite_nonneg,
    check_penalizer,
    check_whole,
    exclusion_summary,
    identification,
    minimize,
    validate_counts,
    wsum,
)

__all__ = [
    "EXCLUDED_NOT_FINITE",
    "EXCLUDED_OUTLIER",
    "BgNbdExclusion",
    "BgNbdFit",
    "bgnbd_log_likelihood",
    "expected_purchases",
    "fit_bgnbd",
    "p_alive",
    "score_triples",
    "simulate_bgnbd",
]

_PARAM_NAMES = ("r", "alpha", "a", "b")
# Below this |a - 1| the (a - 1) division in eq. (10) is replaced by interpolation.
_A_NEAR_ONE = 1e-4

# Reasons a row can be left out of the estimation (the values are written to the fit history).
EXCLUDED_NOT_FINITE = "log-likelihood not finite (frequency too large for double precision)"
EXCLUDED_OUTLIER = "implausible purchase count (outlier guard)"


class BgNbdExclusion(NamedTuple):
    """A distinct (frequency, recency, T) row left out of the estimation, with its customers and why."""

    frequency: float
    recency: float
    T: float
    customers: int
    reason: str


@dataclass(frozen=True)
class BgNbdFit(FitDiagnostics):
    """Result of :func:`fit_bgnbd` (or known parameters, for scoring: only r, alpha, a, b are needed).

    Attributes:
        r, alpha: shape and rate of the gamma mixing distribution of the purchase rate ``lambda``;
            ``alpha`` is in the caller's time unit (days), so the mean rate is ``r / alpha`` purchases per
            day.
        a, b: parameters of the beta mixing distribution of the dropout probability ``p``.

    and the diagnostics of :class:`FitDiagnostics` (keyword-only), with ``excluded`` holding
    :class:`BgNbdExclusion` rows and ``n_customers == n_fitted + n_excluded``.
    """

    r: float
    alpha: float
    a: float
    b: float


# --------------------------------------------------------------------------- validation


def _validate_rft(
    frequency: object, recency: object, T: object, *, require_1d: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate (x, t_x, T) and return float arrays (broadcast together)."""
    x = as_float_array(frequency, "frequency")
    tx = as_float_array(recency, "recency")
    tt = as_float_array(T, "T")
    if require_1d:
        if x.ndim != 1 or tx.ndim != 1 or tt.ndim != 1:
            raise ValueError(
                "frequency, recency and T must be one-dimensional, got shapes "
                f"{x.shape}, {tx.shape}, {tt.shape} (note: on a DataFrame, df.T is the transpose; use df['T'])"
            )
        if not (len(x) == len(tx) == len(tt)):
            raise ValueError(
                f"frequency, recency and T must have the same length (got {len(x)}, {len(tx)}, {len(tt)})"
            )
    else:
        try:
            x, tx, tt = np.broadcast_arrays(x, tx, tt)
        except ValueError as exc:
            raise ValueError(f"frequency, recency and T have incompatible shapes: {exc}") from exc
    if x.size == 0:
        raise ValueError("empty input: at least one customer (frequency, recency, T) is required")
    check_finite_nonneg(x, "frequency")
    check_finite_nonneg(tx, "recency")
    check_finite_nonneg(tt, "T")
    check_whole(x, "frequency", "repeat-purchase counts")
    n_late = int(np.count_nonzero(tx > tt))
    if n_late:
        raise ValueError(f"recency exceeds T for {n_late} customer(s); recency must be <= T")
    n_zero = int(np.count_nonzero((x == 0) & (tx > 0)))
    if n_zero:
        raise ValueError(
            f"recency must be 0 when frequency is 0 (no repeat purchase); {n_zero} customer(s) violate this"
        )
    return x, tx, tt


def _params(fit: BgNbdFit) -> tuple[float, float, float, float]:
    vals = (float(fit.r), float(fit.alpha), float(fit.a), float(fit.b))
    if not all(math.isfinite(v) and v > 0 for v in vals):
        raise ValueError(f"BG/NBD parameters must be finite and positive, got r, alpha, a, b = {vals}")
    return vals


# --------------------------------------------------------------------------- likelihood


def _loglik_terms(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, tx: np.ndarray, tt: np.ndarray
) -> np.ndarray:
    """Per-customer log-likelihood (paper eq. 6), vectorized, in the unit of ``alpha``."""
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + tt)
    pos = x > 0
    out = a1 + a2 + a3
    if np.any(pos):
        xp = x[pos]
        a4 = np.log(a) - np.log(b + xp - 1.0) - (r + xp) * np.log(alpha + tx[pos])
        out[pos] = a1[pos] + a2[pos] + np.logaddexp(a3[pos], a4)
    return out


def bgnbd_log_likelihood(
    frequency: object,
    recency: object,
    T: object,
    r: float,
    alpha: float,
    a: float,
    b: float,
    *,
    weights: object | None = None,
) -> float:
    """Total BG/NBD log-likelihood (paper eq. 6) of the data at the given parameters.

    ``log L_i = log[B(a, b+x)/B(a, b)] + log[Gamma(r+x) alpha^r / Gamma(r)]
    + log[ (alpha+T)^-(r+x) + 1{x>0} a/(b+x-1) (alpha+t_x)^-(r+x) ]``

    Times and ``alpha`` in the same (caller's) unit.  ``weights`` are customer counts per row.
    """
    x, tx, tt = _validate_rft(frequency, recency, T, require_1d=True)
    vals = (float(r), float(alpha), float(a), float(b))
    if not all(math.isfinite(v) and v > 0 for v in vals):
        raise ValueError(f"BG/NBD parameters must be finite and positive, got r, alpha, a, b = {vals}")
    w = validate_counts(weights, len(x))
    return wsum(w, _loglik_terms(*vals, x, tx, tt))


class _Objective:
    """Weighted mean negative log-likelihood with analytic gradient over log-parameters.

    Identical rows are compressed beforehand; terms depending on ``x`` only are evaluated
    once per distinct ``x`` and customers without repeat purchases once per distinct ``T``,
    so the per-row work is a single ``logaddexp`` over the repeat buyers.
    """

    def __init__(
        self, x: np.ndarray, tx: np.ndarray, tt: np.ndarray, w: np.ndarray, penalizer: float
    ) -> None:
        self.total_w = float(np.sum(w))
        self.penalizer = penalizer
        # terms in x only
        ux, inv = np.unique(x, return_inverse=True)
        self.ux = ux
        self.wx = np.bincount(inv, weights=w, minlength=len(ux))
        # customers with x == 0: only T matters
        zero = x == 0
        if np.any(zero):
            uT0, inv0 = np.unique(tt[zero], return_inverse=True)
            self.T0 = uT0
            self.w0 = np.bincount(inv0, weights=w[zero], minlength=len(uT0))
        else:
            self.T0 = np.empty(0)
            self.w0 = np.empty(0)
        pos = ~zero
        self.xp = x[pos]
        self.txp = tx[pos]
        self.Tp = tt[pos]
        self.wp = w[pos]

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, a, b = np.exp(theta)
        ux, wx = self.ux, self.wx
        # x-only part: A1 + A2
        ll = wsum(
            wx,
            special.gammaln(r + ux)
            - special.gammaln(r)
            + special.gammaln(a + b)
            + special.gammaln(b + ux)
            - special.gammaln(b)
            - special.gammaln(a + b + ux),
        )
        ll += r * math.log(alpha) * float(np.sum(wx))
        dig_ab = special.digamma(a + b)
        dig_abx = special.digamma(a + b + ux)
        g_r = wsum(wx, special.digamma(r + ux) - special.digamma(r)) + math.log(alpha) * float(np.sum(wx))
        g_alpha = r / alpha * float(np.sum(wx))
        g_a = wsum(wx, dig_ab - dig_abx)
        g_b = wsum(wx, dig_ab + special.digamma(b + ux) - special.digamma(b) - dig_abx)
        # x == 0: A3 = -r log(alpha + T)
        if self.T0.size:
            lT0 = np.log(alpha + self.T0)
            ll -= r * wsum(self.w0, lT0)
            g_r -= wsum(self.w0, lT0)
            g_alpha -= r * wsum(self.w0, 1.0 / (alpha + self.T0))
        # x > 0: logaddexp(A3, A4)
        if self.xp.size:
            xp, wp = self.xp, self.wp
            n = r + xp
            aT = alpha + self.Tp
            at = alpha + self.txp
            lT = np.log(aT)
            lt = np.log(at)
            u = -n * lT
            v = math.log(a) - np.log(b + xp - 1.0) - n * lt
            m = np.logaddexp(u, v)
            ll += wsum(wp, m)
            pi = np.exp(v - m)  # posterior weight of the "dropped out after t_x" branch
            one_m = 1.0 - pi
            g_r -= wsum(wp, one_m * lT + pi * lt)
            g_alpha -= wsum(wp, n * (one_m / aT + pi / at))
            g_a += wsum(wp, pi) / a
            g_b -= wsum(wp, pi / (b + xp - 1.0))
        grad_params = np.array([g_r, g_alpha, g_a, g_b])
        f = -ll / self.total_w
        g = -grad_params * np.array([r, alpha, a, b]) / self.total_w
        if self.penalizer:
            f += self.penalizer * wsum(theta, theta)
            g = g + 2.0 * self.penalizer * theta
        return f, g


def _compress(
    x: np.ndarray, tx: np.ndarray, tt: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge identical (x, t_x, T) rows, summing their weights; drop zero-weight rows."""
    keep = w > 0
    df = pd.DataFrame({"x": x[keep], "tx": tx[keep], "T": tt[keep], "w": w[keep]})
    g = df.groupby(["x", "tx", "T"], sort=False, observed=True)["w"].sum()
    idx = g.index
    return (
        idx.get_level_values(0).to_numpy(dtype=float),
        idx.get_level_values(1).to_numpy(dtype=float),
        idx.get_level_values(2).to_numpy(dtype=float),
        g.to_numpy(dtype=float),
    )


def _log_nbd_tail(r: float, alpha: float, x: np.ndarray, tt: np.ndarray) -> np.ndarray:
    """``log P(N(T) >= x)`` for the NBD count of purchases in T *without* dropout.

    ``N(T) ~ NegBin(r, alpha/(alpha+T))``, so ``P(N >= x) = I_{T/(alpha+T)}(x, r)``
    (regularized incomplete beta).  Since BG/NBD purchases are a thinning of these,
    this upper-bounds the BG/NBD tail probability of observing ``x`` or more.
    """
    out = np.zeros(x.shape)
    pos = x > 0
    with np.errstate(all="ignore"):
        q = tt[pos] / (alpha + tt[pos])
        out[pos] = np.log(special.betainc(x[pos], r, q))
    return out


def _outlier_rows(
    theta: np.ndarray,
    scale: float,
    xc: np.ndarray,
    ttc: np.ndarray,
    wc: np.ndarray,
    keep: np.ndarray,
    room: float,
) -> np.ndarray:
    """Rows the outlier guard leaves out next: most extreme first, at most ``room`` customers."""
    r_hat, alpha_hat = math.exp(theta[0]), math.exp(theta[1])
    kept = np.flatnonzero(keep)
    log_tail = _log_nbd_tail(r_hat, alpha_hat, xc[kept], ttc[kept] / scale)
    log_eps = math.log(1e-3 / max(float(np.sum(wc)), 1.0))
    flagged = kept[log_tail < log_eps]
    flagged = flagged[np.argsort(log_tail[log_tail < log_eps], kind="stable")]
    return flagged[np.cumsum(wc[flagged]) <= room + 1e-9]


def fit_bgnbd(
    frequency: object,
    recency: object,
    T: object,
    *,
    weights: object | None = None,
    penalizer: float = 0.0,
    trim_outliers: bool = False,
    maxiter: int = 2000,
) -> BgNbdFit:
    """Fit the BG/NBD model by maximum likelihood on every customer given.

    Maximizes ``sum_i w_i log L_i`` with the closed-form per-customer likelihood of the paper (eq. 6,
    evaluated in log space with ``gammaln`` and ``logaddexp``):

        L(r, alpha, a, b | x, t_x, T) = B(a, b+x)/B(a, b) * Gamma(r+x) alpha^r / Gamma(r)
            * [ (alpha+T)^-(r+x) + 1{x>0} * a/(b+x-1) * (alpha+t_x)^-(r+x) ]

    over ``log(r), log(alpha), log(a), log(b)`` with L-BFGS-B and an analytic gradient (Nelder-Mead
    restart when L-BFGS-B fails), times rescaled internally by the mean ``T``.  Identical ``(x, t_x, T)``
    rows are merged first and terms that depend on ``x`` alone are evaluated once per distinct ``x``, so
    passing the distinct triples with their customer counts as ``weights`` gives the same fit as passing
    every customer.

    Nobody is left out by default.  Two mechanisms can exclude a row, and each exclusion is counted in
    ``n_excluded`` and named with its reason in ``excluded``:

    * numerical safeguard (always on): a row whose log-likelihood is not a finite number at the start or
      at the estimate (only for absurd counts, around 1e305 purchases) would turn the whole objective
      into NaN; it is left out, reason :data:`EXCLUDED_NOT_FINITE`;
    * outlier guard (``trim_outliers=True``, off by default): a customer whose count is implausible even
      without dropout, ``P_NBD(N(T) >= x) < 1e-3 / n_customers`` (see :func:`_log_nbd_tail`), is left out
      and the model refit (at most 3 rounds, at most 0.1% of the customers, most extreme first), reason
      :data:`EXCLUDED_OUTLIER`.  It exists for data with bots or resellers (e.g. 2,000 orders in 10 days
      when orders are not collapsed to purchase days).  It is off by default because it also drops
      genuine heavy buyers (179 purchase days in 405 days, on a real purchase log), and one such buyer
      moves the parameters by about 1% in 20,000 customers.

    Excluded customers are only excluded from *estimation*; score them as usual.

    Args:
        frequency: repeat-purchase counts ``x`` (whole numbers >= 0).
        recency: ``t_x``, time of the last purchase after the first one (0 when x == 0).
        T: time from the first purchase to the as-of date; ``recency <= T``.
        weights: optional customer counts per row (whole numbers >= 0), e.g. the number of customers
            sharing a distinct (x, t_x, T) triple.
        penalizer: optional L2 penalty ``penalizer * ||log params||^2`` added to the *mean* negative
            log-likelihood (log-parameters in the internal, rescaled time unit).  Default 0 (plain MLE).
            With little data or little heterogeneity the likelihood can be flat along a ridge (e.g.
            ``r, alpha -> inf`` at fixed ``r/alpha``); ``unidentified`` and the message then name the
            parameters, and ``penalizer=1e-3`` pins them.
        trim_outliers: enable the outlier guard described above.
        maxiter: optimizer iteration cap.

    Units: times in days (any unit works); ``alpha`` is returned in the same unit.

    Returns:
        :class:`BgNbdFit`.  ``log_likelihood`` is summed over exactly the ``n_fitted`` customers.  When no
        customer has a repeat purchase the likelihood has no interior maximum (it increases towards
        ``r / alpha -> 0``): the fit then has ``converged=False``, a message saying the data is not
        informative, and finite parameters that predict ~0 future purchases.

    Raises:
        ValueError: empty input, NaN/inf/negative values, fractional frequency or weights, recency greater
            than T, recency > 0 with frequency 0, all weights zero, or no row with a finite likelihood.
    """
    x, tx, tt = _validate_rft(frequency, recency, T, require_1d=True)
    w = validate_counts(weights, len(x))
    check_penalizer(penalizer)

    xc, txc, ttc, wc = _compress(x, tx, tt, w)
    n_customers = int(round(float(np.sum(wc))))

    # Internal time unit: the weighted mean of T (1 when every T is 0).
    mean_T = wsum(wc, ttc) / float(np.sum(wc))
    scale = mean_T if mean_T > 0 else 1.0

    reason = np.full(len(xc), "", dtype=object)  # "" = fitted

    def not_finite(th: np.ndarray) -> np.ndarray:
        kept = np.flatnonzero(reason == "")
        with np.errstate(all="ignore"):
            terms = _loglik_terms(*np.exp(th), xc[kept], txc[kept] / scale, ttc[kept] / scale)
        return kept[~np.isfinite(terms)]

    reason[not_finite(np.log([1.0, 1.0, 1.0, 2.0]))] = EXCLUDED_NOT_FINITE
    usable = reason == ""
    repeat_w = wsum(wc[usable], xc[usable])
    informative = repeat_w > 0 and bool(np.any(ttc[usable] > 0))

    # Start: r = 1, alpha matching the pooled repeat rate sum(x)/sum(T), a = 1, b = 2.
    rate = repeat_w / max(wsum(wc[usable], ttc[usable] / scale), 1e-12)
    alpha0 = 1.0 / rate if rate > 0 else math.exp(LOG_BOUND / 2)
    alpha0 = float(np.clip(alpha0, math.exp(-LOG_BOUND + 1), math.exp(LOG_BOUND - 1)))
    theta = np.log([1.0, alpha0, 1.0, 2.0])

    trim_cap = max(1.0, 1e-3 * float(np.sum(wc)))
    guard_rounds = 0
    while True:
        keep = reason == ""
        if not np.any(keep):
            raise ValueError(
                "no customer could be fitted: the log-likelihood is not finite for every row "
                "(frequency too large for double precision)"
            )
        objective = _Objective(xc[keep], txc[keep] / scale, ttc[keep] / scale, wc[keep], penalizer)
        theta, converged, opt_msg = minimize(objective, theta, maxiter)
        bad = not_finite(theta)
        if bad.size:
            reason[bad] = EXCLUDED_NOT_FINITE
            continue
        if not (trim_outliers and informative) or guard_rounds == 3:
            break
        room = trim_cap - float(np.sum(wc[reason == EXCLUDED_OUTLIER]))
        flagged = _outlier_rows(theta, scale, xc, ttc, wc, keep, room)
        if flagged.size == 0:
            break
        reason[flagged] = EXCLUDED_OUTLIER
        guard_rounds += 1

    r, alpha_s, a, b = (float(v) for v in np.exp(theta))
    alpha = alpha_s * scale
    ll = wsum(wc[keep], _loglik_terms(r, alpha, a, b, xc[keep], txc[keep], ttc[keep]))
    excluded = [
        BgNbdExclusion(float(xc[i]), float(txc[i]), float(ttc[i]), int(round(wc[i])), str(reason[i]))
        for i in sorted(np.flatnonzero(~keep), key=lambda i: (reason[i], -xc[i], txc[i], ttc[i]))
    ]
    n_excluded = sum(e.customers for e in excluded)
    unidentified, notes = identification(objective, theta, objective.total_w, _PARAM_NAMES)

    msgs = [opt_msg, *notes]
    if excluded:
        msgs.append(exclusion_summary(excluded, n_customers, "customers"))
    if not informative:
        converged = False
        msgs.insert(
            0,
            "data not informative: no customer has a repeat purchase (frequency == 0 for all)"
            if repeat_w == 0
            else "data not informative: every T is 0",
        )
    return BgNbdFit(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        log_likelihood=ll,
        n_customers=n_customers,
        n_fitted=n_customers - n_excluded,
        n_excluded=n_excluded,
        excluded=tuple(excluded),
        converged=converged,
        unidentified=unidentified,
        message="; ".join(msgs),
    )


# --------------------------------------------------------------------------- P(alive)


def _log_odds_dead(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, tx: np.ndarray, tt: np.ndarray
) -> np.ndarray:
    """``log[a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x)]`` for x > 0, ``-inf`` for x == 0."""
    out = np.full(x.shape, -np.inf)
    pos = x > 0
    xp = x[pos]
    out[pos] = (
        math.log(a) - np.log(b + xp - 1.0) + (r + xp) * (np.log(alpha + tt[pos]) - np.log(alpha + tx[pos]))
    )
    return out


def p_alive(fit: BgNbdFit, frequency: object, recency: object, T: object) -> np.ndarray:
    """Probability that each customer is still active at T (paper eq. 13), in closed form.

        P(alive | x, t_x, T) = 1                     when x = 0
                             = 1 / (1 + exp(L))      when x > 0, with
        L = ln(a) - ln(b + x - 1) + (r + x) * (ln(alpha + T) - ln(alpha + t_x))

    (``x`` = frequency, ``t_x`` = recency in days, ``T`` = age in days, ``r, alpha, a, b`` from the fit).
    Customers with ``x == 0`` get exactly 1: in the BG/NBD model nobody drops out before their first
    repeat purchase.  Computed here as ``expit(-L)``.  A SQL copy agrees to better than 1e-12 as

        case when frequency = 0 then 1.0
             else 1.0 / (1.0 + exp(least(L, 700.0))) end

    with ``L`` written with ``ln`` in double precision; the ``least`` only avoids an overflow error
    on engines that raise one (PostgreSQL): above 700 the probability is below 1e-304 either way.

    Inputs broadcast together; times in the unit of ``fit.alpha`` (days).
    """
    r, alpha, a, b = _params(fit)
    x, tx, tt = _validate_rft(frequency, recency, T, require_1d=False)
    shape = x.shape
    x, tx, tt = x.ravel(), tx.ravel(), tt.ravel()
    with np.errstate(all="ignore"):
        res = special.expit(-_log_odds_dead(r, alpha, a, b, x, tx, tt))
    return res.reshape(shape)


# --------------------------------------------------------------------------- E[Y(t)]


def _e_alive_hyp(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, tt: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """E[purchases in (T, T+t] | alive at T, x, T] via the Euler-transformed eq. (10).

    Eq. (10)'s numerator is ``c/(a-1) * [1 - (1-z)^(r+x) 2F1(r+x, b+x; c; z)]`` with
    ``c = a+b+x-1`` and ``z = t/(alpha+T+t)``.  Euler's transformation
    ``2F1(A, B; C; z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z)`` turns it into

        c/(a-1) * [1 - (1-z)^(a-1) F],   F = 2F1(a-1, a+b-1-r; c; z),

    whose upper parameters no longer grow with x (no overflow / divergence for large x or
    z -> 1).  With ``eps = a-1``, ``L = log(1-z)`` and ``S = (F-1)/eps`` this is evaluated
    without cancellation as ``c * (-expm1(eps*L)/eps - exp(eps*L) * S)``.
    """
    eps = a - 1.0
    c = a + b + x - 1.0
    beta = a + b - 1.0 - r
    big_a = alpha + tt
    z = t / (big_a + t)
    log1mz = -np.log1p(t / big_a)
    f = special.hyp2f1(eps, beta, c, z)
    s = (f - 1.0) / eps
    return c * (-np.expm1(eps * log1mz) / eps - np.exp(eps * log1mz) * s)


def _e_alive_quad(r: float, alpha: float, a: float, b: float, x: float, tt: float, t: float) -> float:
    """Same expectation by adaptive quadrature of its integral representation.

    Given alive at T: ``p ~ Beta(a, b+x)``, ``lambda ~ Gamma(r+x, alpha+T)`` and
    ``E[Y(t) | lambda, p] = (1 - exp(-lambda p t)) / p``, hence

        E = int_0^1 (1 - (1 + p t/(alpha+T))^-(r+x)) / p  Beta(p; a, b+x) dp.

    Slow (one ``quad`` call per element); only used when the closed form fails.
    """
    n = r + x
    tau = t / (alpha + tt)
    if tau == 0.0:
        return 0.0
    bx = b + x
    log_norm = float(special.betaln(a, bx))

    def integrand(p: float) -> float:
        if p <= 0.0 or p >= 1.0:  # endpoints are never evaluated by quad
            return 0.0
        h = -math.expm1(-n * math.log1p(p * tau)) / p
        log_dens = (a - 1.0) * math.log(p) + (bx - 1.0) * math.log1p(-p) - log_norm
        return h * math.exp(log_dens)

    # Break the interval where the Beta density and h(p) change scale.
    mean = a / (a + bx)
    sd = math.sqrt(a * bx / ((a + bx) ** 2 * (a + bx + 1.0)))
    cuts = {0.0, 1.0, mean, mean / 100.0, min(1.0, mean + 10.0 * sd), min(1.0, 1.0 / (n * tau))}
    knots = sorted(c for c in cuts if 0.0 <= c <= 1.0)
    total = 0.0
    for lo, hi in zip(knots[:-1], knots[1:], strict=True):
        if hi > lo:
            total += integrate.quad(integrand, lo, hi, limit=200, epsabs=0.0, epsrel=1e-10)[0]
    return float(total)


def _e_alive(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, tt: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """Robust conditional-on-alive expectation with fallbacks."""

    def closed(a_: float, r_: float) -> np.ndarray:
        return _e_alive_hyp(r_, alpha, a_, b, x, tt, t)

    def interp_a(fn: Callable[[float], np.ndarray]) -> np.ndarray:
        # eq. (10) has a removable singularity at a = 1: interpolate across it.
        if abs(a - 1.0) >= _A_NEAR_ONE:
            return fn(a)
        lo, hi = 1.0 - _A_NEAR_ONE, 1.0 + _A_NEAR_ONE
        e_lo, e_hi = fn(lo), fn(hi)
        return e_lo + (a - lo) / (hi - lo) * (e_hi - e_lo)

    upper = (r + x) * t / (alpha + tt)  # E <= (r+x) t/(alpha+T) since (1-(1+p tau)^-n)/p <= n tau

    def bad(e: np.ndarray, idx: np.ndarray | slice) -> np.ndarray:
        ub = upper[idx]
        return ~np.isfinite(e) | (e < -1e-9 * (1.0 + ub)) | (e > ub * (1.0 + 1e-7) + 1e-12)

    e = interp_a(lambda a_: closed(a_, r))
    mask = bad(e, slice(None))
    if np.any(mask):
        # hyp2f1 fails when c - A - B = x + r + 1 - a is an integer (for large c) or when
        # c = a + b + x - 1 is 0: step off both by averaging tiny symmetric moves of r and b
        # (they shift c - A - B by +-h_r and c by +-h_b; the averaging error is O(h^2)).
        idx = np.flatnonzero(mask)
        h_r, h_b = 1e-7 * r, 1e-7 * b
        sub = (x[idx], tt[idx], t[idx])
        e2 = interp_a(
            lambda a_: (
                0.5
                * (
                    _e_alive_hyp(r + h_r, alpha, a_, b + h_b, *sub)
                    + _e_alive_hyp(r - h_r, alpha, a_, b - h_b, *sub)
                )
            )
        )
        e[idx] = e2
        still = idx[bad(e2, idx)]
        for i in still:
            e[i] = _e_alive_quad(r, alpha, a, b, float(x[i]), float(tt[i]), float(t[i]))
    return np.clip(e, 0.0, upper)


def expected_purchases(fit: BgNbdFit, t: object, frequency: object, recency: object, T: object) -> np.ndarray:
    """Expected number of purchases in the next ``t`` time units (paper eq. 10).

        E[Y(t) | x, t_x, T] =
            (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x)
                                   * 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]
            / (1 + 1{x>0} * a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x))

    i.e. ``P(alive) * E[Y(t) | alive]``.  The numerator is computed through an Euler
    transformation of the hypergeometric function (see :func:`_e_alive_hyp`), which stays
    finite for large ``x`` and long horizons, has the ``a -> 1`` removable singularity
    handled, and falls back to quadrature of the integral representation if ``hyp2f1``
    misbehaves.  Results are finite, ``>= 0`` and ``<= (r+x) t/(alpha+T)``.

    ``t``, ``recency`` and ``T`` are in the unit of ``fit.alpha`` (days); all inputs broadcast.
    """
    r, alpha, a, b = _params(fit)
    x, tx, tt = _validate_rft(frequency, recency, T, require_1d=False)
    t_arr = as_float_array(t, "t")
    check_finite_nonneg(t_arr, "t")
    try:
        x, tx, tt, t_arr = np.broadcast_arrays(x, tx, tt, t_arr)
    except ValueError as exc:
        raise ValueError(f"t is not broadcastable with the customer arrays: {exc}") from exc
    shape = x.shape
    x, tx, tt, t_arr = (np.array(v, dtype=float).ravel() for v in (x, tx, tt, t_arr))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        alive = special.expit(-_log_odds_dead(r, alpha, a, b, x, tx, tt))
        e = _e_alive(r, alpha, a, b, x, tt, t_arr)
    return (alive * e).reshape(shape)


def score_triples(fit: BgNbdFit, triples: pd.DataFrame, horizon_days: float) -> pd.DataFrame:
    """The per-triple scoring table: P(alive) and expected purchases for each distinct history.

    Every customer with the same (frequency, recency_days, age_days) gets the same scores, so the
    warehouse scores its customers by joining this table on the three columns.

    Args:
        fit: the BG/NBD fit (times in days).
        triples: one row per distinct (``frequency``, ``recency_days``, ``age_days``); other columns
            (e.g. the customer counts) are ignored.
        horizon_days: the horizon of ``expected_purchases``, in days.

    Returns:
        DataFrame with ``frequency``, ``recency_days``, ``age_days`` (as given, same order and dtypes, so
        the join is exact), ``p_alive`` (see :func:`p_alive` for the closed form) and
        ``expected_purchases`` (purchases expected in the next ``horizon_days`` days, :func:`expected_purchases`).

    Raises:
        ValueError: a column is missing, a triple appears twice (the join would duplicate customers),
            or the values are invalid (see :func:`fit_bgnbd`).
    """
    keys = ["frequency", "recency_days", "age_days"]
    missing = [c for c in keys if c not in triples.columns]
    if missing:
        raise ValueError(f"triples lacks column(s) {', '.join(missing)}; expected {', '.join(keys)}")
    n_dup = int(triples.duplicated(keys).sum())
    if n_dup:
        raise ValueError(
            f"triples must be distinct: {n_dup} row(s) repeat an earlier (frequency, recency_days, age_days)"
        )
    out = triples[keys].reset_index(drop=True)
    if out.empty:
        return out.assign(p_alive=pd.Series(dtype=float), expected_purchases=pd.Series(dtype=float))
    x, tx, tt = (out[c].to_numpy(dtype=float) for c in keys)
    out["p_alive"] = p_alive(fit, x, tx, tt)
    out["expected_purchases"] = expected_purchases(fit, horizon_days, x, tx, tt)
    return out


# --------------------------------------------------------------------------- simulation


def simulate_bgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: object,
    seed: int | None,
    *,
    holdout: float | None = None,
    include_latent: bool = False,
) -> pd.DataFrame:
    """Simulate ``n`` customers from the BG/NBD generative process (for tests/benchmarks).

    Each customer makes a first purchase at time 0 and is then observed until ``T`` (a
    scalar or one value per customer, same unit as ``alpha``):

    * ``lambda ~ Gamma(shape=r, rate=alpha)``, ``p ~ Beta(a, b)``;
    * purchases follow a Poisson(lambda) process while active;
    * after each repeat purchase the customer drops out with probability ``p``, so the
      customer dies right after repeat purchase ``K ~ Geometric(p)`` (support 1, 2, ...).

    With ``N ~ Poisson(lambda T)`` events in ``[0, T]``: ``x = min(N, K)`` and, the event
    times being uniform order statistics, ``t_x = T * Beta(x, N - x + 1)`` for ``x >= 1``.

    Args:
        holdout: if given, also return ``frequency_holdout``, the purchases in
            ``(T, T + holdout]`` (for checking :func:`expected_purchases`).
        include_latent: also return ``lam``, ``p`` and ``alive`` (active at T).

    Returns:
        DataFrame with ``frequency`` (int), ``recency`` and ``T`` (floats, continuous time).
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    vals = (float(r), float(alpha), float(a), float(b))
    if not all(math.isfinite(v) and v > 0 for v in vals):
        raise ValueError(f"r, alpha, a, b must be finite and positive, got {vals}")
    rng = np.random.default_rng(seed)
    tt = np.broadcast_to(np.asarray(T, dtype=float), (n,)).astype(float)
    check_finite_nonneg(tt, "T")
    lam = rng.gamma(shape=r, scale=1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    # K ~ Geometric(p) on {1, 2, ...} via inversion, in floats (p may be tiny).
    u = 1.0 - rng.random(n)  # (0, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.floor(np.log(u) / np.log1p(-np.minimum(p, 1.0 - 1e-16))) + 1.0
    k = np.where(np.isfinite(k), np.maximum(k, 1.0), np.inf)
    n1 = rng.poisson(lam * tt).astype(float)
    x = np.minimum(n1, k)
    pos = x > 0
    frac = np.zeros(n)
    frac[pos] = rng.beta(x[pos], n1[pos] - x[pos] + 1.0)
    rec = np.where(pos, tt * frac, 0.0)
    out = pd.DataFrame({"frequency": x.astype(np.int64), "recency": rec, "T": tt})
    if holdout is not None:
        h = float(holdout)
        if not (math.isfinite(h) and h >= 0):
            raise ValueError("holdout must be a finite number >= 0")
        n2 = rng.poisson(lam * h).astype(float)
        remaining = np.maximum(k - n1, 0.0)
        out["frequency_holdout"] = np.minimum(n2, remaining).astype(np.int64)
    if include_latent:
        out["lam"] = lam
        out["p"] = p
        out["alive"] = k > n1
    return out
