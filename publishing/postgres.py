"""Optional publication to a PostgreSQL schema: loaded from the published Parquet files, swapped in one
transaction, readable by a read-only role.

Off unless C360_PG_DSN is set. Callers check ``settings.postgres_dsn`` and call :func:`publish_to_postgres` after the
DuckDB publication has written ``published/<table>.parquet``.

How a publication runs, all in ONE PostgreSQL transaction on one connection (READ COMMITTED):

1. ``pg_advisory_xact_lock`` on a key derived from the schema name: two publishers of the same schema run one
   after the other (the second waits).
2. ``create schema <schema>__staging_<short run id>``; for each table ``create table`` with types mapped from the
   Parquet columns (:data:`TYPE_MAP`), ``COPY ... FROM STDIN (FORMAT csv, FREEZE)`` fed with CSV that pyarrow renders
   from Arrow record batches streamed by DuckDB (never row-by-row INSERTs), a row-count check against the Parquet
   file, then ``analyze`` so BI queries get sensible plans. FREEZE writes the rows already frozen: no hint-bit
   writes or anti-wraparound vacuum of the new tables later. Nothing of this is visible to other sessions.
3. The swap, in a savepoint retried until ``swap_timeout`` (see below)::

       lock table <schema>.<t1> in access exclusive mode;   -- each old table, one by one, with a lock_timeout
       lock table <schema>.<t2> in access exclusive mode;   -- ... (waits for readers of the old tables)
       drop schema if exists <schema>__old cascade;
       alter schema <schema> rename to <schema>__old;        -- when <schema> exists
       alter schema <schema>__staging_<id> rename to <schema>;
       grant usage on schema <schema> to <reader role>;
       grant select on all tables in schema <schema> to <reader role>;
       drop schema <schema>__old cascade;

4. ``commit``. Readers see either the old or the new complete schema, never a mix: a reader transaction that has
   read any old table holds its lock until it ends, so the swap cannot commit before; a statement that starts
   after the commit resolves every name to the new tables, whose rows were committed with the swap.

On any error the transaction is rolled back: the staging schema disappears with it (it was never committed, so not
even a crash or kill -9 leaves one behind) and the current schema is untouched.

Locks and readers: the swap needs an ACCESS EXCLUSIVE lock on every old table, so it waits for reader transactions
that touched them (a BI tool sitting "idle in transaction" delays it), and new readers of a table queue behind a
waiting lock request. So each attempt waits at most FIRST_LOCK_WAIT_MS (1 s) for its first table (the one the
previous attempt could not get) while holding nothing readers use, and then at most OTHER_LOCK_WAIT_MS (20 ms) for
each further table. A reader that holds one table and waits for another the swap already has (a multi-statement
transaction, a join) thus makes the attempt time out quickly, far below PostgreSQL's deadlock_timeout (1 s): the
attempt rolls back to its savepoint, the reader goes on, and is never the one aborted. Attempts repeat until
``swap_timeout`` seconds (default 300); then the publication fails with a clear error and the current schema stays
as it was.

The read-only role (``C360_PG_READER_ROLE``, default ``c360_reader``) is created NOLOGIN when missing (needs
CREATEROLE; otherwise the DBA creates it). The DBA grants it to the real BI login users
(``grant c360_reader to bi_user``); after every swap it gets USAGE on the schema and SELECT on all its tables, and
nothing else: no INSERT/UPDATE/DELETE/TRUNCATE, no CREATE in the schema.

The schema belongs to the pipeline: everything in it is replaced at every publication, and objects elsewhere that
depend on its tables (views built on top of them, say) are dropped by the ``cascade`` (a warning names them).

Connection settings come only from the DSN in C360_PG_DSN (whatever it leaves out, libpq takes from its usual PG*
variables or ~/.pgpass); the password is never logged and is masked in every error message this module raises.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from duckdb.sqltypes import DuckDBPyType
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.copy import QueuedLibpqWriter

from c360.settings import Settings

log = logging.getLogger(__name__)

#: Rows per Arrow record batch streamed from DuckDB into COPY (bounded memory whatever the table size).
BATCH_ROWS = 100_000
#: How long one swap attempt waits for the lock on its first old table (new readers of it queue behind meanwhile).
FIRST_LOCK_WAIT_MS = 1000
#: ... and for each further one, holding the first: far below PostgreSQL's deadlock_timeout (1 s by default).
OTHER_LOCK_WAIT_MS = 20
#: PostgreSQL truncates longer identifiers silently; we refuse them instead.
MAX_IDENTIFIER_BYTES = 63
STAGING_INFIX = "__staging_"
OLD_SUFFIX = "__old"

#: DuckDB type id -> PostgreSQL type. DECIMAL(p,s) -> numeric(p,s), JSON -> jsonb, nested types -> jsonb and any
#: other type -> text are handled in :func:`pg_column`.
TYPE_MAP: dict[str, str] = {
    "boolean": "boolean",
    "tinyint": "smallint",
    "smallint": "smallint",
    "integer": "integer",
    "bigint": "bigint",
    "utinyint": "smallint",
    "usmallint": "integer",
    "uinteger": "bigint",
    "ubigint": "numeric(20,0)",
    "hugeint": "numeric(39,0)",
    "uhugeint": "numeric(39,0)",
    "float": "real",
    "double": "double precision",
    "varchar": "text",
    "date": "date",
    "time": "time",
    "time with time zone": "timetz",
    "timestamp": "timestamp",
    "timestamp_s": "timestamp",
    "timestamp_ms": "timestamp",
    "timestamp_ns": "timestamp",  # PostgreSQL keeps microseconds: nanoseconds are rounded
    "timestamp with time zone": "timestamptz",
    "interval": "interval",
    "uuid": "uuid",
    "blob": "bytea",
    "enum": "text",
}
#: Types pyarrow's CSV writer renders exactly as PostgreSQL reads them; every other column is rendered by DuckDB.
_ARROW_NATIVE = {
    "boolean", "tinyint", "smallint", "integer", "bigint", "utinyint", "usmallint", "uinteger", "ubigint",
    "decimal", "varchar",
}  # fmt: skip
# Not float/double: pyarrow writes 0.1 + 0.2 as 0.3, DuckDB as 0.30000000000000004 (shortest exact round trip).
#: Lists, arrays, structs, maps and unions become jsonb (to_json keeps nesting, element types and nulls; query
#: them with jsonb operators, e.g. ``tags ? 'vip'`` or ``jsonb_array_elements_text(tags)``).
_NESTED = {"list", "array", "struct", "map", "union"}


class PostgresPublicationError(RuntimeError):
    """The PostgreSQL publication failed; the current schema was left as it was."""


@dataclass(frozen=True)
class PgColumn:
    """One column: its name, the PostgreSQL type it gets, and the DuckDB expression that renders it for COPY."""

    name: str
    pg_type: str
    select_expr: str


def pg_column(name: str, duck_type: DuckDBPyType) -> PgColumn:
    """Map one DuckDB (Parquet) column to its PostgreSQL type and the expression that feeds COPY in CSV."""
    ident = '"' + name.replace('"', '""') + '"'
    type_id = duck_type.id
    if str(duck_type).upper() == "JSON":
        return PgColumn(name, "jsonb", f"{ident}::varchar")
    if type_id == "decimal":
        params = dict(duck_type.children)
        return PgColumn(name, f"numeric({params['precision']},{params['scale']})", ident)
    if type_id in _NESTED:
        return PgColumn(name, "jsonb", f"to_json({ident})::varchar")
    if type_id == "blob":
        return PgColumn(name, "bytea", f"'\\x' || hex({ident})")
    if type_id in TYPE_MAP:
        expr = ident if type_id in _ARROW_NATIVE else f"cast({ident} as varchar)"
        return PgColumn(name, TYPE_MAP[type_id], expr)
    log.warning("column %s has DuckDB type %s, published to PostgreSQL as text", name, duck_type)
    return PgColumn(name, "text", f"cast({ident} as varchar)")


def safe_target(dsn: str) -> str:
    """user@host:port/dbname of a DSN, for logs and messages (never the password)."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "<unparsable DSN>"
    host = params.get("host") or params.get("hostaddr") or "<default host>"
    user = params.get("user") or "<default user>"
    return f"{user}@{host}:{params.get('port') or 5432}/{params.get('dbname') or '<default db>'}"


def _password(dsn: str) -> str | None:
    try:
        return conninfo_to_dict(dsn).get("password") or None
    except psycopg.Error:
        return None


def _mask(text: str, password: str | None) -> str:
    return text.replace(password, "***") if password else text


def _identifiers(schema: str, run_id: str) -> tuple[str, str]:
    short = re.sub(r"[^0-9a-z]", "", run_id.lower())[:8]
    if not short:
        raise ValueError(f"run_id {run_id!r} has no letters or digits to name the staging schema")
    staging, old = f"{schema}{STAGING_INFIX}{short}", f"{schema}{OLD_SUFFIX}"
    for name in (schema, staging, old):
        if len(name.encode()) > MAX_IDENTIFIER_BYTES:
            raise ValueError(
                f"PostgreSQL schema name {name!r} is longer than {MAX_IDENTIFIER_BYTES} bytes: "
                "choose a shorter C360_PG_SCHEMA"
            )
    return staging, old


def _lock_key(schema: str) -> int:
    """A stable signed 64-bit advisory-lock key for publications of this schema."""
    digest = hashlib.sha256(f"c360.publish_to_postgres:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def _connect(dsn: str) -> Iterator[psycopg.Connection]:
    password = _password(dsn)
    try:
        conn = psycopg.connect(
            dsn, autocommit=True, client_encoding="utf8", application_name="c360-publication"
        )
    except psycopg.Error as exc:
        message = _mask(str(exc), password).strip()
        error = PostgresPublicationError(f"cannot connect to PostgreSQL {safe_target(dsn)}: {message}")
        raise error from (None if password and password in str(exc) else exc)
    try:
        conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
        yield conn
    finally:
        conn.close()


def ensure_reader_role(conn: psycopg.Connection, role: str) -> None:
    """Create the read-only role (NOLOGIN) unless it exists. The DBA grants it to the BI login users."""
    exists = conn.execute("select 1 from pg_catalog.pg_roles where rolname = %s", [role]).fetchone()
    if exists:
        return
    try:
        conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
        log.info("created PostgreSQL role %s (NOLOGIN): grant it to the BI login users", role)
    except pg_errors.DuplicateObject:
        pass  # created concurrently
    except pg_errors.InsufficientPrivilege as exc:
        raise PostgresPublicationError(
            f"PostgreSQL role {role!r} does not exist and this user may not create it ({exc}): "
            f"ask the DBA to run: create role {role} nologin"
        ) from exc


def _parquet_columns(duck: duckdb.DuckDBPyConnection, path: Path) -> list[PgColumn]:
    rel = duck.sql(f"select * from read_parquet('{_sql_str(path)}')")
    return [pg_column(name, typ) for name, typ in zip(rel.columns, rel.types, strict=True)]


def _sql_str(path: Path) -> str:
    return str(path).replace("'", "''")


def _load_table(
    conn: psycopg.Connection,
    duck: duckdb.DuckDBPyConnection,
    staging: str,
    table: str,
    path: Path,
    batch_rows: int,
    spec: Any = None,
) -> int:
    columns = _parquet_columns(duck, path)
    target = sql.Identifier(staging, table)
    conn.execute(
        sql.SQL("create table {} ({})").format(
            target,
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.pg_type)) for c in columns
            ),
        )
    )
    expected = duck.sql(f"select count(*) from read_parquet('{_sql_str(path)}')").fetchone()[0]
    copy_sql = sql.SQL("copy {} ({}) from stdin (format csv, freeze)").format(
        target, sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    )
    query = f"select {', '.join(c.select_expr for c in columns)} from read_parquet('{_sql_str(path)}')"
    # Strings quoted (an empty string is ""), nulls unquoted and empty: the CSV that COPY reads.
    options = pacsv.WriteOptions(include_header=False)
    with conn.cursor() as cur:
        # The queued writer sends to the server from a worker thread while this one renders the next batch.
        with cur.copy(copy_sql, writer=QueuedLibpqWriter(cur)) as copy:
            for batch in duck.execute(query).to_arrow_reader(batch_rows):
                sink = pa.BufferOutputStream()
                pacsv.write_csv(batch, sink, options)
                copy.write(memoryview(sink.getvalue()))
        loaded = cur.rowcount
    if loaded != expected:
        raise PostgresPublicationError(
            f"table {table}: COPY loaded {loaded} rows, the Parquet file has {expected}"
        )
    if spec is not None:
        _document(conn, target, spec, {c.name for c in columns})
    conn.execute(sql.SQL("analyze {}").format(target))
    return loaded


def _document(conn: psycopg.Connection, target: sql.Identifier, spec: Any, columns: set[str]) -> None:
    """Table and column comments from the dbt YAML (BI tools show them) and the primary key the dbt tests
    declare (unique and not null)."""
    if spec.description:
        conn.execute(sql.SQL("comment on table {} is {}").format(target, sql.Literal(spec.description)))
    for column, text in spec.columns.items():
        if text and column in columns:
            conn.execute(
                sql.SQL("comment on column {}.{} is {}").format(
                    target, sql.Identifier(column), sql.Literal(text)
                )
            )
    if spec.primary_key and set(spec.primary_key) <= columns:
        conn.execute(
            sql.SQL("alter table {} add primary key ({})").format(
                target, sql.SQL(", ").join(sql.Identifier(c) for c in spec.primary_key)
            )
        )


def _dependent_objects(conn: psycopg.Connection, schema: str) -> list[str]:
    """Views outside `schema` built on its tables (the swap's drop ... cascade removes them)."""
    rows = conn.execute(
        """
        select distinct v.oid::regclass::text
        from pg_catalog.pg_depend d
        join pg_catalog.pg_rewrite r on d.classid = 'pg_catalog.pg_rewrite'::regclass and r.oid = d.objid
        join pg_catalog.pg_class v on v.oid = r.ev_class
        join pg_catalog.pg_class t on d.refclassid = 'pg_catalog.pg_class'::regclass and t.oid = d.refobjid
        join pg_catalog.pg_namespace n on n.oid = t.relnamespace
        where n.nspname = %s and v.relnamespace <> t.relnamespace
        order by 1
        """,
        [schema],
    ).fetchall()
    return [r[0] for r in rows]


class _LockBusy(Exception):
    """A swap attempt could not get the lock on `table` in time (and was rolled back to its savepoint)."""

    def __init__(self, table: str, *, first: bool) -> None:
        super().__init__(table)
        self.table, self.first = table, first


def _set_lock_timeout(conn: psycopg.Connection, ms: int) -> None:
    conn.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(f"{max(ms, 1)}ms")))


def _swap_once(
    conn: psycopg.Connection,
    schema: str,
    staging: str,
    old: str,
    role: str,
    first: str | None,
    remaining_ms: int,
) -> None:
    """One attempt at the swap, in a savepoint of the publication transaction.

    The old tables are locked one by one, `first` (the one a previous attempt could not get) first: the attempt
    waits up to FIRST_LOCK_WAIT_MS for it while holding nothing readers use, then up to OTHER_LOCK_WAIT_MS for each
    of the others. A reader that holds one of those and waits for a lock this attempt already has makes it time
    out quickly (well below deadlock_timeout) and roll back, so the reader goes on and is never the one aborted.
    """
    with conn.transaction():
        current = [
            name
            for (name,) in conn.execute(
                """
                select c.relname from pg_catalog.pg_class c
                join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm', 'f') order by c.relname
                """,
                [schema],
            ).fetchall()
        ]
        order = ([first] if first in current else []) + [name for name in current if name != first]
        for i, name in enumerate(order):
            _set_lock_timeout(conn, min(FIRST_LOCK_WAIT_MS if i == 0 else OTHER_LOCK_WAIT_MS, remaining_ms))
            try:
                conn.execute(
                    sql.SQL("lock table {} in access exclusive mode").format(sql.Identifier(schema, name))
                )
            except pg_errors.LockNotAvailable as exc:
                raise _LockBusy(name, first=i == 0) from exc
        _set_lock_timeout(conn, FIRST_LOCK_WAIT_MS)  # nothing below should wait; if it does, retry
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(old)))
        exists = conn.execute("select 1 from pg_catalog.pg_namespace where nspname = %s", [schema]).fetchone()
        if exists:
            dependents = _dependent_objects(conn, schema)
            if dependents:
                log.warning(
                    "dropping objects that depend on the previous %s tables: %s",
                    schema,
                    ", ".join(dependents),
                )
            conn.execute(
                sql.SQL("alter schema {} rename to {}").format(sql.Identifier(schema), sql.Identifier(old))
            )
        conn.execute(
            sql.SQL("alter schema {} rename to {}").format(sql.Identifier(staging), sql.Identifier(schema))
        )
        conn.execute(
            sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(schema), sql.Identifier(role))
        )
        conn.execute(
            sql.SQL("grant select on all tables in schema {} to {}").format(
                sql.Identifier(schema), sql.Identifier(role)
            )
        )
        if exists:
            conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(old)))


def _swap(
    conn: psycopg.Connection, schema: str, staging: str, old: str, role: str, swap_timeout: float
) -> None:
    """Retry the swap until it gets every lock or `swap_timeout` seconds have passed."""
    deadline = time.monotonic() + swap_timeout
    pause, attempt, first = 0.1, 0, None
    while True:
        attempt += 1
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        try:
            _swap_once(conn, schema, staging, old, role, first, remaining_ms)
        except (_LockBusy, pg_errors.LockNotAvailable, pg_errors.DeadlockDetected) as exc:
            busy = exc.table if isinstance(exc, _LockBusy) else None
            if time.monotonic() >= deadline:
                what = f"table {schema}.{busy}" if busy else f"the tables of {schema}"
                raise PostgresPublicationError(
                    f"could not swap schema {schema} in within {swap_timeout:g}s: reader transactions kept locks "
                    f"on {what} (long or idle-in-transaction sessions?); the current schema is unchanged"
                ) from exc
            if not isinstance(exc, _LockBusy) or exc.first:
                # A reader held a lock for a while: let the readers queued behind our wait through first.
                time.sleep(min(pause, max(deadline - time.monotonic(), 0)))
                pause = min(pause * 2, 1.0)
            first = busy
            continue
        if attempt > 1:
            log.info(
                "swapped %s in after %d attempts (readers held locks on the old tables)", schema, attempt
            )
        return


def publish_to_postgres(
    settings: Settings,
    parquet_dir: Path,
    tables: list[str],
    *,
    run_id: str,
    swap_timeout: float = 300.0,
    batch_rows: int = BATCH_ROWS,
    specs: Sequence[Any] = (),
) -> dict[str, int]:
    """Load ``parquet_dir/<table>.parquet`` for every table into a staging schema and swap it in as
    ``settings.postgres_schema`` in one transaction; grant the read-only role. Returns rows per table.

    Raises :class:`PostgresPublicationError` (naming the table and quoting the PostgreSQL error) when a load, the
    connection or the swap fails, and :class:`ValueError` for a call that cannot work (publication off, no
    tables, a name too long). In every failure case the current schema is left exactly as it was and no staging
    schema remains.
    """
    if not settings.postgres_dsn:
        raise ValueError("PostgreSQL publication is off: C360_PG_DSN is not set")
    tables = list(tables)
    if not tables:
        raise ValueError("no tables to publish to PostgreSQL")
    if len(set(tables)) != len(tables):
        raise ValueError(f"duplicate table names in {tables}")
    schema, role, dsn = settings.postgres_schema, settings.postgres_reader_role, settings.postgres_dsn
    staging, old = _identifiers(schema, run_id)
    missing = [t for t in tables if not (parquet_dir / f"{t}.parquet").is_file()]
    if missing:
        raise PostgresPublicationError(
            f"cannot publish to PostgreSQL: no Parquet file for table(s) {', '.join(missing)} in {parquet_dir}"
        )
    password = _password(dsn)
    by_name = {spec.name: spec for spec in specs}
    started = time.monotonic()
    log.info("publishing %d tables to PostgreSQL %s, schema %s", len(tables), safe_target(dsn), schema)

    duck = duckdb.connect(
        ":memory:",
        config={"memory_limit": settings.duckdb_memory_limit} if settings.duckdb_memory_limit else {},
    )
    duck.execute("set TimeZone = 'UTC'")  # timestamptz rendered with an explicit +00 offset
    try:
        with _connect(dsn) as conn:
            ensure_reader_role(conn, role)
            row_counts: dict[str, int] = {}
            table = None
            try:
                with conn.transaction():
                    conn.execute("select pg_catalog.pg_advisory_xact_lock(%s)", [_lock_key(schema)])
                    conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(staging)))
                    conn.execute(sql.SQL("create schema {}").format(sql.Identifier(staging)))
                    for table in tables:
                        row_counts[table] = _load_table(
                            conn,
                            duck,
                            staging,
                            table,
                            parquet_dir / f"{table}.parquet",
                            batch_rows,
                            spec=by_name.get(table),
                        )
                        log.info("loaded %s.%s: %d rows", staging, table, row_counts[table])
                    table = None
                    _swap(conn, schema, staging, old, role, swap_timeout)
            except PostgresPublicationError:
                raise
            except (psycopg.Error, duckdb.Error) as exc:
                where = (
                    f"loading table {table} into {staging}" if table else f"swapping {staging} in as {schema}"
                )
                raise PostgresPublicationError(
                    f"PostgreSQL publication failed {where} ({type(exc).__name__}): {_mask(str(exc), password)}"
                ) from exc
    finally:
        duck.close()
    log.info(
        "published %d tables to PostgreSQL schema %s in %.1fs: %s",
        len(tables),
        schema,
        time.monotonic() - started,
        ", ".join(f"{t}={n:,}" for t, n in row_counts.items()),
    )
    return row_counts
