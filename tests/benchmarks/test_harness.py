"""The benchmark harness is not part of `make test` (it takes minutes), but its code must stay runnable: the
size parser, the target verdicts and the markdown rendered from a results file."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import run as bench_run
from benchmarks.report import cost_growth, targets, write_markdown


def _entry(
    orders: int, t2_wall: float, *, t0: float, incremental: float | None, repeats=None, floor: float = 1.0
) -> dict:
    return {
        "orders": orders,
        "customers": orders // 20,
        "memory_limit": None,
        "date": "2026-11-23 12:00 UTC",
        "machine": {"cpu_model": "test cpu", "cores": 2, "ram_gb": 24},
        "versions": {"python": "3.11"},
        "git_commit": "abc1234",
        "generation": {"wall_s": 1.0},
        "floor": {"wall_s": floor, "peak_rss_kb": 512},
        "t0": {"total_s": t0, "ingest_s": 1.0, "models_s": 1.0, "tests_s": 0.1, "peak_rss_kb": 1024},
        "t2": {
            "wall_s": t2_wall,
            "exit_code": 0,
            "peak_rss_kb": 2048,
            "repeats_wall_s": repeats or [t2_wall],
        },
        "incremental": None if incremental is None else {"wall_s": incremental, "exit_code": 0},
        "ratios": {
            "t2_minus_t0_over_t0": (t2_wall - t0) / t0,
            "incremental_over_t2": None if incremental is None else incremental / t2_wall,
        },
    }


def test_sizes_accept_suffixes_and_lists():
    assert bench_run.parse_sizes(["100k,1M", "10_000_000"]) == [100_000, 1_000_000, 10_000_000]


def test_target_verdicts_follow_the_issue_thresholds():
    assert targets(_entry(100_000, 10.0, t0=3.0, incremental=None)) == [("full run ≤ 10 s", "10.0 s", True)]
    assert targets(_entry(100_000, 10.1, t0=3.0, incremental=None))[0][2] is False
    verdicts = {name: ok for name, _, ok in targets(_entry(10_000_000, 46.0, t0=30.0, incremental=11.5))}
    assert verdicts == {"full run ≤ 45 s (stretch 30 s)": False, "daily run / full run ≤ 0.25": True}
    ratio = targets(_entry(1_000_000, 20.0, t0=10.0, incremental=5.2))
    assert ratio == [("daily run / full run ≤ 0.25 (issue: at 10M)", "0.26", False)]
    big = _entry(50_000_000, 299.0, t0=200.0, incremental=None)
    big["memory_limit"] = "4GB"
    big["t2"]["peak_rss_kb"] = 4 * 1024 * 1024
    assert targets(big) == [("≤ 300 s and peak RSS ≤ 4.5 GB", "299.0 s, peak RSS 4.00 GB", True)]
    big["t2"]["peak_rss_kb"] = 5 * 1024 * 1024
    assert targets(big)[0][2] is False


def test_cost_growth_is_extra_pipeline_seconds_per_extra_floor_second():
    small = _entry(1_000_000, 20.0, t0=10.0, incremental=None, floor=1.0)
    large = _entry(4_000_000, 32.0, t0=30.0, incremental=None, floor=4.0)
    assert cost_growth([small, large]) == 4.0
    assert cost_growth([small]) is None  # no 4M run
    large["floor"]["wall_s"] = 1.0
    assert cost_growth([small, large]) is None  # the floor did not grow: no ratio


def test_markdown_lists_every_size_and_the_repeated_t2_walls(tmp_path: Path):
    results = tmp_path / "results.json"
    results.write_text(
        json.dumps(
            {
                "results": [
                    _entry(100_000, 9.5, t0=3.0, incremental=8.0, repeats=[9.9, 9.5, 9.1]),
                    _entry(10_000_000, 95.0, t0=70.0, incremental=50.0),
                ]
            }
        )
    )
    md = write_markdown(results, tmp_path / "RESULTS.md").read_text()
    assert "| 100k |" in md and "| 10M |" in md
    assert "T2 walls 9.9 s, 9.1 s" not in md  # listed in run order, not sorted
    assert "T2 walls 9.9 s, 9.5 s, 9.1 s" in md
    assert "| 100k | full run ≤ 10 s | 9.5 s | **met** |" in md
    assert "| 10M | full run ≤ 45 s (stretch 30 s) | 95.0 s | **not met** |" in md
