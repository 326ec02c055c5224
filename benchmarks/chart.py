"""Chart of time against orders: ``benchmarks/results/chart.svg`` from ``benchmarks/results/results.json``.

python -m benchmarks.chart [--results benchmarks/results/results.json] [--out benchmarks/results/chart.svg]

Both axes on a log scale, one line with markers per series: the DuckDB floor, T2 (``c360 run``) wall time and
its phases (start-up, ingestion, dbt, checks, publication), the daily run and T0 where measured. The figures are
the ones of RESULTS.md's Times table (T0 is its ``total_s``, start-up is ``startup_s``, else wall − run
duration). A size without a figure (say, no T0 at 10M) has no point on that line; the line joins its neighbours.
Runs under a DuckDB memory limit are not on the lines: their T2 wall time is a separate point, one legend
entry per limit; their other figures are in RESULTS.md only.

The SVG is deterministic for the same input and matplotlib version: no date in its metadata, a fixed hash salt
for the ids, text kept as ``<text>`` (not glyph paths), no trailing blanks. Drawn on the Agg canvas, without
pyplot.
"""

from __future__ import annotations

import argparse
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

from benchmarks.report import RESULTS_DIR, _size

TITLE = "c360 time against orders, by phase, with the DuckDB floor"

_RC = {
    "svg.hashsalt": "c360-benchmarks",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
}


def _phase(m: dict, name: str) -> float | None:
    return (m.get("phases") or {}).get(name)


def _startup(m: dict) -> float | None:
    if m.get("startup_s") is not None:
        return m["startup_s"]
    if m.get("wall_s") is not None and m.get("run_s") is not None:
        return m["wall_s"] - m["run_s"]
    return None


def _t0(m: dict) -> float | None:
    return m.get("total_s") if m.get("total_s") is not None else m.get("wall_s")


# (legend label, figure of a results entry, main line: thick and solid, else a thin dashed phase line)
SERIES: list[tuple[str, Callable[[dict], float | None], bool]] = [
    ("c360 run (T2), wall time", lambda r: (r.get("t2") or {}).get("wall_s"), True),
    ("daily run, wall time", lambda r: (r.get("incremental") or {}).get("wall_s"), True),
    ("T0: c360's SQL alone, no dbt or Dagster", lambda r: _t0(r.get("t0") or {}), True),
    ("floor: plain DuckDB", lambda r: (r.get("floor") or {}).get("wall_s"), True),
    ("T2 phase: start-up", lambda r: _startup(r.get("t2") or {}), False),
    ("T2 phase: ingestion", lambda r: _phase(r.get("t2") or {}, "ingestion"), False),
    ("T2 phase: dbt", lambda r: _phase(r.get("t2") or {}, "dbt"), False),
    ("T2 phase: checks", lambda r: _phase(r.get("t2") or {}, "checks"), False),
    ("T2 phase: publication", lambda r: _phase(r.get("t2") or {}, "publication"), False),
]

_COLORS = {
    "c360 run (T2), wall time": "#d62728",
    "daily run, wall time": "#9467bd",
    "T0: c360's SQL alone, no dbt or Dagster": "#ff7f0e",
    "floor: plain DuckDB": "#000000",
    "T2 phase: start-up": "#8c564b",
    "T2 phase: ingestion": "#1f77b4",
    "T2 phase: dbt": "#2ca02c",
    "T2 phase: checks": "#7f7f7f",
    "T2 phase: publication": "#17becf",
}
_MARKERS = ["o", "s", "^", "D", "v", "<", ">", "p", "h"]


def limited_label(limit: str) -> str:
    return f"c360 run (T2) under a {limit} DuckDB memory limit"


def _points(entries: list[dict], figure: Callable[[dict], float | None]) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for r in entries:
        y = figure(r)
        if y is not None and y > 0:  # a log axis has no place for 0
            xs.append(r["orders"])
            ys.append(y)
    return xs, ys


def _load(results: dict | Path) -> dict:
    if isinstance(results, Path):
        return json.loads(results.read_text()) if results.exists() else {"results": []}
    return results


def write_chart(results: dict | Path, out: Path) -> Path:
    """Render the chart of ``results`` (the content of results.json, or its path) as an SVG file ``out``."""
    data = _load(results)
    entries = sorted(data.get("results", []), key=lambda r: (r["orders"], r.get("memory_limit") or ""))
    plain = [r for r in entries if not r.get("memory_limit")]
    limited = [r for r in entries if r.get("memory_limit")]

    with rc_context(_RC):
        fig = Figure(figsize=(9.5, 5.0))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        for i, (label, figure, main) in enumerate(SERIES):
            xs, ys = _points(plain, figure)
            if not xs:
                continue
            ax.plot(
                xs,
                ys,
                label=label,
                color=_COLORS[label],
                marker=_MARKERS[i % len(_MARKERS)],
                markersize=6 if main else 4,
                linewidth=2.2 if main else 1.1,
                linestyle="-" if main else "--",
            )
        for limit in sorted({r["memory_limit"] for r in limited}):
            xs, ys = _points([r for r in limited if r["memory_limit"] == limit], SERIES[0][1])
            if xs:
                ax.plot(
                    xs,
                    ys,
                    label=limited_label(limit),
                    color=_COLORS[SERIES[0][0]],
                    marker="X",
                    markersize=9,
                    markerfacecolor="white",
                    linestyle="none",
                )
        sizes = sorted({r["orders"] for r in entries})
        if sizes:
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.xaxis.set_major_locator(FixedLocator(sizes))
            ax.xaxis.set_major_formatter(lambda x, _pos: _size(int(round(x))))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlim(sizes[0] / 1.5, sizes[-1] * 1.5)
            ax.yaxis.set_major_formatter(lambda y, _pos: f"{y:g}")
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)
        else:
            ax.text(0.5, 0.5, "no results yet", ha="center", va="center", transform=ax.transAxes)
        ax.grid(True, which="major", color="#dddddd", linewidth=0.6)
        ax.set_xlabel("orders (log scale)")
        ax.set_ylabel("seconds of wall time (log scale)")
        ax.set_title(TITLE)
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    out.parent.mkdir(parents=True, exist_ok=True)
    # matplotlib ends every path segment with a space: strip trailing blanks (clean diffs, same drawing)
    out.write_bytes(re.sub(rb"[ \t]+\n", b"\n", buf.getvalue()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", type=Path, default=RESULTS_DIR / "results.json")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "chart.svg")
    args = parser.parse_args()
    print(write_chart(args.results, args.out))


if __name__ == "__main__":
    main()
