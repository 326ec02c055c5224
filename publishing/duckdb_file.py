"""Publication to the published DuckDB file and Parquet files (SPEC 6).

The published database is never modified in place. A complete new file is written next to it and renamed over
it (os.replace, atomic on POSIX): a reader that has the old file open keeps reading a consistent old version, a
new reader gets the new one, nothing waits for readers, and a crash before the rename leaves the old file intact.
The file is written with storage version v1.4.0 so DuckDB 1.4+ clients (those bundled in BI tools) can open it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from c360.settings import Settings
from publishing.gate import CheckRecord, checks_as_json
from warehouse import connect

STORAGE_VERSION = "v1.4.0"
LOG_TABLE = "publication_log"

LOG_DDL = f"""
create table if not exists {{db}}.{LOG_TABLE} (
    run_id varchar,
    as_of_date date,
    status varchar,            -- published | held_back
    logged_at timestamp,       -- wall-clock time of the log entry (metadata, never used by a model)
    tables_published integer,
    row_counts json,           -- rows per published table after this entry, as a JSON object
    checks_passed integer,
    checks_failed integer,
    warnings integer,
    failed_checks varchar,     -- one line per failed blocking check: check, table, observed, expected
    checks json,               -- every check of the run with its result and observed value
    message varchar
)
"""


@dataclass(frozen=True)
class PublicationRecord:
    run_id: str
    as_of_date: date
    status: str
    row_counts: dict[str, int]
    checks: list[CheckRecord]
    message: str

    @property
    def failed(self) -> list[CheckRecord]:
        return [c for c in self.checks if c.blocks]

    @property
    def warnings(self) -> list[CheckRecord]:
        return [c for c in self.checks if c.is_warning]


@contextmanager
def publication_lock(settings: Settings) -> Iterator[None]:
    """Serializes writers of the published area (a pipeline run and a held-back record, say)."""
    lock_path = settings.published_db.parent / ".publication.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tmp_path(settings: Settings, run_id: str) -> Path:
    return settings.published_db.with_name(f".{settings.published_db.name}.{run_id}.tmp")


def _cleanup(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        with suppress(FileNotFoundError):
            p.unlink()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _insert_log(con: duckdb.DuckDBPyConnection, db: str, record: PublicationRecord) -> None:
    con.execute(LOG_DDL.format(db=db))
    failed = "\n".join(c.line() for c in record.failed)
    con.execute(
        f"insert into {db}.{LOG_TABLE} values (?, ?, ?, ?, ?, ?::json, ?, ?, ?, ?, ?::json, ?)",
        [
            record.run_id,
            record.as_of_date,
            record.status,
            datetime.now(UTC).replace(tzinfo=None),
            len(record.row_counts),
            json.dumps(record.row_counts, sort_keys=True),
            sum(1 for c in record.checks if c.passed),
            len(record.failed),
            len(record.warnings),
            failed or None,
            checks_as_json(record.checks),
            record.message,
        ],
    )


def _replace(tmp: Path, target: Path) -> None:
    os.replace(tmp, target)
    _fsync_dir(target.parent)


def previous_log(settings: Settings) -> list[dict]:
    """Rows of the current publication log (empty when nothing was published yet)."""
    if not settings.published_db.exists():
        return []
    con = duckdb.connect(str(settings.published_db), read_only=True)
    try:
        exists = con.sql(
            f"select count(*) from information_schema.tables where table_name = '{LOG_TABLE}'"
        ).fetchone()[0]
        if not exists:
            return []
        rel = con.sql(f"select * from {LOG_TABLE} order by logged_at")
        cols = rel.columns
        return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]
    finally:
        con.close()


def last_published_row_count(settings: Settings, table: str) -> int | None:
    for row in reversed(previous_log(settings)):
        if row["status"] == "published":
            counts = row["row_counts"]
            counts = json.loads(counts) if isinstance(counts, str) else counts
            return counts.get(table)
    return None


def publish_tables(
    settings: Settings, *, run_id: str, as_of: date, tables: list[str], checks: list[CheckRecord]
) -> PublicationRecord:
    """Copy `tables` from the build database into a new published file + Parquet files, then swap them in."""
    tmp = _tmp_path(settings, run_id)
    staging_dir = settings.published_dir / f".staging-{run_id}"
    with publication_lock(settings):
        _cleanup(tmp)
        shutil.rmtree(staging_dir, ignore_errors=True)
        staging_dir.mkdir(parents=True)
        con = connect(settings.build_db, memory_limit=settings.duckdb_memory_limit)
        try:
            con.execute(f"attach '{tmp}' as pub (storage_version '{STORAGE_VERSION}')")
            row_counts: dict[str, int] = {}
            for table in tables:
                con.execute(f"create table pub.main.{table} as select * from main.{table}")
                row_counts[table] = con.sql(f"select count(*) from pub.main.{table}").fetchone()[0]
            record = PublicationRecord(
                run_id=run_id,
                as_of_date=as_of,
                status="published",
                row_counts=row_counts,
                checks=checks,
                message=f"published {len(tables)} tables for as-of date {as_of}",
            )
            _copy_previous_log(con, settings)
            _insert_log(con, "pub", record)
            for table in [*tables, LOG_TABLE]:
                con.execute(
                    f"copy (select * from pub.main.{table}) to '{staging_dir / (table + '.parquet')}' "
                    "(format parquet, compression zstd)"
                )
            con.execute("detach pub")
        except BaseException:
            con.close()
            _cleanup(tmp)
            shutil.rmtree(staging_dir, ignore_errors=True)
            raise
        con.close()
        _replace(tmp, settings.published_db)
        for parquet in sorted(staging_dir.glob("*.parquet")):
            os.replace(parquet, settings.published_dir / parquet.name)
        shutil.rmtree(staging_dir, ignore_errors=True)
    return record


def _copy_previous_log(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    con.execute(LOG_DDL.format(db="pub"))
    if settings.published_db.exists():
        con.execute(f"attach '{settings.published_db}' as prev (read_only)")
        try:
            has_log = con.sql(
                "select count(*) from duckdb_tables() where database_name = 'prev' "
                f"and table_name = '{LOG_TABLE}'"
            ).fetchone()[0]
            if has_log:
                con.execute(f"insert into pub.main.{LOG_TABLE} select * from prev.main.{LOG_TABLE}")
        finally:
            con.execute("detach prev")


def record_held_back(
    settings: Settings, *, run_id: str, as_of: date, checks: list[CheckRecord], message: str
) -> PublicationRecord:
    """Append a held_back row to the publication log; every published table stays exactly as it was."""
    with publication_lock(settings):
        for row in previous_log(settings):
            if row["run_id"] == run_id:  # already recorded (the CLI and the failure sensor may both get here)
                return PublicationRecord(run_id, as_of, row["status"], {}, checks, row["message"])
        tmp = _tmp_path(settings, run_id)
        _cleanup(tmp)
        record = PublicationRecord(run_id, as_of, "held_back", {}, checks, message)
        try:
            if settings.published_db.exists():
                shutil.copyfile(settings.published_db, tmp)
                con = duckdb.connect(str(tmp))
            else:
                con = duckdb.connect(":memory:")
                con.execute(f"attach '{tmp}' as pubfile (storage_version '{STORAGE_VERSION}')")
                con.execute("use pubfile")
            try:
                current = con.sql(
                    "select table_name from information_schema.tables where table_schema = 'main' "
                    f"and table_name <> '{LOG_TABLE}' order by 1"
                ).fetchall()
                counts = {t: con.sql(f'select count(*) from "{t}"').fetchone()[0] for (t,) in current}
                record = PublicationRecord(run_id, as_of, "held_back", counts, checks, message)
                _insert_log(con, "main", record)
                con.execute("checkpoint")
            finally:
                con.close()
        except BaseException:
            _cleanup(tmp)
            raise
        _replace(tmp, settings.published_db)
        log_parquet = settings.published_dir / f"{LOG_TABLE}.parquet"
        staging = settings.published_dir / f".{LOG_TABLE}.{run_id}.parquet"
        reader = duckdb.connect(str(settings.published_db), read_only=True)
        try:
            reader.execute(f"copy (select * from {LOG_TABLE}) to '{staging}' (format parquet)")
        finally:
            reader.close()
        os.replace(staging, log_parquet)
    return record
