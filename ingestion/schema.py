"""The ``raw`` schema and the ingestion log: the only state the loader keeps, all of it in the connection.

Everything :func:`ingestion.loader.ingest_source` needs to know about earlier runs (which contents were loaded,
which file ids were used) is read from the connection it is given, so any DuckDB connection holding this schema
works: the build database, or an in-memory database seeded with a copy of the ingestion log that another engine
uses as its staging area.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from ingestion.contracts import CONTRACTS, METADATA_COLUMNS


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create schema ``raw``, the raw tables, ``raw.quarantine`` and ``raw.ingestion_log`` if missing."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute("CREATE SEQUENCE IF NOT EXISTS raw.ingestion_file_id_seq START 1")
    for contract in CONTRACTS.values():
        columns = [f"{c.name} {c.sql_type}" for c in contract.columns]
        columns += [f"{name} {sql_type}" for name, sql_type in METADATA_COLUMNS]
        con.execute(f"CREATE TABLE IF NOT EXISTS {contract.table} ({', '.join(columns)})")
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS raw.quarantine (
            source VARCHAR NOT NULL,
            file VARCHAR NOT NULL,
            _file_id BIGINT NOT NULL,
            line BIGINT,
            column_name VARCHAR,
            value VARCHAR,
            reason VARCHAR NOT NULL,
            raw_record VARCHAR,
            quarantined_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS raw.ingestion_log (
            file_id BIGINT NOT NULL,
            source VARCHAR NOT NULL,
            file VARCHAR NOT NULL,
            content_hash VARCHAR,
            file_size BIGINT,
            status VARCHAR NOT NULL,
            rows_read BIGINT NOT NULL,
            rows_loaded BIGINT NOT NULL,
            rows_quarantined BIGINT NOT NULL,
            error VARCHAR,
            extra_columns VARCHAR[],
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP NOT NULL,
            file_stat VARCHAR
        )
        """
    )
    # databases made before the column existed
    con.execute("ALTER TABLE raw.ingestion_log ADD COLUMN IF NOT EXISTS file_stat VARCHAR")


def now() -> datetime:
    """The current time as stored in the log: UTC, naive."""
    return datetime.now(UTC).replace(tzinfo=None)


def next_file_id(con: duckdb.DuckDBPyConnection) -> int:
    """A new file id, larger than every id in the log.

    The sequence alone is not enough: a database seeded with a copy of another database's log has a fresh
    sequence, whose first values that log already uses.
    """
    row = con.execute(
        "SELECT greatest(nextval('raw.ingestion_file_id_seq'), "
        "(SELECT coalesce(max(file_id), 0) + 1 FROM raw.ingestion_log))"
    ).fetchone()
    return int(row[0])  # type: ignore[index]


def known_content(con: duckdb.DuckDBPyConnection, source: str, file: str, file_stat: str) -> str | None:
    """The content hash logged for this very version of the file (same name and signature), or None."""
    row = con.execute(
        "SELECT content_hash FROM raw.ingestion_log WHERE source = ? AND file = ? AND file_stat = ? "
        "AND status IN ('loaded', 'skipped') ORDER BY file_id DESC LIMIT 1",
        [source, file, file_stat],
    ).fetchone()
    return str(row[0]) if row else None


def last_entry(con: duckdb.DuckDBPyConnection, source: str, file: str) -> tuple[int, str, str | None] | None:
    """(file_id, status, error) of the newest log row of this file, or None."""
    row = con.execute(
        "SELECT file_id, status, error FROM raw.ingestion_log WHERE source = ? AND file = ? "
        "ORDER BY file_id DESC LIMIT 1",
        [source, file],
    ).fetchone()
    return (int(row[0]), str(row[1]), row[2]) if row else None


def loaded_earlier(con: duckdb.DuckDBPyConnection, source: str, content_hash: str) -> tuple[str, int] | None:
    """(file, file_id) of the first loaded file of ``source`` with this content, or None."""
    row = con.execute(
        "SELECT file, file_id FROM raw.ingestion_log WHERE source = ? AND content_hash = ? "
        "AND status = 'loaded' ORDER BY file_id LIMIT 1",
        [source, content_hash],
    ).fetchone()
    return (str(row[0]), int(row[1])) if row else None


def log_file(
    con: duckdb.DuckDBPyConnection,
    *,
    file_id: int,
    source: str,
    file: str,
    content_hash: str | None,
    size: int | None,
    status: str,
    counts: tuple[int, int, int] = (0, 0, 0),
    error: str | None = None,
    extra_columns: list[str] | None = None,
    started: datetime,
    file_stat: str | None = None,
) -> None:
    """Append one row to ``raw.ingestion_log`` (counts are rows read, loaded, quarantined).

    ``file_stat`` is the file's ``discover.Signature`` when its content hash was read from exactly that version.
    """
    con.execute(
        "INSERT INTO raw.ingestion_log (file_id, source, file, content_hash, file_size, status, rows_read, "
        "rows_loaded, rows_quarantined, error, extra_columns, started_at, finished_at, file_stat) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            file_id,
            source,
            file,
            content_hash,
            size,
            status,
            *counts,
            error,
            extra_columns or [],
            started,
            now(),
            file_stat,
        ],
    )
