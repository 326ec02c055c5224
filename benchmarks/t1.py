"""T1, dbt alone: the pipeline's two dbt steps and the fit step between them, without Dagster.

Run as a subprocess by ``benchmarks.run`` (so that its wall time and peak RSS are its own)::

    python -m benchmarks.t1 --db DIR/build.duckdb --as-of 2026-06-30 --target TARGET --out t1.json \
        --rest "model_a model_b ..."

The same shape as ``c360 run``: ``dbt build`` of the fit step's upstream (``+tag:fit_input``), then
``orchestration.fits.run_fit_steps`` on the same database, then ``dbt build`` of every other model (``--rest``,
the models named one by one, as the pipeline's second dbt step selects them). Every dbt test runs once, after all
of the models it reads, and unit tests are excluded, as in the pipeline. dbt runs in this process through
``dbtRunner``, as the pipeline's dbt steps do.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


def _rows(result: object) -> tuple[list[dict], list[dict]]:
    """(models, tests) of a dbtRunner result: name, seconds, status."""
    models, tests = [], []
    for r in getattr(getattr(result, "result", None), "results", None) or []:
        uid = r.node.unique_id
        row = {"name": uid.split(".")[2], "seconds": round(r.execution_time, 3), "status": str(r.status)}
        (models if uid.startswith("model.") else tests).append(row)
    return models, tests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--target", type=Path, required=True)
    parser.add_argument("--rest", required=True, help="the models of the second dbt step, space separated")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--horizon-days", type=int, default=None)
    args = parser.parse_args(argv)
    if args.db.name != "build.duckdb":
        parser.error("the database file must be called build.duckdb")

    started = time.perf_counter()
    from dbt.cli.main import dbtRunner

    from orchestration.fits import FitSettings, run_fit_steps
    from warehouse.engines import FIT_UPSTREAM, open_engine

    common = [
        "--exclude-resource-type",
        "unit_test",
        "--vars",
        json.dumps({"as_of_date": args.as_of}),
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(args.target),
        "--log-path",
        str(args.target / "logs"),
        "--log-level",
        "warn",
    ]
    out: dict = {"imports_s": time.perf_counter() - started}
    settings = FitSettings.from_vars({"bgnbd_horizon_days": args.horizon_days} if args.horizon_days else {})
    second = None
    # the engine's connection has dbt-duckdb's configuration, so the fit and dbt share one database instance
    with open_engine("duckdb", args.db.parent) as engine:
        os.environ.update(engine.env)
        t = time.perf_counter()
        # cautious: a test that also reads a model of the second step (every order's customer is in the CRM)
        # runs there, with eager selection; as in the pipeline, every test runs once, after all of its parents
        first = dbtRunner().invoke(
            ["build", "--select", FIT_UPSTREAM, "--indirect-selection", "cautious", *common]
        )
        out["upstream_s"] = time.perf_counter() - t
        if first.success:
            t = time.perf_counter()
            run_fit_steps(engine.wh, as_of_date=args.as_of, settings=settings)
            out["fit_s"] = time.perf_counter() - t
            t = time.perf_counter()
            second = dbtRunner().invoke(["build", "--select", *args.rest.split(), *common])
            out["rest_s"] = time.perf_counter() - t

    models, tests = [], []
    for result in (first, second):
        m, ts = _rows(result)
        models += m
        tests += ts
    out.update(
        success=bool(first.success and second is not None and second.success),
        models=models,
        tests=tests,
        models_s=sum(m["seconds"] for m in models),
        tests_s=sum(x["seconds"] for x in tests),
        tests_count=len(tests),
        failed=[x["name"] for x in models + tests if x["status"] not in ("success", "pass", "warn")],
        total_s=time.perf_counter() - started,
    )
    args.out.write_text(json.dumps(out, indent=1))
    return 0 if out["success"] else 1


if __name__ == "__main__":
    sys.exit(main())
