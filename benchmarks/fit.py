"""Fit benchmark of the predictive models on distinct rows with customer counts (not part of the tests).

    python -m benchmarks.fit                          # 1M and 10M customers
    python -m benchmarks.fit --customers 100k --repeat 1

Per size, a population is simulated from the models themselves in chunks of 1M customers (BG/NBD with the
CDNOW parameters in days, first purchases spread over three years, integer-day recency and age as the
warehouse has them; Gamma-Gamma with the paper's parameters, mean spend rounded to cents) and reduced to
what the warehouse hands the fit: the distinct (frequency, recency_days, age_days) triples and the distinct
(frequency, mean_spend) pairs of repeat buyers, each with its customer count.  Simulation and reduction are
not timed (the warehouse does them in SQL).  Timed, each the median of ``--repeat`` runs in this process:

- ``fit_bgnbd`` on the triples with weights; ``score_triples`` (P(alive) and 90-day expected purchases);
  ``discounted_expected_purchases`` over 12 months at 10% a year (the CLV purchase part);
- ``fit_gamma_gamma`` on the pairs with weights, at cent precision and with mean spend rounded to whole
  currency units (far fewer distinct pairs; the parameters of both are stored to show what rounding costs);
  ``conditional_expected_spend`` on the cent pairs.

Results are merged into ``benchmarks/results/fit.json`` (one entry per size, replaced on re-run, with machine
info, versions, commit and the 1-minute load average before and after); the machine is shared, so read
times together with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.bgnbd import fit_bgnbd, score_triples, simulate_bgnbd
from analytics.clv import discounted_expected_purchases
from analytics.gamma_gamma import conditional_expected_spend, fit_gamma_gamma, simulate_gamma_gamma
from benchmarks.report import RESULTS_DIR
from benchmarks.run import git_commit, log, machine_info, parse_sizes

BGNBD = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}  # CDNOW, alpha in days
GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}
MAX_AGE_DAYS = 1095
CHUNK = 1_000_000
KEYS = ["frequency", "recency_days", "age_days"]


def population(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Distinct triples and (frequency, mean_spend) pairs of repeat buyers with counts, for n customers."""
    triples, pairs = [], []
    for i, start in enumerate(range(0, n, CHUNK)):
        size = min(CHUNK, n - start)
        rng = np.random.default_rng([seed, i])
        age = rng.integers(1, MAX_AGE_DAYS + 1, size).astype(float)
        sim = simulate_bgnbd(size, **BGNBD, T=age, seed=int(rng.integers(2**31)))
        x = sim["frequency"].to_numpy()
        # whole days, as the warehouse counts them: a repeat purchase is at least one day after the first
        recency = np.minimum(np.where(x > 0, np.maximum(np.floor(sim["recency"].to_numpy()), 1.0), 0.0), age)
        frame = pd.DataFrame({"frequency": x, "recency_days": recency, "age_days": age})
        triples.append(frame.groupby(KEYS, as_index=False).size())
        spend = simulate_gamma_gamma(x, **GAMMA_GAMMA, seed=int(rng.integers(2**31)))
        repeat = spend[spend["frequency"] > 0].assign(mean_spend=lambda d: d["mean_spend"].round(2))
        pairs.append(repeat.groupby(["frequency", "mean_spend"], as_index=False).size())
    merged_triples = pd.concat(triples).groupby(KEYS, as_index=False)["size"].sum()
    merged_pairs = pd.concat(pairs).groupby(["frequency", "mean_spend"], as_index=False)["size"].sum()
    return merged_triples, merged_pairs


def timed(fn: Callable[[], object], repeat: int) -> tuple[object, dict]:
    walls, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - started)
    return result, {"median_s": statistics.median(walls), "runs_s": walls}


def rel_errors(fitted: dict, truth: dict) -> dict:
    return {k: fitted[k] / v - 1.0 for k, v in truth.items()}


def bench(n: int, seed: int, repeat: int) -> dict:
    log(f"simulating {n:,} customers")
    started = time.perf_counter()
    triples, pairs = population(n, seed)
    simulate_s = time.perf_counter() - started
    log(f"{len(triples):,} distinct triples, {len(pairs):,} distinct pairs ({simulate_s:.1f} s)")
    load_before = os.getloadavg()[0]
    x, tx, age, w = (triples[c].to_numpy(float) for c in (*KEYS, "size"))

    bg, t_bg = timed(lambda: fit_bgnbd(x, tx, age, weights=w), repeat)
    log(f"fit_bgnbd {t_bg['median_s']:.2f} s: {bg.message}")
    _, t_score = timed(lambda: score_triples(bg, triples, 90.0), repeat)
    _, t_dep = timed(
        lambda: discounted_expected_purchases(
            bg, x, tx, age, horizon=12, period="month", annual_discount_rate=0.1
        ),
        repeat,
    )
    gx, gm, gw = (pairs[c].to_numpy(float) for c in ("frequency", "mean_spend", "size"))
    gg, t_gg = timed(lambda: fit_gamma_gamma(gx, gm, weights=gw), repeat)
    log(f"fit_gamma_gamma {t_gg['median_s']:.2f} s: {gg.message}")
    _, t_spend = timed(lambda: conditional_expected_spend(gg, gx, gm), repeat)
    units = pairs.assign(mean_spend=pairs["mean_spend"].round(0)).groupby(
        ["frequency", "mean_spend"], as_index=False
    )
    units = units["size"].sum()
    gu, t_gu = timed(
        lambda: fit_gamma_gamma(units["frequency"], units["mean_spend"], weights=units["size"]), repeat
    )
    log(f"fit_gamma_gamma on whole units ({len(units):,} pairs) {t_gu['median_s']:.2f} s")

    bg_params = {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b}
    gg_params = {"p": gg.p, "q": gg.q, "gamma": gg.gamma}
    gu_params = {"p": gu.p, "q": gu.q, "gamma": gu.gamma}
    return {
        "customers": n,
        "seed": seed,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "versions": {p: metadata.version(p) for p in ("numpy", "scipy", "pandas")},
        "git_commit": git_commit(),
        "loadavg": [load_before, os.getloadavg()[0]],
        "simulate_and_reduce_s": simulate_s,
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "bgnbd": {
            "distinct_triples": len(triples),
            "fit": t_bg,
            "score_triples_90d": t_score,
            "discounted_purchases_12_months": t_dep,
            "params": bg_params,
            "rel_error_vs_truth": rel_errors(bg_params, BGNBD),
            "n_fitted": bg.n_fitted,
            "n_excluded": bg.n_excluded,
            "converged": bg.converged,
        },
        "gamma_gamma": {
            "distinct_pairs": len(pairs),
            "fit": t_gg,
            "conditional_expected_spend": t_spend,
            "params": gg_params,
            "rel_error_vs_truth": rel_errors(gg_params, GAMMA_GAMMA),
            "n_fitted": gg.n_fitted,
            "n_excluded": gg.n_excluded,
            "converged": gg.converged,
            "spend_frequency_correlation": gg.spend_frequency_correlation,
            "whole_units": {
                "distinct_pairs": len(units),
                "fit": t_gu,
                "params": gu_params,
                "rel_diff_vs_cents": rel_errors(gu_params, gg_params),
            },
        },
    }


def merge(results_json: Path, entry: dict) -> None:
    data = json.loads(results_json.read_text()) if results_json.exists() else {"results": []}
    data["results"] = [r for r in data["results"] if r["customers"] != entry["customers"]] + [entry]
    data["results"].sort(key=lambda r: r["customers"])
    results_json.parent.mkdir(parents=True, exist_ok=True)
    results_json.write_text(json.dumps(data, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--customers", action="append", help="customers per size; repeatable or a comma list (default 1M,10M)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs per step, median reported (default 3)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--results", type=Path, default=RESULTS_DIR / "fit.json")
    args = parser.parse_args(argv)
    for n in parse_sizes(args.customers or ["1M,10M"]):
        entry = bench(n, args.seed, args.repeat)
        merge(args.results, entry)
        bg, gg = entry["bgnbd"], entry["gamma_gamma"]
        print(
            f"{n:>12,} customers | BG/NBD {bg['distinct_triples']:,} triples: fit {bg['fit']['median_s']:.2f} s, "
            f"score {bg['score_triples_90d']['median_s']:.2f} s, CLV purchases "
            f"{bg['discounted_purchases_12_months']['median_s']:.2f} s | Gamma-Gamma {gg['distinct_pairs']:,} pairs: "
            f"fit {gg['fit']['median_s']:.2f} s ({gg['whole_units']['distinct_pairs']:,} whole-unit pairs: "
            f"{gg['whole_units']['fit']['median_s']:.2f} s) | load {entry['loadavg'][0]:.1f}"
        )
    log(f"results merged into {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
