"""Shared resources and constants of the Dagster definitions."""

from __future__ import annotations

import dagster as dg

from orchestration.settings import Settings

# Every writer of the build database runs in this pool; the instance limits it to one slot (see cli.py, which
# writes DAGSTER_HOME/dagster.yaml), so a scheduled and a manual run never hold the DuckDB write lock together.
BUILD_DB_POOL = "c360_build_db"


def daily_partitions() -> dg.DailyPartitionsDefinition:
    """One partition per as-of date. The latest partition is yesterday: the last day whose data is complete."""
    return dg.DailyPartitionsDefinition(start_date=Settings.from_env().start_date, end_offset=0)


DAILY = daily_partitions()


class C360Settings(dg.ConfigurableResource):
    """Exposes Settings.from_env() to assets; resolved at run time so tests can point C360_HOME elsewhere."""

    def get(self) -> Settings:
        settings = Settings.from_env()
        settings.ensure_dirs()
        settings.export_for_subprocesses()
        return settings
