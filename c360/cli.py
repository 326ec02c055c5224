"""`c360`: the command-line tool (SPEC 7).

  c360 demo-data [--orders N] [--seed S] [--as-of DATE]   generate the demo landing zone
  c360 run --as-of DATE [--var KEY=VALUE ...]             run the whole pipeline for one as-of date
  c360 backfill --from DATE --to DATE                     run a date range, oldest first
  c360 publish --as-of DATE                               re-audit the current build and publish it if it passes
  c360 status                                             the last publications
  c360 ui                                                 the Dagster UI on this project

Exit codes of run/backfill: 0 published, 1 held back by a failed blocking check (previous publication kept),
2 failed for another reason.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from c360.settings import REPO_ROOT, Settings

DAGSTER_YAML = """\
# Written by c360. Every writer of the build database is in the pool c360_build_db; one slot means a scheduled
# run and a manual run take turns instead of failing on DuckDB's single-writer lock.
concurrency:
  pools:
    default_limit: 1
run_monitoring:
  enabled: true
telemetry:
  enabled: false
# Dagster's SQLite event log, reusing its connections (orchestration/dagster_storage.py): a run stores hundreds
# of events, and the stock storage opens and syncs a database per event.
event_log_storage:
  module: orchestration.dagster_storage
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {storage_dir}
"""


def _prepare(settings: Settings) -> None:
    # tools installed next to this Python (dbt, dagster) must be found without an activated virtualenv
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    settings.ensure_dirs()
    settings.export_for_subprocesses()
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    dagster_yaml = settings.dagster_home / "dagster.yaml"
    if not dagster_yaml.exists():
        dagster_yaml.write_text(DAGSTER_YAML.format(storage_dir=settings.dagster_home / "storage"))
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD)") from None


def _parse_vars(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--var expects KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def cmd_demo_data(args: argparse.Namespace) -> int:
    from demo.generator import generate_demo_data

    settings = Settings.from_env()
    settings.ensure_dirs()
    started = time.monotonic()
    summary = generate_demo_data(
        settings.home,
        orders=args.orders,
        seed=args.seed,
        as_of=args.as_of,
        progress=lambda m: print(f"  {m}"),
    )
    print(
        f"demo data in {settings.landing_dir}: {summary.orders:,} orders, {summary.customers:,} customers, "
        f"{summary.contacts:,} contacts, {summary.survey_responses:,} survey responses in {len(summary.files)} files "
        f"({time.monotonic() - started:.1f} s)"
    )
    return 0


def _recover_dead_runs(instance) -> None:
    """Runs of this machine whose c360 process died (killed, crashed) are marked failed and give back their
    concurrency slot; otherwise the pool slot stays claimed and every later run would wait forever."""

    import dagster as dg

    host = socket.gethostname()
    active = instance.get_runs(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING])
    )
    for run in active:
        pid = run.tags.get("c360/pid")
        if not pid or run.tags.get("c360/host") != host:
            continue
        try:
            os.kill(int(pid), 0)
            continue  # still running
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        instance.report_run_failed(run, f"the c360 process {pid} that ran it is gone (killed or crashed)")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        print(f"marked run {run.run_id} failed: its process {pid} is gone")


def run_pipeline(
    as_of: date,
    dbt_vars: dict | None = None,
    *,
    quiet: bool = False,
    job_name: str | None = None,
    full_refresh: bool = False,
) -> int:
    """Materialize everything for one as-of date in this process; returns the exit code (0, 1, 2)."""
    settings = Settings.from_env()
    _prepare(settings)
    started = time.monotonic()
    from orchestration.dbt_manifest import ensure_manifest

    ensure_manifest()
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.defs.automation import PIPELINE_JOB
    from publishing.outcome import handle_failed_run, summarize_run

    job = defs.resolve_job_def(job_name or PIPELINE_JOB)
    if gc.get_freeze_count() == 0:  # once per process (a backfill calls this per day)
        gc.freeze()  # the imported modules and definitions live as long as the process: keep them out of GC scans
    instance = dg.DagsterInstance.get()
    _recover_dead_runs(instance)
    print(f"c360 {job.name}: as-of {as_of}, data in {settings.home}", flush=True)
    run_config = {
        "loggers": {"console": {"config": {"log_level": "WARNING" if quiet else "INFO"}}},
    }
    if job_name is None or job_name == PIPELINE_JOB:
        run_config["ops"] = {
            "c360_dbt_models": {
                "config": {"vars_json": json.dumps(dbt_vars or {}), "full_refresh": full_refresh}
            }
        }
    try:
        result = job.execute_in_process(
            partition_key=as_of.isoformat(),
            instance=instance,
            raise_on_error=False,
            run_config=run_config,
            tags={"c360/pid": str(os.getpid()), "c360/host": socket.gethostname()},
        )
    except Exception as exc:  # a definition or configuration problem: nothing ran
        print(f"\nFAILED before the run started: {exc}", file=sys.stderr)
        return 2
    if result.success:
        outcome = summarize_run(instance, result.run_id, as_of, success=True)
    else:
        outcome = handle_failed_run(settings, instance, result.run_id, as_of)
    _print_summary(settings, outcome, time.monotonic() - started)
    return outcome.exit_code


def _print_summary(settings: Settings, outcome, seconds: float) -> None:
    from publishing.duckdb_file import previous_log

    print("\n" + "=" * 78)
    print(outcome.message())
    passed = sum(1 for c in outcome.checks if c.passed)
    print(
        f"checks: {passed} passed, {len(outcome.failed_checks)} failed (blocking), {len(outcome.warnings)} warnings"
    )
    for warning in outcome.warnings:
        print(f"  warning: {warning.line()}")
    log = previous_log(settings)
    published = [row for row in log if row["status"] == "published"]
    if published:
        last = published[-1]
        counts = last["row_counts"]
        counts = json.loads(counts) if isinstance(counts, str) else counts
        print(f"published tables (as-of {last['as_of_date']}, run {last['run_id']}):")
        for table, rows in sorted(counts.items()):
            print(f"  {table:<32} {rows:>12,} rows")
    print(f"published database: {settings.published_db}")
    print(f"parquet files:      {settings.published_dir}")
    report = settings.reports_dir / "latest.html"
    if report.exists():
        print(f"report:             {report}")
    print(f"finished in {seconds:.1f} s, exit code {outcome.exit_code}")
    print("=" * 78)


def cmd_run(args: argparse.Namespace) -> int:
    return run_pipeline(args.as_of, _parse_vars(args.var), quiet=args.quiet, full_refresh=args.full_refresh)


def cmd_publish(args: argparse.Namespace) -> int:
    from orchestration.defs.automation import AUDIT_PUBLISH_JOB

    return run_pipeline(args.as_of, quiet=args.quiet, job_name=AUDIT_PUBLISH_JOB)


def cmd_backfill(args: argparse.Namespace) -> int:
    if args.end < args.start:
        raise SystemExit("--to must not be before --from")
    worst = 0
    day = args.start
    while day <= args.end:
        code = run_pipeline(day, _parse_vars(args.var), quiet=args.quiet)
        worst = max(worst, code)
        if code == 2:
            print(f"backfill stopped at {day}: the run failed (exit 2)", file=sys.stderr)
            return code
        day += timedelta(days=1)
    return worst


def cmd_status(args: argparse.Namespace) -> int:
    from publishing.duckdb_file import previous_log

    settings = Settings.from_env()
    log = previous_log(settings)
    if not log:
        print(f"nothing published yet in {settings.published_db} (run: c360 run --as-of YYYY-MM-DD)")
        return 0
    print(f"published database: {settings.published_db}")
    for row in log[-args.limit :]:
        print(
            f"  {row['logged_at']:%Y-%m-%d %H:%M:%S}  as-of {row['as_of_date']}  {row['status']:<10} "
            f"run {row['run_id'][:8]}  checks passed {row['checks_passed']}, failed {row['checks_failed']}, "
            f"warnings {row['warnings']}"
        )
        if row["failed_checks"]:
            for line in row["failed_checks"].splitlines():
                print(f"      failed: {line}")
    last = [row for row in log if row["status"] == "published"]
    if last:
        counts = last[-1]["row_counts"]
        counts = json.loads(counts) if isinstance(counts, str) else counts
        print(
            f"last publication: as-of {last[-1]['as_of_date']}, "
            + ", ".join(f"{t}={n:,}" for t, n in counts.items())
        )
    report = settings.reports_dir / "latest.html"
    if report.exists():
        print(f"report: {report}")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    _prepare(settings)
    from orchestration.dbt_manifest import ensure_manifest

    ensure_manifest()
    dagster = Path(sys.executable).with_name("dagster")
    argv = [str(dagster), "dev", "-m", "orchestration.definitions", "-h", args.host, "-p", str(args.port)]
    print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={settings.dagster_home})")
    os.chdir(REPO_ROOT)
    os.execv(argv[0], argv)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="c360", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo-data", help="generate the demo landing zone")
    demo.add_argument("--orders", type=int, default=100_000)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--as-of", type=_parse_date, default=date(2026, 6, 30))
    demo.set_defaults(func=cmd_demo_data)

    run = sub.add_parser("run", help="run the pipeline for one as-of date")
    run.add_argument("--as-of", type=_parse_date, required=True)
    run.add_argument("--var", action="append", default=[], metavar="KEY=VALUE", help="override a dbt var")
    run.add_argument("--quiet", action="store_true", help="only warnings and the summary")
    run.add_argument(
        "--full-refresh", action="store_true", help="rebuild the incremental staging models from all raw data"
    )
    run.set_defaults(func=cmd_run)

    backfill = sub.add_parser("backfill", help="run a range of as-of dates, oldest first")
    backfill.add_argument("--from", dest="start", type=_parse_date, required=True)
    backfill.add_argument("--to", dest="end", type=_parse_date, required=True)
    backfill.add_argument("--var", action="append", default=[], metavar="KEY=VALUE")
    backfill.add_argument("--quiet", action="store_true")
    backfill.set_defaults(func=cmd_backfill)

    publish = sub.add_parser(
        "publish", help="re-audit the current build and publish it if every check passes"
    )
    publish.add_argument("--as-of", type=_parse_date, required=True)
    publish.add_argument("--quiet", action="store_true")
    publish.set_defaults(func=cmd_publish)

    status = sub.add_parser("status", help="show the last publications")
    status.add_argument("--limit", type=int, default=10)
    status.set_defaults(func=cmd_status)

    ui = sub.add_parser("ui", help="open the Dagster UI")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    # A run allocates millions of small objects (dbt, Dagster events) on top of a large, long-lived heap of
    # imported modules; the default thresholds trigger a collection every 700 allocations and about ten full
    # collections per run (about 1.5 s of 18 s at 100k orders). Collections stay on, just less often.
    gc.set_threshold(50_000, 20, 100)
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
