"""Apache Spark as the warehouse (dbt targets ``spark``, ``spark_thrift``, ``spark_http``).

Locally c360 runs Spark inside the Python process (``local[2]``): Parquet tables in a warehouse directory and an
embedded Derby metastore, both under one root (``C360_SPARK_HOME``, default ``$C360_HOME/spark``). The embedded
metastore admits ONE process at a time, and dbt-spark's ``session`` method takes the process's active session
(``SparkSession.builder.getOrCreate()``): so dbt runs in the same process (``dbt.cli.main.dbtRunner``) after
:func:`spark_session` has started the session, and both see the same tables. The settings here and in the
``spark`` output of dbt_project/profiles.yml must agree.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from warehouse.base import arrow_table, check_identifier, parquet_files

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def spark_home() -> Path:
    """Root of the local warehouse directory and metastore (the default of profiles.yml's spark output)."""
    default = Path(os.environ.get("C360_HOME", "data")) / "spark"
    return Path(os.environ.get("C360_SPARK_HOME", str(default)))


def java_available() -> bool:
    """Spark needs a Java runtime (17 or later for Spark 4)."""
    java_home = os.environ.get("JAVA_HOME")
    return bool(shutil.which("java") or (java_home and (Path(java_home) / "bin" / "java").exists()))


def spark_unavailable_reason() -> str | None:
    """Why local Spark cannot run on this machine (None when it can): the extra or Java is missing."""
    for package in ("pyspark", "dbt.adapters.spark"):
        try:
            found = importlib.util.find_spec(package) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return f"{package} is not installed (pip install -e '.[spark]')"
    if not java_available():
        return "no Java runtime (Spark 4 needs Java 17: apt-get install openjdk-17-jre-headless)"
    return None


def spark_session(home: Path | None = None) -> SparkSession:
    """The process's local Spark session, started on first use with c360's settings.

    ``home`` (default :func:`spark_home`) holds ``warehouse/`` (Parquet tables) and ``metastore_db/`` (Derby).
    ANSI mode is off, as dbt-spark sets it, so that SQL behaves the same from here and from dbt.
    """
    from pyspark.sql import SparkSession

    root = (home or spark_home()).resolve()
    root.mkdir(parents=True, exist_ok=True)
    master = os.environ.get("C360_SPARK_MASTER", "local[2]")
    # Options for the driver JVM of a local session, after c360's own (C360_SPARK_JAVA_OPTIONS; none by default).
    # A run on little data is hundreds of short queries, each of newly generated code, and the JVM's optimizing
    # compiler (C2) takes about half of the JVM's CPU compiling code that then runs briefly:
    # "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=512m" (the quick compiler only, a code cache that is never
    # swept) took 40 % less of the JVM's CPU for a run of 4,000 orders, but 23 % longer for the dbt build at 100,000
    # orders (benchmarks/README.md). The test suite sets it; larger data is better served by the JVM's defaults.
    java_options = os.environ.get("C360_SPARK_JAVA_OPTIONS", "")
    builder = (
        SparkSession.builder.master(master)
        .appName("c360")
        .enableHiveSupport()
        .config("spark.sql.warehouse.dir", str(root / "warehouse"))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={root / 'metastore_db'};create=true",
        )
        # quoted: Spark splits these options at spaces, and the root may have some
        .config(
            "spark.driver.extraJavaOptions", f"{shlex.quote(f'-Dderby.system.home={root}')} {java_options}"
        )
        .config("spark.driver.memory", os.environ.get("C360_SPARK_DRIVER_MEMORY", "2g"))
        .config("spark.sql.sources.default", os.environ.get("C360_SPARK_FILE_FORMAT", "parquet"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", os.environ.get("C360_SPARK_SHUFFLE_PARTITIONS", "4"))
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(os.environ.get("C360_SPARK_LOG_LEVEL", "ERROR"))
    set_pii_hash_key(session)
    return session


def session_home(session: SparkSession) -> Path:
    """The root this session keeps its tables under (the parent of its warehouse directory). A process has ONE
    session: a later :func:`spark_session` call with another root gets the first session, with the first root."""
    warehouse_dir = session.conf.get("spark.sql.warehouse.dir") or ""
    return Path(warehouse_dir.removeprefix("file:")).resolve().parent


def set_pii_hash_key(session: SparkSession) -> None:
    """The e-mail hash key as the session variable the SQL reads (macros/cross_db.sql, pii_hash_key), bound as a
    parameter: never part of a SQL text, so never in dbt's target/ folder or Spark's logs. dbt-spark's session
    method uses this same session (getOrCreate), so it sees the variable."""
    from c360.settings import DEMO_PII_KEY

    session.sql("declare or replace variable c360_pii_hash_key string")
    session.sql(
        "set var c360_pii_hash_key = :key", args={"key": os.environ.get("C360_PII_HASH_KEY") or DEMO_PII_KEY}
    )


class SparkWarehouse:
    """Tables of a Spark catalog through a SparkSession (by default the local one of :func:`spark_session`)."""

    engine = "spark"

    def __init__(self, session: SparkSession | None = None, *, stop_on_close: bool = False) -> None:
        self.spark = session or spark_session()
        self._stop_on_close = stop_on_close

    def execute(self, sql: str) -> None:
        self.spark.sql(sql).collect()

    def query(self, sql: str) -> pd.DataFrame:
        return self.query_arrow(sql).to_pandas()

    def query_arrow(self, sql: str) -> pa.Table:
        return self.spark.sql(sql).toArrow()

    def write_table(self, schema: str, name: str, data: pd.DataFrame | pa.Table) -> None:
        """Replaces the table (a managed table in the session's default format, Parquet locally)."""
        self._save(schema, name, data, "overwrite")

    def append_table(self, schema: str, name: str, data: pd.DataFrame | pa.Table) -> None:
        """Adds the rows (columns matched by name; the table is created from the data's types if missing)."""
        self._save(schema, name, data, "append")

    def _save(self, schema: str, name: str, data: pd.DataFrame | pa.Table, mode: str) -> None:
        check_identifier(schema, name)
        table = arrow_table(data)
        self.spark.sql(f"create database if not exists {schema}")
        frame = self.spark.createDataFrame(table)
        frame.write.mode(mode).saveAsTable(f"{schema}.{name}")

    def delete_where(self, schema: str, name: str, condition: str) -> None:
        """DELETE where the table format allows it (Delta, Iceberg); a plain Parquet table cannot delete rows, so
        it is rewritten without them: the kept rows go to a new table that takes the old one's name (a rewrite
        interrupted at any step is finished or undone by the next call, see _finish_rewrite)."""
        from pyspark.errors import AnalysisException

        check_identifier(schema, name)
        self._finish_rewrite(schema, name)
        try:
            self.execute(f"delete from {schema}.{name} where {condition}")
            return
        except AnalysisException as exc:
            if "DELETE" not in str(exc).upper():
                raise
        keep, old = f"{schema}.{name}__c360_keep", f"{schema}.{name}__c360_old"
        self.execute(
            f"create table {keep} as select * from {schema}.{name} where not coalesce({condition}, false)"
        )
        self.execute(f"alter table {schema}.{name} rename to {old}")
        self.execute(f"alter table {keep} rename to {schema}.{name}")
        self.execute(f"drop table {old}")

    def _finish_rewrite(self, schema: str, name: str) -> None:
        """After a rewrite killed halfway: the new table is complete once the old one was renamed away."""
        keep, old = f"{name}__c360_keep", f"{name}__c360_old"
        if self.table_exists(schema, old):
            if not self.table_exists(schema, name):
                self.execute(f"alter table {schema}.{keep} rename to {schema}.{name}")
            self.execute(f"drop table {schema}.{old}")
        elif self.table_exists(schema, keep):
            self.execute(f"drop table {schema}.{keep}")

    def table_exists(self, schema: str, name: str) -> bool:
        check_identifier(schema, name)
        return bool(self.spark.catalog.tableExists(f"{schema}.{name}"))

    def row_count(self, schema: str, name: str) -> int:
        check_identifier(schema, name)
        return int(self.spark.sql(f"select count(*) from {schema}.{name}").collect()[0][0])

    def columns(self, schema: str, name: str) -> list[tuple[str, str]]:
        if not self.table_exists(schema, name):
            return []
        return [
            (field.name, field.dataType.simpleString())
            for field in self.spark.table(f"{schema}.{name}").schema
        ]

    def table_checksum(self, schema: str, name: str) -> str:
        check_identifier(schema, name)
        rows, total = self.spark.sql(
            f"select count(*), cast(sum(cast(xxhash64(*) as decimal(38, 0))) as string) from {schema}.{name}"
        ).collect()[0]
        return f"{rows}:{total or ''}"

    def export_parquet(self, sql: str, path: Path) -> None:
        """One Parquet file, as BI tools expect: Spark writes a folder of part files, so the result is coalesced
        into one part, written next to ``path`` and moved there. Timestamps are written without a time zone
        (UTC wall clock), as the DuckDB path writes them. The folder must be on a file system the executors
        write to (local with ``local[n]``; a mounted shared volume on a cluster)."""
        from pyspark.sql import functions
        from pyspark.sql.types import TimestampType

        frame = self.spark.sql(sql)
        frame = frame.select(
            *(
                functions.col(f"`{field.name}`").cast("timestamp_ntz").alias(field.name)
                if isinstance(field.dataType, TimestampType)
                else functions.col(f"`{field.name}`")
                for field in frame.schema
            )
        )
        parts = path.with_name(f".{path.name}.parts")
        shutil.rmtree(parts, ignore_errors=True)
        try:
            frame.coalesce(1).write.mode("overwrite").option("compression", "zstd").parquet(str(parts))
            (part,) = parts.glob("part-*.parquet")
            os.replace(part, path)
        finally:
            shutil.rmtree(parts, ignore_errors=True)

    def attach_parquet(self, schema: str, name: str, folder: Path | None) -> int:
        """An external table over the folder's Parquet files (schemas merged by column name; dropping it leaves
        the files alone); dropped when there are none. Returns the number of files."""
        check_identifier(schema, name)
        files = parquet_files(folder)
        self.spark.sql(f"create database if not exists {schema}")
        self.spark.sql(f"drop table if exists {schema}.{name}")
        if files:
            location = str(folder.resolve()).replace("\\", "\\\\").replace("'", "\\'")
            self.spark.sql(
                f"create table {schema}.{name} using parquet options (mergeSchema 'true') location '{location}'"
            )
        return len(files)

    def close(self) -> None:
        """Stops the session only when asked to at construction: dbt may still be using it."""
        if self._stop_on_close:
            self.spark.stop()
