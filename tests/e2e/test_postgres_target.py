"""The whole pipeline with the PostgreSQL target on (issue 7): same tables in PostgreSQL, no raw personal data."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from e2e_helpers import c360_env, generate, published, run

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.fixture
def pg_dsn() -> str:
    dsn = os.environ.get("C360_TEST_PG_DSN")
    if not dsn:
        pytest.skip("no PostgreSQL server: set C360_TEST_PG_DSN (.ci/run starts one)")
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL server unreachable: {exc}")
    return dsn


def test_pipeline_publishes_the_same_tables_to_postgres(tmp_path: Path, pg_dsn: str):
    import psycopg

    home = tmp_path / "c360"
    schema = f"c360_e2e_{uuid.uuid4().hex[:8]}"
    with c360_env(home, C360_PG_DSN=pg_dsn, C360_PG_SCHEMA=schema, C360_PG_READER_ROLE="c360_e2e_reader"):
        generate(home, orders=2_000, seed=3)
        assert run() == 0
    duck = published(home)
    tables = [t for (t,) in duck.sql("select table_name from information_schema.tables").fetchall()]
    try:
        with psycopg.connect(pg_dsn) as pg:
            for table in tables:
                expected = duck.sql(f"select count(*) from {table}").fetchone()[0]
                got = pg.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
                assert got == expected, table
            # PII scan in PostgreSQL: no text column holds an e-mail address
            columns = pg.execute(
                "select table_name, column_name from information_schema.columns "
                "where table_schema = %s and data_type in ('text', 'jsonb')",
                [schema],
            ).fetchall()
            for table, column in columns:
                hits = pg.execute(
                    f'select count(*) from "{schema}"."{table}" '
                    f"where \"{column}\"::text ~ '[A-Za-z0-9._%%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{{2,}}'"
                ).fetchone()[0]
                assert hits == 0, f"{table}.{column} holds e-mail addresses"
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as pg:
            pg.execute(f'drop schema if exists "{schema}" cascade')
