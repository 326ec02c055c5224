"""Benchmark of ingestion alone: ``ingest_source`` on the demo landing zone, against a plain DuckDB read of it.

    python -m benchmarks.ingestion_speed --orders 1M
    python -m benchmarks.ingestion_speed --orders 1M --code before=/path/to/other/checkout --code after=.

Per size (``generate_demo_data(orders=N, seed=1, as_of=2026-06-30)``, generated once into ``--data-dir``) and
per ``--code`` checkout (label=directory holding the ``ingestion`` package; default: this checkout), each step in
its own subprocess (wall time and peak RSS from ``os.wait4``), ``--repeat`` rounds that interleave the floor and
the checkouts, the median reported:

- **load**: every source into a fresh DuckDB file, per source and per file (``FileResult.seconds``);
- **again**: the same landing zone a second time into that database (every file skipped: the cost of hashing);
- **floor**: a plain DuckDB read of the same files into tables (``read_parquet``, ``read_csv``, ``read_json``
  with detected types, no checks, no line numbers): what the engine itself needs to read the data once.

Results are merged into ``benchmarks/results/ingestion.json`` (one entry per size, label and commit) and
``benchmarks/results/INGESTION.md`` is regenerated from it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from ingestion.contracts import SOURCES

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "benchmarks" / "results"
AS_OF = date(2026, 6, 30)


def _orders(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    factor = 1_000_000 if text.endswith("m") else 1_000 if text.endswith("k") else 1
    return int(float(text.rstrip("mk")) * factor)


# ------------------------------------------------------------------------------------------------ children


def child_load(landing: Path, db: Path, out: Path) -> None:
    """Load every source, then load them again (all skipped); per source and per file seconds."""
    import duckdb

    from ingestion.loader import ingest_source

    con = duckdb.connect(str(db))
    result: dict = {"sources": {}, "files": {}}
    started = time.perf_counter()
    for source in SOURCES:
        t0 = time.perf_counter()
        loaded = ingest_source(con, source, landing)
        result["sources"][source] = time.perf_counter() - t0
        for f in loaded.files:
            result["files"][f.path] = {"seconds": f.seconds, "status": f.status, "rows": f.rows_read}
    result["load_s"] = time.perf_counter() - started
    t0 = time.perf_counter()
    for source in SOURCES:
        ingest_source(con, source, landing)
    result["again_s"] = time.perf_counter() - t0
    result["rows"] = sum(f["rows"] for f in result["files"].values())
    con.close()
    out.write_text(json.dumps(result, indent=1))


def child_floor(landing: Path, db: Path, out: Path) -> None:
    """Read every landing file once with DuckDB's own readers into a table."""
    import duckdb

    con = duckdb.connect(str(db))
    started = time.perf_counter()
    files: dict[str, float] = {}
    for k, path in enumerate(sorted(p for s in SOURCES for p in (landing / s).iterdir())):
        name = str(path)
        if name.endswith(".parquet"):
            read = f"read_parquet('{name}')"
        elif name.endswith(".jsonl"):
            read = f"read_json('{name}', format = 'newline_delimited')"
        else:
            read = f"read_csv('{name}')"
        t0 = time.perf_counter()
        con.execute(f"CREATE TABLE t{k} AS SELECT * FROM {read}")
        files[f"{path.parent.name}/{path.name}"] = time.perf_counter() - t0
    out.write_text(json.dumps({"floor_s": time.perf_counter() - started, "files": files}, indent=1))


# ------------------------------------------------------------------------------------------------ parent


def _run_child(kind: str, code: Path, landing: Path, work: Path) -> tuple[dict, dict]:
    """One measured child run; (measurement, the child's own figures)."""
    work.mkdir(parents=True, exist_ok=True)
    db, out = work / "build.duckdb", work / "out.json"
    for path in (db, out, work / "build.duckdb.wal"):
        path.unlink(missing_ok=True)
    from benchmarks.run import measure

    # the script itself (not -m benchmarks.ingestion_speed): the checkout measured may have no such module
    env = {**os.environ, "PYTHONPATH": str(code)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--landing", str(landing)]
    cmd += ["--db", str(db), "--out", str(out)]
    measured = measure(cmd, env=env, log_file=work / f"{kind}.log")
    if measured["exit_code"] != 0:
        raise SystemExit(f"{kind} failed (exit {measured['exit_code']}); see {measured['log']}")
    return measured, json.loads(out.read_text())


def _cpu(measured: dict) -> float:
    return measured["cpu_user_s"] + measured["cpu_sys_s"]


def _median_run(runs: list[tuple[dict, dict]], key: str) -> tuple[dict, dict]:
    ordered = sorted(runs, key=lambda run: run[1][key])
    return ordered[len(ordered) // 2]


def _commit(code: Path) -> str:
    """The commit of the checkout ``code``, with "+dirty" when it has uncommitted changes."""
    described = subprocess.run(
        ["git", "-C", str(code), "describe", "--always", "--dirty=+dirty", "--abbrev=9"],
        capture_output=True,
        text=True,
    )
    return described.stdout.strip() or "unknown"


def bench(orders: int, codes: dict[str, Path], data_dir: Path, repeat: int) -> list[dict]:
    from benchmarks.run import log

    home = data_dir / f"orders-{orders}"
    landing = home / "landing"
    if not (home / "generated").exists():
        from demo.generator import generate_demo_data

        log(f"generating {orders:,} orders into {home}")
        shutil.rmtree(home, ignore_errors=True)
        generate_demo_data(home, orders=orders, seed=1, as_of=AS_OF)
        (home / "generated").touch()
    size_mb = sum(p.stat().st_size for s in SOURCES for p in (landing / s).iterdir()) / 1e6
    entries = []
    # Rounds interleave the floor and every checkout, so that a busy moment of a shared machine hits them alike.
    floors: list[tuple[dict, dict]] = []
    loads: dict[str, list[tuple[dict, dict]]] = {label: [] for label in codes}
    for k in range(repeat):
        floors.append(_run_child("floor", REPO_ROOT, landing, data_dir / "work" / "floor"))
        for label, code in codes.items():
            loads[label].append(_run_child("load", code, landing, data_dir / "work" / label))
            log(f"round {k + 1}: {label} load {loads[label][-1][1]['load_s']:.2f} s")
    floor_measured, floor = _median_run(floors, "floor_s")
    log(f"floor: {floor['floor_s']:.2f} s")
    for label, code in codes.items():
        runs = loads[label]
        measured, figures = _median_run(runs, "load_s")
        log(f"{label}: load {figures['load_s']:.2f} s, again {figures['again_s']:.2f} s")
        entries.append(
            {
                "orders": orders,
                "label": label,
                "commit": _commit(code),
                "landing_mb": round(size_mb, 1),
                "rows": figures["rows"],
                "load_s": round(figures["load_s"], 2),
                "load_runs_s": sorted(round(run[1]["load_s"], 2) for run in runs),
                "again_s": round(figures["again_s"], 2),
                "sources_s": {k: round(v, 2) for k, v in figures["sources"].items()},
                "files_s": {k: round(v["seconds"], 2) for k, v in figures["files"].items()},
                "peak_rss_mb": round(measured["peak_rss_kb"] / 1024),
                "cpu_s": round(statistics.median(_cpu(run[0]) for run in runs), 1),
                "cpu_runs_s": sorted(round(_cpu(run[0]), 1) for run in runs),
                "floor_s": round(floor["floor_s"], 2),
                "floor_files_s": {k: round(v, 2) for k, v in floor["files"].items()},
                "floor_peak_rss_mb": round(floor_measured["peak_rss_kb"] / 1024),
                "loadavg": measured["loadavg"],
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            }
        )
    return entries


def write_results(entries: list[dict]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "ingestion.json"
    old = json.loads(path.read_text()) if path.exists() else []
    keys = {(e["orders"], e["label"], e["commit"]) for e in entries}
    merged = [e for e in old if (e["orders"], e["label"], e["commit"]) not in keys] + entries
    merged.sort(key=lambda e: (e["orders"], e["measured_at"]))
    path.write_text(json.dumps(merged, indent=1) + "\n")
    lines = [
        "# Ingestion benchmark",
        "",
        "Generated by `python -m benchmarks.ingestion_speed` from `ingestion.json`; medians of the runs listed, "
        "which interleave the floor and the checkouts. *load*: every source into a fresh DuckDB file (wall and CPU "
        "seconds; on a shared machine CPU seconds vary less); *again*: the same files a second time (all skipped); "
        "*floor*: a plain DuckDB read of the same files into tables.",
        "",
        "| orders | label | commit | landing MB | rows | load s (runs) | CPU s (runs) | again s | floor s | "
        "load / floor | peak RSS MB | load avg |",
        "|---:|---|---|---:|---:|---|---|---:|---:|---:|---:|---|",
    ]
    for e in merged:
        runs = ", ".join(f"{s:.2f}" for s in e["load_runs_s"])
        lines.append(
            f"| {e['orders']:,} | {e['label']} | {e['commit'][:9]} | {e['landing_mb']} | {e['rows']:,} | "
            f"{e['load_s']:.2f} ({runs}) | {e['cpu_s']} ({', '.join(map(str, e['cpu_runs_s']))}) | "
            f"{e['again_s']:.2f} | {e['floor_s']:.2f} | {e['load_s'] / e['floor_s']:.1f} | {e['peak_rss_mb']} | "
            f"{e['loadavg'][0]:.1f} → {e['loadavg'][1]:.1f} |"
        )
    lines += ["", "Per file (seconds, last entry of each label and size):", ""]
    latest: dict[tuple[int, str], dict] = {}
    for e in merged:
        latest[(e["orders"], e["label"])] = e
    for (orders, label), e in sorted(latest.items()):
        lines.append(
            f"- {orders:,} orders, {label}: " + ", ".join(f"{k} {v}" for k, v in e["files_s"].items())
        )
    (RESULTS / "INGESTION.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", default="1M", help="comma list, e.g. 100k,1M")
    parser.add_argument("--code", action="append", default=[], help="label=DIR of a checkout to measure")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/c360-bench-ingestion"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=["load", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--landing", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "load":
        child_load(args.landing, args.db, args.out)
        return 0
    if args.child == "floor":
        child_floor(args.landing, args.db, args.out)
        return 0
    codes = dict(item.split("=", 1) for item in args.code) or {"current": str(REPO_ROOT)}
    entries = []
    for orders in (_orders(o) for o in args.orders.split(",")):
        entries += bench(orders, {k: Path(v).resolve() for k, v in codes.items()}, args.data_dir, args.repeat)
    write_results(entries)
    print(f"results in {RESULTS / 'INGESTION.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
