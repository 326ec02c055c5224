"""T0, the floor: the pipeline's work done directly in one DuckDB connection, without dbt or Dagster.

Run as a subprocess by ``benchmarks.run`` (so that its peak RSS is measured on its own)::

    python -m benchmarks.t0 --db DIR/build.duckdb --landing DIR/landing --manifest TARGET/manifest.json \
        --as-of 2026-06-30 \
        --out t0.json [--memory-limit 4GB] [--snapshot-after-ingest DIR/build.duckdb]

1. the same ingestion (``ingestion.loader.ingest_source`` for every source, into the same connection);
2. every dbt model as ``create or replace table <relation> as <compiled_code>`` (incremental models as plain
   tables), in the pipeline's shape: the models the fit step reads (``+tag:fit_input``) in DAG order, then the
   fit step itself (``orchestration.fits.run_fit_steps`` on the same connection: BG/NBD, Gamma-Gamma and the
   backtest fits, written to the ``analytics`` tables the rest reads as a source), then every other model in DAG
   order;
3. every dbt test's compiled SQL as ``select count(*) from (<test sql>)``.

The database file must be called ``build.duckdb``: the compiled SQL names its relations ``"build"."schema"."x"``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb


def _connect(db: Path, memory_limit: str | None) -> duckdb.DuckDBPyConnection:
    config = {"memory_limit": memory_limit} if memory_limit else {}
    con = duckdb.connect(str(db), config=config)
    con.execute("set TimeZone = 'UTC'")  # as warehouse.connect and the dbt profile
    return con


def _model_order(manifest: dict) -> tuple[list[dict], list[dict]]:
    """(the models the fit step reads and their upstream models, every other model), each in DAG order."""
    from warehouse.engines import fit_upstream

    models = {k: n for k, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    graph = {k: [d for d in n["depends_on"]["nodes"] if d in models] for k, n in models.items()}
    upstream = fit_upstream(manifest["nodes"])
    if not upstream:
        raise SystemExit("t0: the manifest has no model tagged fit_input")
    order = list(TopologicalSorter(graph).static_order())
    return [models[k] for k in order if k in upstream], [models[k] for k in order if k not in upstream]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--as-of", required=True, help="the run's as-of date, stored with the fits")
    parser.add_argument("--memory-limit", default=None)
    parser.add_argument(
        "--snapshot-after-ingest",
        type=Path,
        default=None,
        help="copy the database after ingestion here (the input of T1); not counted in T0",
    )
    args = parser.parse_args(argv)
    if args.db.name != "build.duckdb":
        parser.error('the database file must be called build.duckdb (the compiled SQL says "build")')

    started = time.perf_counter()
    # imports are part of T0 like they are of T2
    from ingestion.loader import SOURCES, ingest_source
    from orchestration.fits import FitSettings, run_fit_steps
    from warehouse import DuckDBWarehouse

    manifest = json.loads(args.manifest.read_text())
    imports_s = time.perf_counter() - started
    result: dict = {"imports_s": imports_s, "ingest_files": [], "models": [], "tests": []}

    args.db.parent.mkdir(parents=True, exist_ok=True)
    con = _connect(args.db, args.memory_limit)

    # 1. ingestion
    t = time.perf_counter()
    for source in SOURCES:
        loaded = ingest_source(con, source, args.landing)
        for f in loaded.files:
            result["ingest_files"].append(
                {"file": f.path, "status": f.status, "rows": f.rows_loaded, "seconds": round(f.seconds, 3)}
            )
            if f.status == "failed":
                print(f"t0: ingestion of {f.path} failed: {f.error}", file=sys.stderr)
    con.execute("checkpoint")
    result["ingest_s"] = time.perf_counter() - t

    result["snapshot_s"] = 0.0
    if args.snapshot_after_ingest:
        t = time.perf_counter()
        con.close()
        args.snapshot_after_ingest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.db, args.snapshot_after_ingest)
        con = _connect(args.db, args.memory_limit)
        result["snapshot_s"] = time.perf_counter() - t

    # 2. models in DAG order
    t = time.perf_counter()
    for schema in sorted({n["schema"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}):
        con.execute(f'create schema if not exists "{schema}"')
    upstream, rest = _model_order(manifest)

    def build(nodes: list[dict]) -> None:
        for node in nodes:
            tm = time.perf_counter()
            con.execute(f"create or replace table {node['relation_name']} as {node['compiled_code']}")
            result["models"].append({"name": node["name"], "seconds": round(time.perf_counter() - tm, 3)})

    build(upstream)
    tf = time.perf_counter()
    run_fit_steps(DuckDBWarehouse(con), as_of_date=args.as_of, settings=FitSettings.from_vars())
    result["fit_s"] = time.perf_counter() - tf
    build(rest)
    con.execute("checkpoint")
    result["models_s"] = time.perf_counter() - t - result["fit_s"]

    # 3. dbt tests as SQL
    t = time.perf_counter()
    failing = 0
    for key, node in manifest["nodes"].items():
        if node["resource_type"] != "test":
            continue
        tt = time.perf_counter()
        (count,) = con.execute(f"select count(*) from ({node['compiled_code']}) as t0_test").fetchone()
        result["tests"].append(
            {"name": node["name"], "failing_rows": count, "seconds": round(time.perf_counter() - tt, 3)}
        )
        if count and str(node["config"].get("severity", "error")).lower() == "error":
            failing += 1
            print(f"t0: test {key} has {count} failing rows", file=sys.stderr)
    result["tests_s"] = time.perf_counter() - t
    result["tests_failed"] = failing
    con.close()

    result["total_s"] = time.perf_counter() - started - result["snapshot_s"]
    result["threads"] = os.cpu_count()
    args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
