"""The price of the distributed engine on one machine: the same dbt project on DuckDB and on Spark ``local[2]``,
and the whole pipeline (``c360 run``) on each.

    python -m benchmarks.engines --orders 100000,1000000
    python -m benchmarks.engines --orders 100000 --engines duckdb,spark,postgres   # postgres: C360_TEST_PG_DSN
    python -m benchmarks.engines --pipeline --orders 100000,1000000                # c360 run, duckdb and spark

Per size (``c360 demo-data`` data, seed 1, as-of 2026-06-30), the landing files are ingested once into a DuckDB
file (ingestion.loader). Then, per engine, in a subprocess of its own (wall time and peak RSS from ``os.wait4``):
the raw tables are loaded into the engine (DuckDB: the ingested file is the build database; Spark: Parquet tables
in a fresh local warehouse; PostgreSQL: a schema per table in the DSN's database), ``dbt build`` of the BG/NBD fit
step's upstream, the fit step, ``dbt build`` of the rest, without the unit tests (as T1 of benchmarks/run.py):
every model and data test. The worker reports the two phases; the subprocess wall time includes interpreter and
Spark start.

With ``--pipeline``, per size: ``c360 demo-data`` (seed 1), then per engine a fresh home on those files and
``C360_DBT_TARGET=<engine> c360 run --as-of 2026-06-30 --quiet`` twice: the first run (ingestion, both dbt steps
and the fit, the quality gate, publication, report) and the same date again (nothing new to load, unchanged
models reused, every check run again). Wall time and peak RSS of each ``c360`` process, the phases from the
Dagster run (``benchmarks.run_stats``).

Results are merged into ``benchmarks/results/engines.json`` and ``benchmarks/results/ENGINES.md`` is rewritten.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from benchmarks.report import RESULTS_DIR
from benchmarks.run import (
    base_env,
    generate,
    git_commit,
    link_landing,
    log,
    machine_info,
    measure,
    run_pipeline,
    slim,
    tail,
    versions,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = RESULTS_DIR / "engines.json"
REPORT = RESULTS_DIR / "ENGINES.md"
AS_OF = date(2026, 6, 30)


def worker(engine: str, raw_db: Path, root: Path, out: Path) -> int:
    """One engine's load and build, in this process (Spark must run in the process that runs dbt)."""
    from c360.settings import DBT_PROJECT_DIR
    from orchestration.fits import FitSettings, run_fit_steps
    from warehouse.engines import built_from_raw

    with built_from_raw(
        engine,
        root,
        raw_db,
        project_dir=DBT_PROJECT_DIR,
        dbt_vars=json.dumps({"as_of_date": AS_OF.isoformat()}),
        fit=lambda wh: run_fit_steps(wh, as_of_date=AS_OF.isoformat(), settings=FitSettings.from_vars()),
        pg_dsn=os.environ.get("C360_TEST_PG_DSN"),
        extra_args=["--exclude-resource-type", "unit_test"],
    ) as (_, outcome):
        nodes = sum(len(r.result.results) for r in (outcome.first, outcome.second) if r and r.result)
        result = {
            "success": outcome.success,
            "failures": outcome.failures(),
            "nodes": nodes,
            **outcome.seconds,
        }
    out.write_text(json.dumps(result))
    return 0 if outcome.success else 1


def prepare(orders: int, work: Path, env: dict[str, str]) -> tuple[Path, dict]:
    """Demo data and its DuckDB ingestion (timed, for reference)."""
    home = work / "home"
    landing = work / "landing.duckdb"
    code = (
        "import sys; from datetime import date; from pathlib import Path; "
        "from demo.generator import generate_demo_data; from ingestion.loader import SOURCES, ingest_source; "
        "from warehouse import connect; home = Path(sys.argv[1]); "
        f"generate_demo_data(home, orders={orders}, seed=1, as_of=date.fromisoformat('{AS_OF}')); "
        "con = connect(Path(sys.argv[2])); [ingest_source(con, s, home / 'landing') for s in SOURCES]; con.close()"
    )
    stats = measure(
        [sys.executable, "-c", code, str(home), str(landing)], env=env, log_file=work / "prepare.log"
    )
    if stats["exit_code"] != 0:
        raise SystemExit(f"data preparation failed:\n{tail(work / 'prepare.log')}")
    return landing, stats


def run_size(orders: int, engines: list[str], data_dir: Path, keep: bool) -> dict:
    work = data_dir / f"engines_{orders}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = base_env(None)
    if "C360_TEST_PG_DSN" in os.environ:
        env["C360_TEST_PG_DSN"] = os.environ["C360_TEST_PG_DSN"]
    log(f"{orders:,} orders: generating and ingesting")
    landing, prepared = prepare(orders, work, env)
    entry: dict = {"orders": orders, "prepare": prepared, "engines": {}}
    for engine in engines:
        log(f"{orders:,} orders: {engine}")
        out = work / f"{engine}.json"
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.engines",
            "--worker",
            engine,
            str(landing),
            str(work / engine),
            str(out),
        ]
        stats = measure(cmd, env=env, log_file=work / f"{engine}.log")
        stats.update(json.loads(out.read_text()) if out.exists() else {"success": False})
        if not stats.get("success"):
            stats["log_tail"] = tail(work / f"{engine}.log")
        entry["engines"][engine] = stats
        log(f"  {engine}: {stats['wall_s']:.1f} s wall, exit {stats['exit_code']}")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return entry


def pipeline_size(orders: int, engines: list[str], data_dir: Path, keep: bool) -> dict:
    """``c360 run`` on each engine, twice, on the same generated landing files."""
    work = data_dir / f"pipeline_{orders}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {**base_env(None), "C360_LANDING_SETTLE_SECONDS": "0"}
    generated = work / "generated"
    generation = generate(orders, 1, AS_OF, generated, env, work, reuse=False)
    entry: dict = {"orders": orders, "generation": slim(generation), "engines": {}}
    for engine in engines:
        home = work / engine
        link_landing(generated / "landing", home / "landing")
        (home / ".c360-demo-home").write_text("generated by benchmarks.engines\n")
        engine_env = {**env, "C360_DBT_TARGET": engine}
        runs = {
            label: run_pipeline(f"{engine}_{label}", home, AS_OF, engine_env, work)
            for label in ("first", "again")
        }
        for measured in runs.values():
            if measured["exit_code"] != 0:
                measured["log_tail"] = tail(Path(measured["log"]))
        entry["engines"][engine] = {label: slim(measured) for label, measured in runs.items()}
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return entry


def _render_pipeline(runs: list[dict]) -> list[str]:
    lines = [
        "",
        "## The whole pipeline: `c360 run` on each engine",
        "",
        "Written by `python -m benchmarks.engines --pipeline`. `C360_DBT_TARGET=<engine> c360 run --as-of 2026-06-30",
        "--quiet` on a fresh home (demo data, seed 1), then the same date again (nothing new to load, unchanged",
        "models reused, every check run again). Phases in seconds from the Dagster run's steps: ingestion (the",
        "three raw_* steps), dbt (both dbt steps), fit (BG/NBD), checks (the GX suites), publication; wall = the",
        "whole `c360` process (interpreter, Spark start, Dagster, every step). Peak RSS: the Python process (Spark's",
        "JVM runs inside it with pyspark's local mode, in a process of its own, not counted).",
        "",
        "| orders | engine | run | wall (s) | ingestion | dbt | fit | checks | publication | peak RSS (GB) | exit | measured |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for entry in sorted(runs, key=lambda e: e["orders"]):
        for engine, measured in entry["engines"].items():
            for label, m in measured.items():
                phases = m.get("phases") or {}
                cells = [
                    f"{phases.get(p, float('nan')):.1f}"
                    for p in ("ingestion", "dbt", "fit", "checks", "publication")
                ]
                rss = m.get("peak_rss_kb")
                lines.append(
                    f"| {entry['orders']:,} | {engine} | {'first' if label == 'first' else 'same date again'} "
                    f"| {m['wall_s']:.1f} | {' | '.join(cells)} | {rss / 1024 / 1024 if rss else float('nan'):.2f} "
                    f"| {m['exit_code']} | {entry['measured_at']} ({entry.get('git_commit')}) |"
                )
    return lines


def render(data: dict) -> str:
    lines = [
        "# The same dbt project on DuckDB and Spark local[2] (and PostgreSQL)",
        "",
        "Written by `python -m benchmarks.engines`; do not edit. Per engine: load of the raw tables into the engine,",
        "then `dbt build` (models and data tests, no unit tests) with the BG/NBD fit step between the two selections;",
        "wall = the whole subprocess (interpreter, Spark start, load, build). Peak RSS is the Python process's: Spark's",
        "JVM is a process of its own and is not counted in it.",
        "",
        "| orders | engine | load raw (s) | dbt build + fit (s) | wall (s) | peak RSS (GB) | nodes | ok | measured |",
        "|---:|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for entry in sorted(data["runs"], key=lambda e: e["orders"]):
        for engine, s in entry["engines"].items():
            rss = s.get("peak_rss_kb")
            lines.append(
                f"| {entry['orders']:,} | {engine} | {s.get('load_raw', float('nan')):.1f} "
                f"| {s.get('dbt_build_and_fit', float('nan')):.1f} | {s['wall_s']:.1f} "
                f"| {rss / 1024 / 1024 if rss else float('nan'):.2f} | {s.get('nodes', '')} "
                f"| {'yes' if s.get('success') else 'NO'} | {entry['measured_at']} ({entry.get('git_commit')}) |"
            )
    if data.get("pipeline_runs"):
        lines += _render_pipeline(data["pipeline_runs"])
    machine = data.get("machine", {})
    lines += [
        "",
        f"Machine: {machine.get('cpu_model')}, {machine.get('cores')} cores, {machine.get('ram_gb')} GB RAM.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", default="100000,1000000", help="comma-separated sizes")
    parser.add_argument("--engines", default="duckdb,spark", help="comma-separated: duckdb, spark, postgres")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/c360-bench"))
    parser.add_argument("--keep-data", action="store_true")
    parser.add_argument("--pipeline", action="store_true", help="c360 run on each engine (duckdb, spark)")
    parser.add_argument(
        "--worker", nargs=4, metavar=("ENGINE", "RAW_DB", "ROOT", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.worker:
        engine, raw_db, root, out = args.worker
        return worker(engine, Path(raw_db), Path(root), Path(out))
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"runs": []}
    key = "pipeline_runs" if args.pipeline else "runs"
    for orders in (int(o) for o in args.orders.split(",")):
        if args.pipeline:
            entry = pipeline_size(orders, engines, args.data_dir, args.keep_data)
        else:
            entry = run_size(orders, engines, args.data_dir, args.keep_data)
        entry.update(
            measured_at=datetime.now(UTC).strftime("%Y-%m-%d"), git_commit=git_commit(), versions=versions()
        )
        data[key] = [r for r in data.get(key, []) if r["orders"] != orders] + [entry]
        data["machine"] = machine_info()
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(data, indent=2) + "\n")
        REPORT.write_text(render(data))
    print(REPORT.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
