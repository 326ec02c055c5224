"""Helpers shared by the models: input validation, the bounded optimizer and the flat-likelihood check.

Private to the package; the public functions are re-exported by ``analytics``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize

# Bounds on the log-parameters (internal, rescaled units) used by the optimizer.  They only bind for
# degenerate data (no repeat buyers, homogeneous rates, ...) and keep every returned parameter finite.
LOG_BOUND = 15.0

# An objective in log-parameters returning (mean negative log-likelihood [+ penalty], gradient).
Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]

_LBFGS_OPTIONS = {"ftol": 1e-13, "gtol": 1e-9}
# L-BFGS-B often stops with "ABNORMAL_TERMINATION_IN_LNSRCH" once the (mean) objective is flat to
# rounding; a stop with a projected gradient below this is accepted as converged.
_GRAD_ACCEPT = 1e-5

# Flat-likelihood check: a direction is flat when moving the log-parameters this far along it (a factor
# e^3 = 20 on the parameters) costs less than _FLAT_LOSS of total log-likelihood.  An identified
# parameter would need a standard error of a factor 20 to pass, i.e. it is not identified in any
# useful sense; a ridge to 0 or infinity passes wherever on the ridge the optimizer stopped.
_FLAT_STEP = 3.0
_FLAT_LOSS = 0.5
# Components of a flat direction at least this large name the parameters that move along it.
_FLAT_COMPONENT = 0.3


@dataclass(frozen=True, kw_only=True)
class FitDiagnostics:
    """What every fit reports next to its parameters (with them, one row of the fit history).

    Attributes:
        log_likelihood: total log-likelihood at the estimate over exactly the ``n_fitted`` customers the
            parameters were fitted on, in the caller's units, penalty excluded (NaN when not fitted).
        n_customers: customers given to the fit (sum of the weights).
        n_fitted: customers the parameters were estimated on.
        n_excluded: customers left out of the estimation, each row named in ``excluded``.
        excluded: the distinct rows left out, with their customer counts and reasons (named tuples;
            ``pd.DataFrame(fit.excluded)`` gives one row per exclusion).
        converged: ``True`` when the optimizer stopped at a stationary point (success, or a line-search
            stop with projected gradient ~ 0) on informative data.
        unidentified: parameters the data do not pin down (flat likelihood along them, see the message).
        message: optimizer message plus diagnostics (non-informative data, unidentified parameters,
            parameters at the bounds, exclusions).
    """

    log_likelihood: float = math.nan
    n_customers: int = 0
    n_fitted: int = 0
    n_excluded: int = 0
    excluded: tuple[Any, ...] = ()
    converged: bool = False
    unidentified: tuple[str, ...] = ()
    message: str = ""


def wsum(weights: np.ndarray, values: np.ndarray) -> float:
    """``sum(weights * values)`` of two 1-D arrays.

    Not ``np.dot``: BLAS dot products run multi-threaded and, on a machine whose cores are busy, were 10-50
    times slower here than this single-threaded multiply-and-sum (which also sums pairwise, so rounding
    noise is lower near the optimum, where the optimizer compares nearly equal values).
    """
    return float(np.sum(weights * values))


def as_float_array(values: object, name: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc


def count_nonfinite(arr: np.ndarray, name: str) -> None:
    """Raise on NaN or infinite values, naming the column and the count (never the values)."""
    n_nan = int(np.count_nonzero(np.isnan(arr)))
    if n_nan:
        raise ValueError(f"{name} contains {n_nan} NaN value(s)")
    n_inf = int(np.count_nonzero(np.isinf(arr)))
    if n_inf:
        raise ValueError(f"{name} contains {n_inf} infinite value(s)")


def check_finite_nonneg(arr: np.ndarray, name: str) -> None:
    count_nonfinite(arr, name)
    n_neg = int(np.count_nonzero(arr < 0))
    if n_neg:
        raise ValueError(f"{name} contains {n_neg} negative value(s)")


def check_whole(arr: np.ndarray, name: str, what: str) -> None:
    n_frac = int(np.count_nonzero(arr != np.round(arr)))
    if n_frac:
        raise ValueError(f"{name} must be whole numbers ({what}); {n_frac} are not")


def validate_counts(weights: object | None, n: int) -> np.ndarray:
    """Customer counts per input row (all ones when not given): whole numbers >= 0, not all zero."""
    if weights is None:
        return np.ones(n)
    w = as_float_array(weights, "weights")
    if w.ndim != 1 or len(w) != n:
        raise ValueError(f"weights must be one-dimensional with length {n}")
    check_finite_nonneg(w, "weights")
    check_whole(w, "weights", "customer counts per row")
    if not np.any(w > 0):
        raise ValueError("weights are all zero: nothing to fit")
    return w


def check_penalizer(penalizer: float) -> None:
    if not (math.isfinite(penalizer) and penalizer >= 0):
        raise ValueError(f"penalizer must be a finite number >= 0, got {penalizer}")


def projected_grad_norm(objective: Objective, theta: np.ndarray) -> float:
    _, g = objective(theta)
    g = np.where((theta <= -LOG_BOUND) & (g > 0), 0.0, g)
    g = np.where((theta >= LOG_BOUND) & (g < 0), 0.0, g)
    return float(np.max(np.abs(g))) if np.all(np.isfinite(g)) else math.inf


def minimize(objective: Objective, theta0: np.ndarray, maxiter: int) -> tuple[np.ndarray, bool, str]:
    """Minimize over the bounded log-parameters; returns (theta within the bounds, converged, message).

    L-BFGS-B with the analytic gradient; a stop that is not a clean success is accepted when the
    projected gradient is ~0, otherwise Nelder-Mead restarts from the best point and L-BFGS-B polishes.
    """
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(theta0)
    opts = {**_LBFGS_OPTIONS, "maxiter": maxiter}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = optimize.minimize(objective, theta0, jac=True, method="L-BFGS-B", bounds=bounds, options=opts)
        best = res if np.isfinite(res.fun) and np.all(np.isfinite(res.x)) else None
        if best is not None and best.success:
            return _within(best.x), True, str(best.message)
        if best is not None and projected_grad_norm(objective, best.x) <= _GRAD_ACCEPT:
            return _within(best.x), True, f"{best.message} (accepted: projected gradient ~ 0)"
        start = best.x if best is not None else theta0
        nm = optimize.minimize(
            lambda th: objective(th)[0],
            start,
            method="Nelder-Mead",
            bounds=bounds,
            options={"maxfev": 2000, "xatol": 1e-8, "fatol": 1e-12},
        )
        polish = optimize.minimize(objective, nm.x, jac=True, method="L-BFGS-B", bounds=bounds, options=opts)
        for cand in (nm, polish):
            if np.isfinite(cand.fun) and (best is None or cand.fun <= best.fun):
                best = cand
        if best is None:  # pragma: no cover - the objectives are finite on the bounded box
            raise RuntimeError("optimization produced no finite result")
        ok = projected_grad_norm(objective, best.x) <= _GRAD_ACCEPT
        msg = f"L-BFGS-B: {res.message}; Nelder-Mead restart: {nm.message}; polish: {polish.message}"
    return _within(best.x), ok, msg + (" (accepted: projected gradient ~ 0)" if ok else "")


def _within(theta: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(theta, dtype=float), -LOG_BOUND, LOG_BOUND)


def flat_parameters(
    objective: Objective, theta: np.ndarray, total_weight: float, names: Sequence[str]
) -> tuple[str, ...]:
    """Parameters the data do not pin down: they move along a direction where the objective is flat.

    Where the optimizer stops on a ridge (e.g. r, alpha -> infinity at a fixed ratio) varies with the
    optimizer version, so the check does not look at *where* the estimate is but at the objective around
    it: along each eigenvector of the Hessian (forward differences of the analytic gradient), in both
    senses, it moves the log-parameters by ``_FLAT_STEP``.  If the total objective (the one minimized,
    penalty included) gets worse by less than ``_FLAT_LOSS`` in one sense, that direction is flat and the
    parameters with a large component in it are reported, in ``names`` order.  Moves for which the local
    quadratic model (gradient and curvature) predicts a loss of more than 100 times ``_FLAT_LOSS`` are not
    probed (the usual case for every
    direction on informative data, which keeps the check at a few objective evaluations).
    """
    k = len(theta)
    h = 1e-4
    with np.errstate(all="ignore"):
        f0, g0 = objective(theta)
        hess = np.empty((k, k))
        for j in range(k):
            e = np.zeros(k)
            e[j] = h
            hess[:, j] = (objective(theta + e)[1] - g0) / h
        if not np.all(np.isfinite(hess)):
            return ()
        curvatures, vecs = np.linalg.eigh(0.5 * (hess + hess.T))
        flat = np.zeros(k, dtype=bool)
        for curvature, v in zip(curvatures, vecs.T, strict=True):
            for sign in (1.0, -1.0):
                predicted = sign * _FLAT_STEP * float(g0 @ v) + 0.5 * curvature * _FLAT_STEP**2
                if predicted * total_weight > 100 * _FLAT_LOSS:
                    continue
                f1 = objective(theta + sign * _FLAT_STEP * v)[0]
                if np.isfinite(f1) and (f1 - f0) * total_weight < _FLAT_LOSS:
                    flat |= np.abs(v) >= _FLAT_COMPONENT
    return tuple(name for name, is_flat in zip(names, flat, strict=True) if is_flat)


def identification(
    objective: Objective, theta: np.ndarray, total_weight: float, names: Sequence[str]
) -> tuple[tuple[str, ...], list[str]]:
    """Unidentified parameters (see :func:`flat_parameters`) and the message parts that report them."""
    flat = flat_parameters(objective, theta, total_weight, names)
    bound = [name for name, th in zip(names, theta, strict=True) if abs(th) >= LOG_BOUND - 1e-6]
    notes = []
    if flat:
        notes.append(
            "parameter(s) drifting towards 0 or infinity: "
            + ", ".join(flat)
            + " (flat likelihood, e.g. little heterogeneity or too little data; predictions remain usable,"
            " individual parameters are not identified -- consider penalizer > 0)"
        )
    if bound:
        notes.append("stopped at the optimization bound: " + ", ".join(bound))
    return flat, notes


def exclusion_summary(excluded: Sequence[Any], n_total: int, noun: str) -> str:
    """'excluded 3 of 5,000 customers from the fit: 2 <reason>, 1 <reason> (see excluded)'.

    ``excluded`` holds rows with ``customers`` and ``reason`` attributes.
    """
    by_reason: dict[str, int] = {}
    for row in excluded:
        by_reason[row.reason] = by_reason.get(row.reason, 0) + row.customers
    parts = ", ".join(f"{count:,} {reason}" for reason, count in by_reason.items())
    return f"excluded {sum(by_reason.values()):,} of {n_total:,} {noun} from the fit: {parts} (see excluded)"


def weighted_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Weighted Pearson correlation; NaN when either variable does not vary (or fewer than 2 customers)."""
    total = float(np.sum(w))
    if total <= 0:
        return math.nan
    mx, my = wsum(w, x) / total, wsum(w, y) / total
    dx, dy = x - mx, y - my
    sxx, syy = wsum(w, dx * dx), wsum(w, dy * dy)
    if sxx <= 0 or syy <= 0:
        return math.nan
    return wsum(w, dx * dy) / math.sqrt(sxx * syy)
