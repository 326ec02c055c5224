"""Shared resources and constants of the Dagster definitions."""

from __future__ import annotations

import warnings

import dagster as dg

from c360.settings import Settings

# Every writer of the build database runs in this pool; the instance limits it to one slot (see cli.py, which
# writes DAGSTER_HOME/dagster.yaml), so a scheduled and a manual run never hold the DuckDB write lock together.
BUILD_DB_POOL = "c360_build_db"


def daily_partitions() -> dg.DailyPartitionsDefinition:
    """One partition per as-of date. The latest partition is yesterday: the last day whose data is complete."""
    return dg.DailyPartitionsDefinition(start_date=Settings.from_env().start_date, end_offset=0)


DAILY = daily_partitions()

# A run has one as-of date: a backfill over a date range is one run per day, replayed in order (SPEC 3). Every
# partitioned asset declares it (dagster-dbt would default the dbt assets to one run for the whole range, which
# has no single as-of date); with differing policies Dagster warns on every load and picks the smallest.
ONE_DAY_PER_RUN = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)

# Two Dagster features used knowingly are not marked stable yet: per-asset backfill policies (beta) and partitioned
# asset checks (preview, so that check results belong to an as-of date). Without these filters every `c360 run`
# and every definitions load prints a warning for each; they match those messages only.
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy` of function", category=dg.BetaWarning)
warnings.filterwarnings(
    "ignore", message=r"Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)


class C360Settings(dg.ConfigurableResource):
    """Exposes Settings.from_env() to assets; resolved at run time so tests can point C360_HOME elsewhere."""

    def get(self) -> Settings:
        settings = Settings.from_env()
        settings.ensure_dirs()
        settings.export_for_subprocesses()
        return settings
