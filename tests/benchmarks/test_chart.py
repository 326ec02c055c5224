"""The chart of time against orders (``benchmarks/chart.py``): every series in the legend, sizes with a missing
figure drawn without it, and the same SVG bytes for the same results."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from benchmarks.chart import limited_label, write_chart
from benchmarks.report import write_markdown

SVG = "{http://www.w3.org/2000/svg}"


def _entry(
    orders: int, *, memory_limit: str | None = None, t0: bool = True, publication: bool = True
) -> dict:
    phases = {"ingestion": orders / 1e5, "dbt": orders / 5e4, "fit": 0.2, "checks": 0.5, "other": 0.1}
    if publication:
        phases["publication"] = 1.0
    return {
        "orders": orders,
        "memory_limit": memory_limit,
        "floor": None if memory_limit else {"wall_s": orders / 1e6 + 0.5},
        "t0": {"wall_s": 5.0, "total_s": 4.0} if t0 else None,
        "t2": {
            "wall_s": 30.0 + orders / 1e4,
            "run_s": 22.0 + orders / 1e4,
            "startup_s": 8.0,
            "phases": phases,
        },
        "incremental": None if memory_limit else {"wall_s": 20.0},
    }


def _legend_labels(svg: Path) -> list[str]:
    root = ET.parse(svg).getroot()
    legend = next(g for g in root.iter(f"{SVG}g") if g.get("id") == "legend_1")
    return [t.text for t in legend.iter(f"{SVG}text")]


def test_chart_has_every_series_and_skips_missing_figures(tmp_path: Path):
    # the 1M run has neither T0 nor a publication phase: those lines stop at 100k, nothing fails
    data = {"results": [_entry(100_000), _entry(1_000_000, t0=False, publication=False)]}
    svg = write_chart(data, tmp_path / "chart.svg")
    labels = _legend_labels(svg)
    assert labels == [
        "c360 run (T2), wall time",
        "daily run, wall time",
        "T0: c360's SQL alone, no dbt or Dagster",
        "floor: plain DuckDB",
        "T2 phase: start-up",
        "T2 phase: ingestion",
        "T2 phase: dbt",
        "T2 phase: checks",
        "T2 phase: publication",
    ]
    texts = [t.text for t in ET.parse(svg).getroot().iter(f"{SVG}text")]
    assert "c360 time against orders, by phase, with the DuckDB floor" in texts
    assert {"100k", "1M"} <= set(texts)  # the sizes as x tick labels


def test_memory_limited_runs_are_a_separate_point(tmp_path: Path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"results": [_entry(100_000), _entry(50_000_000, memory_limit="4GB")]}))
    labels = _legend_labels(write_chart(results, tmp_path / "chart.svg"))
    assert labels[-1] == limited_label("4GB")
    assert labels.count("c360 run (T2), wall time") == 1


def test_same_results_give_the_same_bytes(tmp_path: Path):
    data = {"results": [_entry(100_000), _entry(1_000_000, publication=False)]}
    first = write_chart(data, tmp_path / "a.svg").read_bytes()
    second = write_chart(data, tmp_path / "b.svg").read_bytes()
    assert first == second
    assert b"<dc:date>" not in first


def test_results_markdown_embeds_the_chart_written_next_to_it(tmp_path: Path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"results": [_entry(100_000)]}))
    md = write_markdown(results, tmp_path / "RESULTS.md").read_text()
    assert "## Times\n\n![time against orders](chart.svg)\n" in md
    assert _legend_labels(tmp_path / "chart.svg")[0] == "c360 run (T2), wall time"
