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
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from warehouse.base import arrow_table, check_identifier

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
    builder = (
        SparkSession.builder.master(master)
        .appName("c360")
        .enableHiveSupport()
        .config("spark.sql.warehouse.dir", str(root / "warehouse"))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={root / 'metastore_db'};create=true",
        )
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={root}")
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
        check_identifier(schema, name)
        table = arrow_table(data)
        self.spark.sql(f"create database if not exists {schema}")
        frame = self.spark.createDataFrame(table)
        frame.write.mode("overwrite").saveAsTable(f"{schema}.{name}")

    def table_exists(self, schema: str, name: str) -> bool:
        check_identifier(schema, name)
        return bool(self.spark.catalog.tableExists(f"{schema}.{name}"))

    def row_count(self, schema: str, name: str) -> int:
        check_identifier(schema, name)
        return int(self.spark.sql(f"select count(*) from {schema}.{name}").collect()[0][0])

    def close(self) -> None:
        """Stops the session only when asked to at construction: dbt may still be using it."""
        if self._stop_on_close:
            self.spark.stop()
