"""Engines for the dbt tests: a PostgreSQL database of their own and the process's local Spark session, each
skipped with the reason when the machine lacks it."""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Where the dbt tests keep their engines' files (one Spark session per process: its first root wins).
SPARK_DATABASES = ("raw", "staging", "intermediate", "main", "analytics")


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for each test module (C collation, UTF-8 character classes, as DuckDB and Spark
    compare and case text) on the server of C360_TEST_PG_DSN, dropped afterwards. Yields its DSN. Per module, not
    per session: a module that builds its own tables must never find another module's (an incremental model
    would take them as its previous state)."""
    dsn = os.environ.get("C360_TEST_PG_DSN")
    if not dsn:
        pytest.skip("no PostgreSQL server: set C360_TEST_PG_DSN (.ci/postgres.sh does)")
    if importlib.util.find_spec("dbt.adapters.postgres") is None:
        pytest.skip("dbt-postgres is not installed (pip install -e '.[postgres]')")
    import psycopg

    name = f"c360_dbt_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(dsn, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at C360_TEST_PG_DSN does not accept connections: {type(exc).__name__}")
    try:
        admin.execute(
            f"create database {name} encoding 'UTF8' lc_collate 'C' lc_ctype 'C.UTF-8' template template0"
        )
    except psycopg.Error as exc:
        admin.close()
        pytest.skip(f"cannot create a test database at C360_TEST_PG_DSN (needs CREATEDB and C.UTF-8): {exc}")
    # the e-mail hash key, as a DBA sets it for dbt's role or database (macros/cross_db.sql, pii_hash_key)
    from psycopg import sql

    from c360.settings import DEMO_PII_KEY

    key = os.environ.get("C360_PII_HASH_KEY") or DEMO_PII_KEY
    admin.execute(
        sql.SQL("alter database {} set c360.pii_hash_key = {}").format(sql.Identifier(name), sql.Literal(key))
    )
    base, _, _ = dsn.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        admin.execute(f"drop database if exists {name} with (force)")
        admin.close()


@pytest.fixture(scope="session")
def spark_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root of the local Spark session's tables and metastore (skips when Spark cannot run here)."""
    from warehouse.spark_warehouse import spark_session, spark_unavailable_reason

    reason = spark_unavailable_reason()
    if reason:
        pytest.skip(reason)

    root = tmp_path_factory.mktemp("engines")
    spark = spark_session(root / "spark")
    for database in SPARK_DATABASES:
        spark.sql(f"drop database if exists {database} cascade")
    return root
