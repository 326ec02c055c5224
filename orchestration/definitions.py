"""The Dagster code location. Nothing is read or built at import time: `defs` is loaded lazily by Dagster (and
`build_definitions` is called by the c360 command) from the settings of the moment."""

from __future__ import annotations

from datetime import date

import dagster as dg

from c360.settings import Settings
from orchestration.console import c360_console
from orchestration.dbt_runner import prepare_manifest
from orchestration.defs.analytics import build_fit_asset
from orchestration.defs.automation import EXECUTOR, build_jobs, build_schedule, build_sensors
from orchestration.defs.dbt import build_all_dbt_assets
from orchestration.defs.ingestion import build_ingestion_assets
from orchestration.defs.publication import build_publication_asset, build_report_asset, published_table_names
from orchestration.defs.quality import build_gx_checks
from orchestration.defs.resources import BuildDatabase, c360_resource, daily_partitions, first_partition


def build_definitions(
    settings: Settings | None = None, *, earliest_as_of: date | None = None
) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor of c360; partitions start at the first date with data (or
    `earliest_as_of` when a command asks for an earlier one)."""
    settings = settings or Settings.from_env()
    partitions = daily_partitions(first_partition(settings, earliest_as_of))
    jobs = build_jobs(partitions, published_table_names())
    c360 = c360_resource()
    return dg.Definitions(
        assets=[
            *build_ingestion_assets(partitions),
            *build_all_dbt_assets(partitions),
            build_fit_asset(partitions),
            build_publication_asset(partitions),
            build_report_asset(partitions),
        ],
        asset_checks=build_gx_checks(partitions),
        jobs=jobs,
        schedules=[
            build_schedule(jobs[0], cron=settings.schedule_cron, running=not settings.demo_marker.exists())
        ],
        sensors=build_sensors(jobs[0], partitions),
        resources={"c360": c360, "build_db": BuildDatabase(c360=c360)},
        loggers={"console": c360_console},
        executor=EXECUTOR,
    )


@dg.definitions
def defs() -> dg.Definitions:
    prepare_manifest()
    return build_definitions()
