"""Jobs, the daily schedule and the sensors: landing files, held-back / failed-run alerts, dead runs."""

import hashlib
import json
from datetime import date, timedelta

import dagster as dg

from c360.settings import Settings
from ingestion.loader import SOURCES
from orchestration.defs.resources import C360Resource
from orchestration.recovery import recover_dead_runs
from publishing.outcome import handle_failed_run

PIPELINE_JOB = "c360_pipeline"
# The steps that take the run's var overrides and full-refresh flag (DbtRunConfig).
RUN_CONFIG_STEPS = ("c360_dbt_upstream", "model_fits", "c360_dbt_models")
AUDIT_PUBLISH_JOB = "c360_audit_publish"

# Every step of a run executes in the run's own process, one after the other: the steps share one warehouse
# connection setting, the parsed dbt manifest and the imported libraries, as `c360 run` does. (Dagster's default
# starts a process per step, which cost about 25-40 s per step on a 2-core machine.)
EXECUTOR = dg.in_process_executor


def build_jobs(partitions_def: dg.PartitionsDefinition, published: list[str]) -> list:
    pipeline = dg.define_asset_job(
        PIPELINE_JOB,
        selection=dg.AssetSelection.all(),
        description="Ingest landing files, build and test the dbt models, run the quality gate, publish.",
        tags={"c360/pipeline": "full"},
        executor_def=EXECUTOR,
    )
    # Re-audit the current build database and publish it if every blocking check passes, without re-ingesting or
    # rebuilding: after a held-back run was fixed by hand, or to retry a publication that failed.
    audit_publish = dg.define_asset_job(
        AUDIT_PUBLISH_JOB,
        selection=dg.AssetSelection.assets("published_tables")
        | dg.AssetSelection.checks_for_assets(*[dg.AssetKey(name) for name in published]),
        description="Run the dbt tests and Great Expectations suites on the current build, then publish if all pass.",
        tags={"c360/pipeline": "audit_publish"},
        executor_def=EXECUTOR,
    )
    return [pipeline, audit_publish]


def build_schedule(job, *, cron: str, running: bool) -> dg.ScheduleDefinition:
    """The daily run (C360_SCHEDULE_CRON, default 02:00 UTC) for the previous day: as-of date = tick date - 1."""

    def request(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        as_of = context.scheduled_execution_time.date() - timedelta(days=1)
        return dg.RunRequest(partition_key=as_of.isoformat(), tags={"c360/trigger": "schedule"})

    return dg.ScheduleDefinition(
        name="c360_daily",
        job=job,
        cron_schedule=cron,
        execution_timezone="UTC",
        execution_fn=request,
        description="The daily run for yesterday's data. Off by default in a demo home (made by c360 demo-data); "
        "turn it on in the UI (Automation) or with `dagster schedule start c360_daily`.",
        default_status=dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED,
    )


def run_partition(tags: dict[str, str]) -> str | None:
    """The as-of date of a run: its partition tag, or the one-day range of an asset backfill's run."""
    if tags.get("dagster/partition"):
        return tags["dagster/partition"]
    start, end = (
        tags.get("dagster/asset_partition_range_start"),
        tags.get("dagster/asset_partition_range_end"),
    )
    return start if start and start == end else None


def landing_fingerprint(settings: Settings) -> dict[str, str]:
    files = {}
    for source in SOURCES:
        folder = settings.landing_dir / source
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                stat = path.stat()
                files[f"{source}/{path.name}"] = f"{stat.st_size}:{int(stat.st_mtime)}"
    return files


def build_sensors(job, partitions_def: dg.PartitionsDefinition) -> list[dg.SensorDefinition]:
    @dg.sensor(job=job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
    def landing_sensor(context: dg.SensorEvaluationContext, c360: C360Resource):
        """Starts one run (latest complete day) per batch of new or changed landing files, not one per file."""
        current = landing_fingerprint(c360.settings())
        seen = json.loads(context.cursor) if context.cursor else {}
        changed = sorted(name for name, stamp in current.items() if seen.get(name) != stamp)
        if not changed:
            return dg.SkipReason("no new files in the landing zone")
        context.update_cursor(json.dumps(current, sort_keys=True))
        batch = hashlib.sha256("\n".join(f"{n}={current[n]}" for n in changed).encode()).hexdigest()[:16]
        return dg.RunRequest(
            run_key=f"landing-{batch}",
            partition_key=partitions_def.get_last_partition_key(),
            tags={"c360/trigger": "landing_sensor", "c360/new_files": str(len(changed))},
        )

    @dg.run_failure_sensor(name="held_back_alert", default_status=dg.DefaultSensorStatus.RUNNING)
    def held_back_alert(context: dg.RunFailureSensorContext, c360: C360Resource):
        """Held back or failed runs: the publication log records them and the alert is written."""
        run = context.dagster_run
        partition = run_partition(run.tags)
        if partition:
            handle_failed_run(c360.settings(), context.instance, run.run_id, date.fromisoformat(partition))

    @dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
    def dead_run_sweeper(context: dg.SensorEvaluationContext):
        """Marks failed the runs whose process died, so the run queue (one build at a time) moves on."""
        recovered = recover_dead_runs(context.instance, log=context.log.info)
        return dg.SkipReason(f"marked {len(recovered)} dead runs failed" if recovered else "no dead runs")

    return [landing_sensor, held_back_alert, dead_run_sweeper]
