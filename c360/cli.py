"""`c360`: the command-line tool.

  c360 demo-data [--orders N] [--seed S] [--as-of DATE]   generate the demo landing zone
  c360 run --as-of DATE [--var KEY=VALUE ...]             run the whole pipeline for one as-of date
  c360 backfill --from DATE --to DATE                     run a date range, oldest first
  c360 publish --as-of DATE                               re-audit the current build and publish it if it passes
  c360 status                                             the last publications and held-back runs
  c360 ui                                                 the Dagster UI (and its daemon) on this project

Exit codes of run, backfill and publish: 0 published, 1 held back by a failed blocking check (the previous
publication is kept), 2 failed for another reason (the cause is printed first). Usage errors exit 2.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import sys
import time
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from c360.dbt_vars import VarError, check_vars, parse_assignments
from c360.settings import REPO_ROOT, Settings, SettingsError

EXIT_USAGE = 2

DAGSTER_YAML = """\
# Written by c360 (edit freely: c360 only writes this file when it is missing).
# Every run writes the build database: the run queue starts one at a time, in the order they were queued (a
# backfill replays its days in date order). `c360 run` takes its turn through the build database's own lock.
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
    max_concurrent_runs: 1
run_monitoring:
  enabled: true
telemetry:
  enabled: false
# Python logging of the c360 packages goes to the run's log in Dagster.
python_logs:
  managed_python_loggers: [publishing, reporting, expectations, ingestion, orchestration]
  python_log_level: INFO
"""


class UsageError(Exception):
    """A command line or setting c360 cannot use; printed without a traceback, exit 2."""


def _version() -> str:
    try:
        return version("c360")
    except PackageNotFoundError:
        return "unknown"


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise UsageError(str(exc)) from None


def _prepare(settings: Settings) -> None:
    """Folders, the Dagster instance configuration, and tools next to this Python on PATH (dagster dev, dbt)."""
    from c360.home import prepare_home

    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    prepare_home(settings)
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    dagster_yaml = settings.dagster_home / "dagster.yaml"
    if not dagster_yaml.exists():
        dagster_yaml.write_text(DAGSTER_YAML)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD)") from None


def _check_as_of(as_of: date) -> None:
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    if as_of > yesterday:
        raise UsageError(
            f"the as-of date {as_of} is not a complete day yet: use {yesterday} (yesterday, UTC) or earlier"
        )


def _vars(pairs: list[str]) -> dict:
    try:
        return check_vars(parse_assignments(pairs or []))
    except VarError as exc:
        raise UsageError(str(exc)) from None


def cmd_demo_data(args: argparse.Namespace) -> int:
    from demo.generator import generate_demo_data

    settings = _settings()
    _prepare(settings)
    started = time.monotonic()
    summary = generate_demo_data(
        settings.home,
        orders=args.orders,
        seed=args.seed,
        as_of=args.as_of,
        progress=lambda m: print(f"  {m}"),
    )
    settings.demo_marker.write_text(
        "Made by `c360 demo-data`: generated data, so the built-in demo hash key is allowed here.\n"
    )
    print(
        f"demo data in {settings.landing_dir}: {summary.orders:,} orders, {summary.customers:,} customers, "
        f"{summary.contacts:,} contacts, {summary.survey_responses:,} survey responses in {len(summary.files)} files "
        f"({time.monotonic() - started:.1f} s)"
    )
    return 0


def run_pipeline(
    as_of: date,
    dbt_vars: dict | None = None,
    *,
    quiet: bool = False,
    job_name: str | None = None,
    full_refresh: bool = False,
) -> int:
    """Materialize everything for one as-of date in this process; returns the exit code (0, 1, 2)."""
    settings = _settings()
    try:
        settings.pii_key()
        engine = settings.engine
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    if engine == "spark":
        from warehouse.spark_warehouse import spark_unavailable_reason

        reason = spark_unavailable_reason()
        if reason:
            raise UsageError(f"C360_DBT_TARGET=spark, but local Spark cannot run here: {reason}")
    _prepare(settings)
    started = time.monotonic()
    import dagster as dg

    from orchestration.dbt_runner import prepare_manifest
    from orchestration.definitions import build_definitions
    from orchestration.defs.automation import PIPELINE_JOB, RUN_CONFIG_STEPS
    from orchestration.recovery import recover_dead_runs
    from publishing.outcome import OUTCOME_TAG, handle_failed_run, summarize_run

    prepare_manifest()
    defs = build_definitions(settings, earliest_as_of=as_of)
    job = defs.resolve_job_def(job_name or PIPELINE_JOB)
    if gc.get_freeze_count() == 0:  # once per process (a backfill calls this per day)
        gc.freeze()  # the imported modules and definitions live as long as the process: keep them out of GC scans
    instance = dg.DagsterInstance.get()
    recover_dead_runs(instance, log=print)
    print(f"c360 {job.name}: as-of {as_of}, data in {settings.home}", flush=True)
    run_config: dict = {"loggers": {"console": {"config": {"log_level": "WARNING" if quiet else "INFO"}}}}
    if job.name == PIPELINE_JOB:
        step_config = {"config": {"vars_json": json.dumps(dbt_vars or {}), "full_refresh": full_refresh}}
        run_config["ops"] = {step: step_config for step in RUN_CONFIG_STEPS}
    result = job.execute_in_process(
        partition_key=as_of.isoformat(),
        instance=instance,
        raise_on_error=False,
        run_config=run_config,
    )
    if result.success:
        outcome = summarize_run(instance, result.run_id, as_of, success=True, settings=settings)
        instance.add_run_tags(result.run_id, {OUTCOME_TAG: outcome.status})
    else:
        outcome = handle_failed_run(settings, instance, result.run_id, as_of)
    _print_summary(settings, outcome, time.monotonic() - started)
    return outcome.exit_code


def _print_summary(settings: Settings, outcome, seconds: float) -> None:
    from publishing.log import entries

    print("\n" + "=" * 78)
    print(outcome.message())
    passed = sum(1 for c in outcome.checks if c.passed)
    print(
        f"checks: {passed} passed, {len(outcome.failed_checks)} failed (blocking), {len(outcome.warnings)} warnings"
        + (f", {len(outcome.not_run)} not run" if outcome.not_run else "")
    )
    for warning in outcome.warnings:
        print(f"  warning: {warning.line()}")
    log = entries(settings)
    published = [row for row in log if row["status"] == "published"]
    if published:
        last = published[-1]
        counts = last["row_counts"]
        counts = json.loads(counts) if isinstance(counts, str) else counts
        print(f"published tables (as-of {last['as_of_date']}, run {last['run_id']}):")
        for table, rows in sorted(counts.items()):
            print(f"  {table:<32} {rows:>12,} {'row' if rows == 1 else 'rows'}")
    print(f"published database: {settings.published_db}")
    print(f"parquet files:      {settings.published_dir}")
    report = settings.reports_dir / "latest.html"
    if report.exists():
        print(f"report:             {report}")
    print(f"finished in {seconds:.1f} s, exit code {outcome.exit_code}")
    print("=" * 78)
    if outcome.exit_code == 0 and settings.demo_marker.exists():
        print(
            "next steps:\n"
            "  .venv/bin/c360 status        the publications and their checks\n"
            f"  open {report}   the run report\n"
            "  .venv/bin/c360 ui            the Dagster UI: asset graph, checks, run history\n"
            "  BI tools: open the published database read-only (README: Connecting BI tools)"
        )


def cmd_run(args: argparse.Namespace) -> int:
    _check_as_of(args.as_of)
    return run_pipeline(args.as_of, _vars(args.var), quiet=args.quiet, full_refresh=args.full_refresh)


def cmd_publish(args: argparse.Namespace) -> int:
    from orchestration.defs.automation import AUDIT_PUBLISH_JOB

    _check_as_of(args.as_of)
    return run_pipeline(args.as_of, quiet=args.quiet, job_name=AUDIT_PUBLISH_JOB)


def cmd_backfill(args: argparse.Namespace) -> int:
    if args.end < args.start:
        raise UsageError(f"--to ({args.end}) is before --from ({args.start})")
    _check_as_of(args.end)
    dbt_vars = _vars(args.var)
    worst = 0
    day = args.start
    while day <= args.end:
        code = run_pipeline(day, dbt_vars, quiet=args.quiet)
        worst = max(worst, code)
        if code == 2:
            print(f"backfill stopped at {day}: the run failed (exit 2)", file=sys.stderr)
            return code
        day += timedelta(days=1)
    return worst


def cmd_status(args: argparse.Namespace) -> int:
    from publishing.log import entries
    from publishing.versions import current

    settings = _settings()
    log = entries(settings)
    if not log:
        print(f"nothing published yet in {settings.home} (run: c360 run --as-of YYYY-MM-DD)")
        return 0
    _check_published_db(settings)
    version = current(settings)
    print(f"published database: {settings.published_db}" + (f" (version {version.name})" if version else ""))
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
    history = [row for row in log if row["status"] == "published_history"]
    if history and (not last or history[-1]["logged_at"] > last[-1]["logged_at"]):
        print(f"last backfill: history of as-of {history[-1]['as_of_date']} (the current tables stay newer)")
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


def _check_published_db(settings: Settings) -> None:
    """A damaged published database gets a message saying what to do, not a traceback."""
    import duckdb

    if not settings.published_db.exists():
        return
    try:
        duckdb.connect(str(settings.published_db), read_only=True).close()
    except duckdb.Error as exc:
        raise UsageError(
            f"the published database {settings.published_db} cannot be read ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0]}). Delete it: the next run, or `c360 publish --as-of <date of the last "
            "publication>`, writes it again from the publication in place (publications/)."
        ) from None


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def cmd_ui(args: argparse.Namespace) -> int:
    settings = _settings()
    if not _port_free(args.host, args.port):
        raise UsageError(
            f"port {args.port} on {args.host} is in use (another c360 ui?): choose one with --port"
        )
    _prepare(settings)
    from orchestration.dbt_runner import prepare_manifest

    prepare_manifest()
    dagster = Path(sys.executable).with_name("dagster")
    argv = [str(dagster), "dev", "-m", "orchestration.definitions", "-h", args.host, "-p", str(args.port)]
    print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={settings.dagster_home})")
    os.chdir(REPO_ROOT)
    os.execv(argv[0], argv)
    return 0


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the description's layout and shows every option's default."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="c360", description=__doc__, formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"c360 {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text, formatter_class=_HelpFormatter)

    demo = command("demo-data", "generate the demo landing zone (orders, contacts, survey responses)")
    demo.add_argument("--orders", type=int, default=100_000, help="number of orders to generate")
    demo.add_argument("--seed", type=int, default=42, help="random seed (same seed, same data)")
    demo.add_argument("--as-of", type=_parse_date, default=date(2026, 6, 30), help="last day of the data")
    demo.set_defaults(func=cmd_demo_data)

    run = command("run", "run the whole pipeline for one as-of date")
    run.add_argument("--as-of", type=_parse_date, required=True, help="the day whose data is complete")
    run.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a business rule var of dbt_project.yml (checked against its type and range)",
    )
    run.add_argument("--quiet", action="store_true", help="only warnings and the summary")
    run.add_argument(
        "--full-refresh", action="store_true", help="rebuild the incremental staging models from all raw data"
    )
    run.set_defaults(func=cmd_run)

    backfill = command("backfill", "run a range of as-of dates, oldest first")
    backfill.add_argument("--from", dest="start", type=_parse_date, required=True, help="first as-of date")
    backfill.add_argument("--to", dest="end", type=_parse_date, required=True, help="last as-of date")
    backfill.add_argument("--var", action="append", default=[], metavar="KEY=VALUE", help="as for run")
    backfill.add_argument("--quiet", action="store_true", help="only warnings and the summaries")
    backfill.set_defaults(func=cmd_backfill)

    publish = command("publish", "re-audit the current build and publish it if every check passes")
    publish.add_argument(
        "--as-of", type=_parse_date, required=True, help="the as-of date of the current build"
    )
    publish.add_argument("--quiet", action="store_true", help="only warnings and the summary")
    publish.set_defaults(func=cmd_publish)

    status = command("status", "show the last publications and held-back runs")
    status.add_argument("--limit", type=int, default=10, help="how many log entries")
    status.set_defaults(func=cmd_status)

    ui = command("ui", "open the Dagster UI (webserver and daemon) on this project")
    ui.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    ui.add_argument("--port", type=int, default=3000, help="port to listen on")
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    # A run allocates millions of small objects (dbt, Dagster events) on top of a large, long-lived heap of
    # imported modules; the default thresholds trigger a collection every 700 allocations and about ten full
    # collections per run. Collections stay on, just less often.
    gc.set_threshold(50_000, 20, 100)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"c360 {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"c360 {args.command}: interrupted", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - never exit 1 (that means "held back") on an unexpected error
        import traceback

        traceback.print_exc()
        print(f"\nc360 {args.command} FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
