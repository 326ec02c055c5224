"""Helpers of the end-to-end tests: an isolated C360_HOME, demo data, a pipeline run, table fingerprints."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb

AS_OF = date(2026, 6, 30)


@contextmanager
def c360_env(home: Path, **extra: str) -> Iterator[Path]:
    """Point C360_HOME and DAGSTER_HOME at `home` for the duration (module-scoped fixtures can't monkeypatch)."""
    names = [
        "C360_HOME",
        "DAGSTER_HOME",
        "C360_BUILD_DB",
        "C360_PUBLISHED_DB",
        "C360_ALERT_LOG",
        "C360_PG_DSN",
        *extra,
    ]
    saved = {name: os.environ.get(name) for name in names}
    for name in names:
        os.environ.pop(name, None)
    os.environ["C360_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    os.environ.update(extra)
    try:
        yield home
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def generate(home: Path, orders: int, seed: int = 7, as_of: date = AS_OF):
    from demo.generator import generate_demo_data

    return generate_demo_data(home, orders=orders, seed=seed, as_of=as_of)


def run(as_of: date = AS_OF, **dbt_vars) -> int:
    from c360.cli import run_pipeline

    return run_pipeline(as_of, dbt_vars or None, quiet=True)


def published(home: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(home / "warehouse" / "published.duckdb"), read_only=True)


def table_fingerprint(con: duckdb.DuckDBPyConnection, table: str) -> tuple[int, str]:
    """Row count and an order-independent content hash of a table."""
    return con.sql(
        f"select count(*), coalesce(sum(hash(t)::hugeint)::varchar, '') from {table} as t"
    ).fetchone()


def published_fingerprints(home: Path) -> dict[str, tuple[int, str]]:
    con = published(home)
    try:
        tables = [
            t
            for (t,) in con.sql(
                "select table_name from information_schema.tables where table_schema = 'main' order by 1"
            ).fetchall()
            if t != "publication_log"
        ]
        return {t: table_fingerprint(con, t) for t in tables}
    finally:
        con.close()
