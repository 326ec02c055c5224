"""PostgreSQL publication: contents, atomic swap under concurrent readers, failures, read-only role.

The tests marked ``postgres`` need a real server: C360_TEST_PG_DSN names a superuser DSN (.ci/run starts a local
server and exports it). Without it they are skipped with the reason. Every test uses its own schema and roles
(unique names) and drops them at the end.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import duckdb
import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import make_conninfo

from c360.settings import Settings
from publishing.postgres import (
    PostgresPublicationError,
    pg_column,
    publish_to_postgres,
    safe_target,
)

SKIP_REASON = "no PostgreSQL server: set C360_TEST_PG_DSN (.ci/run starts one)"
SWAP_TABLES = ["customer_360", "customer_value_tier", "kpi_daily_revenue", "publication_log"]


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pg_dsn() -> str:
    dsn = os.environ.get("C360_TEST_PG_DSN", "").strip()
    if not dsn:
        pytest.skip(SKIP_REASON)
    try:
        psycopg.connect(dsn, connect_timeout=5).close()
    except psycopg.Error as exc:
        pytest.skip(f"{SKIP_REASON}; {safe_target(dsn)} is unreachable: {str(exc).strip().splitlines()[0]}")
    return dsn


@pytest.fixture
def admin(pg_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def pg_settings(pg_dsn: str, admin: psycopg.Connection, c360_home: Path) -> Iterator[Settings]:
    """Settings with a unique schema and reader role; both (and any test login role) dropped afterwards."""
    suffix = uuid.uuid4().hex[:10]
    settings = replace(
        Settings.from_env(),
        postgres_dsn=pg_dsn,
        postgres_schema=f"c360_t_{suffix}",
        postgres_reader_role=f"c360_reader_t_{suffix}",
    )
    yield settings
    for name in schemas_like(admin, settings.postgres_schema):
        admin.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(name)))
    for role in (f"c360_bi_t_{suffix}", settings.postgres_reader_role):
        admin.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


def schemas_like(conn: psycopg.Connection, prefix: str) -> list[str]:
    rows = conn.execute(
        "select nspname from pg_catalog.pg_namespace where starts_with(nspname, %s) order by 1", [prefix]
    ).fetchall()
    return [r[0] for r in rows]


def write_versioned(directory: Path, rows: int, *, tables: list[str] = SWAP_TABLES) -> Path:
    """One Parquet file per table, `rows` rows each, so a reader can tell the versions apart by count."""
    directory.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for table in tables:
        con.execute(
            f"copy (select i as id, {rows} as version, 'row ' || i as label, (i / 100)::decimal(12,2) as amount "
            f"from range({rows}) t(i)) to '{directory / (table + '.parquet')}' (format parquet)"
        )
    con.close()
    return directory


TYPED_SQL = r"""
select * from (values
    (1, 'Zoë Ångström 漢字 🙂', 1234.56::decimal(12,2), 0.1::double + 0.2::double, 9007199254740993::bigint,
     7::tinyint, 0.5::float, true, date '2024-02-29', timestamp '2024-03-01 12:34:56.789012',
     timestamptz '2024-03-01 12:00:00+02', '{"a": [1, 2], "b": null, "c": "é"}'::json, ['vip', 'new'],
     {'k': 1, 's': 'x'}, 'line1' || chr(10) || 'line2, "quoted"', '', '\x00\xFF'::blob,
     '6a0b1f7e-2f3b-4c1d-9e8f-0123456789ab'::uuid, interval 3 day, time '23:59:59.5'),
    (2, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
     null, null),
    (3, 'NULL', -0.01::decimal(12,2), -1e300::double, -1::bigint, (-128)::tinyint, -2.25::float, false,
     date '1970-01-01', timestamp '1999-12-31 23:59:59', timestamptz '2024-07-01 00:00:00+00', '[]'::json,
     [null, 'a'], {'k': null, 's': ''}, '\.', '\N', ''::blob, null, interval 1 month, time '00:00:00'),
    (4, 'tab' || chr(9) || 'and comma,', 0::decimal(12,2), 1.5e-10::double, 0::bigint, 0::tinyint, 0::float, true,
     date '2099-12-31', timestamp '2024-01-01 00:00:00.000001', null, '"just a string"'::json, [],
     null, ',', ' ', null, null, null, null)
) t(id, name, amount, ratio, big, tiny, real_value, flag, day, ts, tstz, doc, tags, attrs, multiline, empty,
    raw, ident, span, clock)
"""

EXPECTED_PG_TYPES = {
    "id": "integer",
    "name": "text",
    "amount": "numeric(12,2)",
    "ratio": "double precision",
    "big": "bigint",
    "tiny": "smallint",
    "real_value": "real",
    "flag": "boolean",
    "day": "date",
    "ts": "timestamp without time zone",
    "tstz": "timestamp with time zone",
    "doc": "jsonb",
    "tags": "jsonb",
    "attrs": "jsonb",
    "multiline": "text",
    "empty": "text",
    "raw": "bytea",
    "ident": "uuid",
    "span": "interval",
    "clock": "time without time zone",
}


def write_typed(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"copy ({TYPED_SQL}) to '{directory / 'customer_360.parquet'}' (format parquet)")
    con.execute(
        f"copy (select i as id, 'c' || i as customer_key from range(2500) t(i)) "
        f"to '{directory / 'customer_value_tier.parquet'}' (format parquet)"
    )
    con.close()
    return directory


def counts(conn: psycopg.Connection, schema: str, tables: list[str]) -> dict[str, int]:
    return {
        t: conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(schema, t))).fetchone()[0]
        for t in tables
    }


def pg_rows(conn: psycopg.Connection, schema: str, table: str) -> list[tuple]:
    return conn.execute(
        sql.SQL("select * from {} order by 1").format(sql.Identifier(schema, table))
    ).fetchall()


def parquet_rows(path: Path) -> tuple[list[str], list[tuple]]:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    rel = con.sql(f"select * from read_parquet('{path}') order by 1")
    columns, rows = rel.columns, rel.fetchall()
    con.close()
    return columns, rows


# ------------------------------------------------------------------------------------ without a server


def test_type_mapping_without_server() -> None:
    con = duckdb.connect()
    rel = con.sql(
        "select 1::integer a, 1::bigint b, 1.5::decimal(18,4) c, 'x'::json d, [1] e, {'x': 1} f, 'x' g, "
        "true h, date '2024-01-01' i, timestamp '2024-01-01' j, 1::hugeint k, 1::ubigint l, 'x'::blob m"
    )
    mapped = {n: pg_column(n, t).pg_type for n, t in zip(rel.columns, rel.types, strict=True)}
    assert mapped == {
        "a": "integer",
        "b": "bigint",
        "c": "numeric(18,4)",
        "d": "jsonb",
        "e": "jsonb",
        "f": "jsonb",
        "g": "text",
        "h": "boolean",
        "i": "date",
        "j": "timestamp",
        "k": "numeric(39,0)",
        "l": "numeric(20,0)",
        "m": "bytea",
    }


def test_publication_off_and_bad_names_are_refused(tmp_path: Path, c360_home: Path) -> None:
    settings = Settings.from_env()
    assert settings.postgres_dsn is None
    with pytest.raises(ValueError, match="C360_PG_DSN"):
        publish_to_postgres(settings, tmp_path, ["customer_360"], run_id="r1")
    on = replace(settings, postgres_dsn="postgresql://u:secret@127.0.0.1:1/db", postgres_schema="s" * 60)
    with pytest.raises(ValueError, match="longer than 63 bytes"):
        publish_to_postgres(on, tmp_path, ["customer_360"], run_id="r1")


def test_safe_target_hides_the_password() -> None:
    target = safe_target("postgresql://bi:s3cret-pw@db.example:6543/warehouse")
    assert target == "bi@db.example:6543/warehouse"
    assert "s3cret" not in safe_target("host=db user=bi password=s3cret-pw dbname=w")


# ------------------------------------------------------------------------------------ with a server


@pytest.mark.postgres
def test_tables_land_with_identical_contents_and_mapped_types(
    pg_settings: Settings, admin: psycopg.Connection, tmp_path: Path
) -> None:
    parquet_dir = write_typed(tmp_path / "published")
    tables = ["customer_360", "customer_value_tier"]

    result = publish_to_postgres(pg_settings, parquet_dir, tables, run_id=str(uuid.uuid4()))

    schema = pg_settings.postgres_schema
    assert result == {"customer_360": 4, "customer_value_tier": 2500}
    types = dict(
        admin.execute(
            "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_catalog.pg_attribute a "
            "where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum",
            [f"{schema}.customer_360"],
        ).fetchall()
    )
    assert types == EXPECTED_PG_TYPES
    admin.execute("set timezone = 'UTC'")
    for table in tables:
        columns, expected = parquet_rows(parquet_dir / f"{table}.parquet")
        jsonb = [
            i
            for i, c in enumerate(columns)
            if EXPECTED_PG_TYPES.get(c) == "jsonb" and table == "customer_360"
        ]
        normalized = [
            tuple(json.loads(v) if i in jsonb and isinstance(v, str) else v for i, v in enumerate(row))
            for row in expected
        ]
        assert pg_rows(admin, schema, table) == normalized
    assert schemas_like(admin, schema) == [schema]


@pytest.mark.postgres
def test_second_publication_swaps_atomically_under_concurrent_readers(
    pg_settings: Settings, pg_dsn: str, tmp_path: Path
) -> None:
    schema = pg_settings.postgres_schema
    v1 = write_versioned(tmp_path / "v1", 1000)
    v2 = write_versioned(tmp_path / "v2", 2000)
    publish_to_postgres(pg_settings, v1, SWAP_TABLES, run_id="v1-first")

    stop = threading.Event()
    snapshots: dict[str, list[tuple[int, ...]]] = {"read committed": [], "repeatable read": []}
    errors: list[str] = []
    done_after_stop: dict[str, int] = {}

    def reader(isolation: str) -> None:
        rng = random.Random(isolation)
        level = psycopg.IsolationLevel.READ_COMMITTED
        if isolation == "repeatable read":
            level = psycopg.IsolationLevel.REPEATABLE_READ
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.isolation_level = level
            while True:
                stopping = stop.is_set()
                order = SWAP_TABLES[:]
                rng.shuffle(order)  # any order: the swap must give way, not the readers
                try:
                    with conn.transaction():
                        seen = {}
                        for table in order:
                            seen[table] = counts(conn, schema, [table])[table]
                            time.sleep(rng.random() * 0.003)
                    snapshots[isolation].append(tuple(seen[t] for t in SWAP_TABLES))
                except psycopg.Error as exc:
                    errors.append(f"{isolation}: {type(exc).__name__}: {exc}")
                if stopping:
                    done_after_stop[isolation] = 1
                    return

    threads = [threading.Thread(target=reader, args=(level,)) for level in snapshots]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.2)
        for i, directory in enumerate([v2, v1, v2, v1, v2]):
            assert publish_to_postgres(pg_settings, directory, SWAP_TABLES, run_id=f"swap-{i}") == {
                t: 2000 if directory == v2 else 1000 for t in SWAP_TABLES
            }
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    assert errors == []
    assert done_after_stop == {"read committed": 1, "repeatable read": 1}
    for isolation, seen in snapshots.items():
        assert len(seen) > 5, isolation
        mixed = [s for s in seen if len(set(s)) != 1 or s[0] not in (1000, 2000)]
        assert mixed == [], f"{isolation} reader saw a mix of versions: {mixed[:5]}"
        assert seen[0] == (1000,) * len(SWAP_TABLES)
        assert seen[-1] == (2000,) * len(SWAP_TABLES)  # read after the last publication returned
    with psycopg.connect(pg_dsn) as conn:
        assert schemas_like(conn, schema) == [schema]


@pytest.mark.postgres
def test_missing_parquet_leaves_current_schema_untouched(
    pg_settings: Settings, admin: psycopg.Connection, tmp_path: Path
) -> None:
    schema = pg_settings.postgres_schema
    publish_to_postgres(pg_settings, write_versioned(tmp_path / "v1", 1000), SWAP_TABLES, run_id="good-1")
    v2 = write_versioned(tmp_path / "v2", 2000)
    (v2 / "kpi_daily_revenue.parquet").unlink()

    with pytest.raises(PostgresPublicationError, match="kpi_daily_revenue"):
        publish_to_postgres(pg_settings, v2, SWAP_TABLES, run_id="bad-2")

    assert counts(admin, schema, SWAP_TABLES) == dict.fromkeys(SWAP_TABLES, 1000)
    assert schemas_like(admin, schema) == [schema]


@pytest.mark.postgres
def test_failing_load_rolls_back_staging_and_names_the_table(
    pg_settings: Settings, admin: psycopg.Connection, tmp_path: Path
) -> None:
    schema = pg_settings.postgres_schema
    publish_to_postgres(pg_settings, write_versioned(tmp_path / "v1", 1000), SWAP_TABLES, run_id="good-1")
    v2 = write_versioned(tmp_path / "v2", 2000)
    con = duckdb.connect()  # the last table holds a NUL character, which PostgreSQL text cannot store
    con.execute(
        f"copy (select i as id, 'a' || chr(0) || 'b' as label from range(10) t(i)) "
        f"to '{v2 / 'publication_log.parquet'}' (format parquet)"
    )
    con.close()

    with pytest.raises(PostgresPublicationError) as failure:
        publish_to_postgres(pg_settings, v2, SWAP_TABLES, run_id="bad-2")

    message = str(failure.value)
    assert "publication_log" in message
    assert "0x00" in message  # PostgreSQL's own error is quoted
    assert counts(admin, schema, SWAP_TABLES) == dict.fromkeys(SWAP_TABLES, 1000)
    assert schemas_like(admin, schema) == [schema]
    # and the next good publication goes through
    assert publish_to_postgres(
        pg_settings, write_versioned(tmp_path / "v3", 3), SWAP_TABLES, run_id="good-3"
    ) == (dict.fromkeys(SWAP_TABLES, 3))


@pytest.mark.postgres
def test_swap_gives_up_cleanly_when_a_reader_never_lets_go(
    pg_settings: Settings, pg_dsn: str, admin: psycopg.Connection, tmp_path: Path
) -> None:
    schema = pg_settings.postgres_schema
    publish_to_postgres(pg_settings, write_versioned(tmp_path / "v1", 1000), SWAP_TABLES, run_id="good-1")
    v2 = write_versioned(tmp_path / "v2", 2000)
    with psycopg.connect(pg_dsn) as idle_reader:  # a transaction left open after reading one table
        counts(idle_reader, schema, ["customer_360"])
        with pytest.raises(PostgresPublicationError, match="could not swap"):
            publish_to_postgres(pg_settings, v2, SWAP_TABLES, run_id="blocked", swap_timeout=1.5)
        assert counts(idle_reader, schema, SWAP_TABLES) == dict.fromkeys(SWAP_TABLES, 1000)
        idle_reader.rollback()
    assert counts(admin, schema, SWAP_TABLES) == dict.fromkeys(SWAP_TABLES, 1000)
    assert schemas_like(admin, schema) == [schema]
    assert publish_to_postgres(pg_settings, v2, SWAP_TABLES, run_id="unblocked") == dict.fromkeys(
        SWAP_TABLES, 2000
    )


@pytest.mark.postgres
def test_reader_role_can_select_but_not_write(
    pg_settings: Settings, pg_dsn: str, admin: psycopg.Connection, tmp_path: Path
) -> None:
    schema, role = pg_settings.postgres_schema, pg_settings.postgres_reader_role
    login = role.replace("c360_reader_t_", "c360_bi_t_")
    password = uuid.uuid4().hex
    publish_to_postgres(pg_settings, write_versioned(tmp_path / "v1", 1000), SWAP_TABLES, run_id="v1")

    can_login = admin.execute(
        "select rolcanlogin from pg_catalog.pg_roles where rolname = %s", [role]
    ).fetchone()
    assert can_login == (False,)  # created NOLOGIN; the DBA grants it to BI login users:
    admin.execute(
        sql.SQL("create role {} login password {}").format(sql.Identifier(login), sql.Literal(password))
    )
    admin.execute(sql.SQL("grant {} to {}").format(sql.Identifier(role), sql.Identifier(login)))

    bi_dsn = make_conninfo(pg_dsn, user=login, password=password)
    with psycopg.connect(bi_dsn, autocommit=True) as bi:
        assert counts(bi, schema, SWAP_TABLES) == dict.fromkeys(SWAP_TABLES, 1000)
        table = sql.Identifier(schema, "customer_360")
        forbidden = [
            sql.SQL("insert into {} (id, version, label, amount) values (-1, 0, 'x', 0)").format(table),
            sql.SQL("update {} set label = 'x'").format(table),
            sql.SQL("delete from {}").format(table),
            sql.SQL("truncate {}").format(table),
            sql.SQL("drop table {}").format(table),
            sql.SQL("alter table {} add column x int").format(table),
            sql.SQL("create table {} (x int)").format(sql.Identifier(schema, "bi_scratch")),
            sql.SQL("create view {} as select 1").format(sql.Identifier(schema, "bi_view")),
        ]
        for statement in forbidden:
            with pytest.raises(pg_errors.InsufficientPrivilege):
                bi.execute(statement)

        # the grants come with every new publication (new tables, same role)
        publish_to_postgres(pg_settings, write_versioned(tmp_path / "v2", 2000), SWAP_TABLES, run_id="v2")
        assert counts(bi, schema, SWAP_TABLES) == dict.fromkeys(SWAP_TABLES, 2000)
        with pytest.raises(pg_errors.InsufficientPrivilege):
            bi.execute(sql.SQL("delete from {}").format(table))
    assert counts(admin, schema, ["customer_360"]) == {"customer_360": 2000}


@pytest.mark.postgres
def test_connection_errors_never_show_the_password(
    pg_settings: Settings, pg_dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "wrong-" + uuid.uuid4().hex
    bad = replace(pg_settings, postgres_dsn=make_conninfo(pg_dsn, password=secret))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PostgresPublicationError) as failure:
        publish_to_postgres(bad, write_versioned(tmp_path / "v1", 10), SWAP_TABLES, run_id="r")
    assert "cannot connect" in str(failure.value)
    assert secret not in str(failure.value)
    assert secret not in caplog.text
