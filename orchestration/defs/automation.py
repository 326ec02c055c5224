"""Job, daily schedule and sensors: the landing-zone sensor and the held-back / failure alert."""

import hashlib
import json
from datetime import date

import dagster as dg

from c360.settings import SOURCES, Settings
from orchestration.defs.publication import PUBLISHED_TABLES
from orchestration.defs.resources import DAILY
from publishing.outcome import handle_failed_run

PIPELINE_JOB = "c360_pipeline"

c360_pipeline = dg.define_asset_job(
    PIPELINE_JOB,
    selection=dg.AssetSelection.all(),
    description="Ingest landing files, build and test the dbt models, run the quality gate, publish.",
    tags={"c360/pipeline": "full"},
)

AUDIT_PUBLISH_JOB = "c360_audit_publish"

# Re-audit the current build database and publish it if every blocking check passes, without re-ingesting or
# rebuilding: after a held-back run was fixed by hand, or to retry a publication that failed.
c360_audit_publish = dg.define_asset_job(
    AUDIT_PUBLISH_JOB,
    selection=dg.AssetSelection.assets("published_tables")
    | dg.AssetSelection.checks_for_assets(*[dg.AssetKey(name) for name in PUBLISHED_TABLES]),
    description="Run the dbt tests and Great Expectations suites on the current build, then publish if all pass.",
    tags={"c360/pipeline": "audit_publish"},
)

# Every day at 02:00 UTC for the previous day's partition: as-of date = the scheduled day minus one.
daily_schedule = dg.build_schedule_from_partitioned_job(
    c360_pipeline,
    hour_of_day=2,
    minute_of_hour=0,
    name="c360_daily",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


def _landing_fingerprint(settings: Settings) -> dict[str, str]:
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


@dg.sensor(job=c360_pipeline, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def landing_sensor(context: dg.SensorEvaluationContext):
    """Starts one run (latest complete day) per batch of new or changed landing files, not one per file."""
    settings = Settings.from_env()
    current = _landing_fingerprint(settings)
    seen = json.loads(context.cursor) if context.cursor else {}
    changed = sorted(name for name, stamp in current.items() if seen.get(name) != stamp)
    if not changed:
        return dg.SkipReason("no new files in the landing zone")
    context.update_cursor(json.dumps(current, sort_keys=True))
    partition_key = DAILY.get_last_partition_key()
    batch = hashlib.sha256("\n".join(f"{n}={current[n]}" for n in changed).encode()).hexdigest()[:16]
    return dg.RunRequest(
        run_key=f"landing-{batch}",
        partition_key=partition_key,
        tags={"c360/trigger": "landing_sensor", "c360/new_files": str(len(changed))},
    )


@dg.run_failure_sensor(name="held_back_alert", default_status=dg.DefaultSensorStatus.RUNNING)
def held_back_alert(context: dg.RunFailureSensorContext):
    """Held back or failed runs: record a held-back row in publication_log and write the alert message."""
    run = context.dagster_run
    partition = run.tags.get("dagster/partition")
    if not partition:
        return
    handle_failed_run(Settings.from_env(), context.instance, run.run_id, date.fromisoformat(partition))


defs = dg.Definitions(
    jobs=[c360_pipeline, c360_audit_publish],
    schedules=[daily_schedule],
    sensors=[landing_sensor, held_back_alert],
)
