"""Resources and shared definitions: the settings resource, the build database lock, the daily partitions."""

import json
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from c360.home import build_database_lock, prepare_home
from c360.settings import SETTINGS, Settings, SettingsError
from orchestration.recovery import record_run_process
from warehouse import DuckDBWarehouse, Warehouse, connect

# A run has one as-of date: a backfill over a date range is one run per day, replayed in order. Every partitioned
# asset declares it (dagster-dbt would default the dbt assets to one run for the whole range, which has no single
# as-of date); with differing policies Dagster warns on every load and picks the smallest.
ONE_DAY_PER_RUN = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)

# Two Dagster features used knowingly are not marked stable yet: per-asset backfill policies (beta) and partitioned
# asset checks (preview, so that check results belong to an as-of date). Without these filters every `c360 run`
# and every definitions load prints a warning for each; they match those messages only.
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy` of function", category=dg.BetaWarning)
warnings.filterwarnings(
    "ignore", message=r"Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)

_FIELD_ENV = {
    "home": "C360_HOME",
    "build_db": "C360_BUILD_DB",
    "published_db": "C360_PUBLISHED_DB",
    "alert_log": "C360_ALERT_LOG",
    "postgres_dsn": "C360_PG_DSN",
    "pii_hash_key": "C360_PII_HASH_KEY",
}


class C360Resource(dg.ConfigurableResource):
    """Where c360's data lives and how it runs. Each field left unset falls back to its environment variable and
    then to its default (see the README's settings table); the UI shows which ones come from the environment."""

    home: str | None = None
    build_db: str | None = None
    published_db: str | None = None
    alert_log: str | None = None
    postgres_dsn: str | None = None
    pii_hash_key: str | None = None

    def settings(self) -> Settings:
        environ = dict(os.environ)
        for field, env in _FIELD_ENV.items():
            value = getattr(self, field)
            if value:
                environ[env] = value
        return Settings.from_env(environ)


def c360_resource() -> C360Resource:
    """The resource as registered in the definitions: fields bound to the environment variables that are set."""
    return C360Resource(**{field: dg.EnvVar(env) for field, env in _FIELD_ENV.items() if os.environ.get(env)})


class BuildDatabase(dg.ConfigurableResource):
    """The build database, held by one run at a time for the whole run (see c360.home.build_database_lock), on
    the engine C360_DBT_TARGET names: the DuckDB file, or the tables of the process's local Spark session.

    With the job's in-process executor, resources live as long as the run, so the lock is taken once before the
    first step and released after the last one, or by the kernel when the process dies.
    """

    c360: C360Resource
    _settings: Settings | None = PrivateAttr(default=None)

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["BuildDatabase"]:
        settings = self.c360.settings()
        try:
            engine = settings.engine
        except SettingsError as exc:
            raise dg.Failure(description=str(exc)) from None
        prepare_home(settings)
        run_id = context.run.run_id if context.run else "unknown"
        log = context.log.info if context.log else (lambda message: None)
        if context.instance is not None and context.run is not None:
            record_run_process(context.instance, run_id)
        with build_database_lock(settings, run_id=run_id, log=log), run_environment(settings):
            if engine == "spark":
                check_spark(settings, log)
            else:
                check_build_database(settings, log)
            self._settings = settings
            yield self

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            raise RuntimeError("the build database resource is used outside a run")
        return self._settings

    @contextmanager
    def warehouse(self) -> Iterator[Warehouse]:
        """The run's warehouse through the engine-neutral interface (code outside dbt that reads or writes
        tables uses this, so that it runs on every engine). On Spark: the process's session, which outlives
        the run (dbt shares it)."""
        settings = self.settings
        if settings.engine == "spark":
            from warehouse.spark_warehouse import SparkWarehouse, spark_session

            yield SparkWarehouse(spark_session(spark_root(settings)))
            return
        con = connect(settings.build_db, memory_limit=settings.duckdb_memory_limit)
        try:
            yield DuckDBWarehouse(con)
        finally:
            con.close()


@contextmanager
def run_environment(settings: Settings) -> Iterator[None]:
    """The environment dbt reads its connection from (profiles.yml, the dbt-duckdb plugin), for one run.

    dbt runs in this process and takes its settings from environment variables; a run configured in the UI may
    differ from the environment the process started with, so they are set for the run and restored after it.
    """
    values = {
        "C360_HOME": str(settings.home),
        "C360_BUILD_DB": str(settings.build_db),
        "C360_DBT_TARGET": settings.dbt_target,
        "C360_DBT_THREADS": str(settings.dbt_threads),
        "C360_PII_HASH_KEY": settings.pii_key(),
    }
    if settings.dbt_target == "spark":
        values["C360_SPARK_HOME"] = str(spark_root(settings))
    if settings.duckdb_memory_limit:
        values["C360_DUCKDB_MEMORY_LIMIT"] = settings.duckdb_memory_limit
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def spark_root(settings: Settings) -> Path:
    """Where local Spark keeps the tables and the metastore: C360_SPARK_HOME, default $C360_HOME/spark."""
    configured = os.environ.get("C360_SPARK_HOME")
    return (Path(configured).expanduser() if configured else settings.home / "spark").resolve()


def check_spark(settings: Settings, log) -> None:
    """Start the process's Spark session before any step, so that a missing Java, a metastore held by another
    process or a session of another home is reported with what to do, not deep inside a step."""
    from warehouse.spark_warehouse import session_home, spark_session, spark_unavailable_reason

    reason = spark_unavailable_reason()
    if reason:
        raise dg.Failure(description=f"C360_DBT_TARGET=spark, but local Spark cannot run here: {reason}")
    root = spark_root(settings)
    session = spark_session(root)
    if session_home(session) != root:
        raise dg.Failure(
            description=f"this process's Spark session keeps its tables under {session_home(session)}, not "
            f"{root} (C360_SPARK_HOME): one process serves one Spark home; run this home in a new process"
        )
    try:
        session.sql("show databases").collect()
    except Exception as exc:  # noqa: BLE001 - the JVM's error, reduced to what a user can act on
        text = str(exc)
        if "another instance of derby" in text.lower() or "XSDB6" in text:
            raise dg.Failure(
                description=f"the Spark metastore {root / 'metastore_db'} is in use by another process (another "
                "c360 run, dbt or a notebook on the same C360_SPARK_HOME): the embedded metastore admits one "
                "process at a time. Close that process and run again."
            ) from None
        raise dg.Failure(
            description=f"the Spark catalog under {root} cannot be read ({type(exc).__name__}: "
            f"{text.strip().splitlines()[0] if text.strip() else ''})"
        ) from None
    log(f"Spark {session.version} ({session.sparkContext.master}): tables and metastore under {root}")


def check_build_database(settings: Settings, log) -> None:
    """Open the build database once before any step, so that a missing, damaged or locked file is reported with
    what to do instead of failing somewhere in the middle of the run."""
    import duckdb

    from publishing.versions import current

    path = settings.build_db
    if not path.exists():
        version = current(settings)
        log(
            f"the build database {path} does not exist yet: it is built from the landing zone"
            + (
                f"; the history of earlier publications comes from the state store ({version.name})"
                if version
                else ""
            )
        )
        return
    try:
        duckdb.connect(str(path)).close()
    except duckdb.Error as exc:
        text = str(exc)
        if "lock" in text.lower():
            holder = re.search(r"held in (.+?) \(PID (\d+)\)", text)
            who = f"process {holder.group(2)} ({holder.group(1)})" if holder else "another process"
            raise dg.Failure(
                description=f"the build database {path} is open in {who}: close that program (or its "
                "connection) and run again. BI tools must read the published database, not the build database."
            ) from None
        raise dg.Failure(
            description=f"the build database {path} cannot be opened ({type(exc).__name__}: "
            f"{text.splitlines()[0]}). It is damaged or truncated: move it away (mv {path} {path}.broken) and run "
            "again. c360 rebuilds it from the landing zone; the history comes back from the state store of the "
            "publication in place."
        ) from None


def data_range_path(settings: Settings):
    return settings.state_dir / "data_range.json"


def record_data_range(settings: Settings, first: date | None, last: date | None) -> None:
    """Remember the first and last order dates seen by ingestion: the Dagster partitions start at the first."""
    path = data_range_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps(
            {"first_order_date": first and first.isoformat(), "last_order_date": last and last.isoformat()}
        )
    )
    os.replace(tmp, path)


def first_partition(settings: Settings, earliest_requested: date | None = None) -> date:
    """The first as-of date of the daily partitions: C360_START_DATE, else the first order date in the data (once
    ingested), else a year before yesterday; never after a date a command asks for."""
    start = settings.start_date
    if start is None:
        try:
            recorded = json.loads(data_range_path(settings).read_text()).get("first_order_date")
            start = date.fromisoformat(recorded) if recorded else None
        except (OSError, ValueError):
            start = None
    if start is None:
        start = datetime.now(UTC).date() - timedelta(days=366)
    if earliest_requested is not None and earliest_requested < start:
        start = earliest_requested
    return start


def daily_partitions(start: date) -> dg.DailyPartitionsDefinition:
    """One partition per as-of date. The latest partition is yesterday: the last day whose data is complete."""
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), end_offset=0)


SETTING_NAMES = tuple(s.env for s in SETTINGS)
