"""Load landing-zone files into the ``raw`` schema of the build database (SPEC §2, §2.4, §7).

One call of :func:`ingest_source` loads every new file of one source folder, in sorted name order. For each file:

1. The file is hashed (sha256). If a file with the same content was already *loaded* for this source (under any
   name) it is ``skipped``. Plain UTF-8 text is validated in the same pass.
2. Text that is gzip-compressed or not UTF-8 (per-source ``encoding``) is streamed through Python's codecs into a
   temporary UTF-8 file. Undecodable bytes, a truncated gzip stream or content that does not match the extension
   fail the file with an error naming it and saying what to do.
3. DuckDB reads the file into a temporary staging table, every value as text (CSV: our own header sniffing,
   ``store_rejects`` for malformed lines; JSON Lines: one line per row, parsed with DuckDB's JSON functions;
   Parquet: read directly, native types kept).
4. One vectorized query types every column with ``TRY_CAST`` and flags, per row, every broken rule.
5. In one transaction: good rows are appended to ``raw.<source>``, bad rows and malformed lines to
   ``raw.quarantine``, and a row to ``raw.ingestion_log`` (``rows_read = rows_loaded + rows_quarantined``).

Decisions:

- Raw tables are append-only logs of row versions; de-duplication by key happens in dbt staging.
- A bad row gets one quarantine row per broken rule (each names its column, value and reason; a column gets at
  most one, its first broken rule), so a user can fix everything at once; ``rows_quarantined`` counts rows.
  Malformed lines (wrong field count, unclosed quote, invalid JSON) get one quarantine row with
  ``column_name`` NULL and the line's text as ``raw_record``; other bad rows have the row as a JSON object.
- ``_source_line`` / ``quarantine.line`` is the 1-based *physical* line number where the record starts in the
  (decompressed) file, the header being line 1, for CSV and JSON Lines; for Parquet and for ``.json`` files
  holding one JSON array it is the 1-based record number. Blank lines are not rows: neither loaded nor counted,
  but they keep their line number.
- A 0-byte (or whitespace-only) file is ``loaded`` with 0 rows: it has no row that could break the contract, and
  recording it keeps later runs quiet. A header-only CSV is checked against the contract and loaded with 0 rows.
- Failed files are logged (status ``failed``, the error) and retried on every run until they load. For skipped
  files ``error`` names the earlier file with the same content.
- A UTF-8 byte order mark always means UTF-8, whatever the source's encoding setting says.
- ``_extra`` holds the columns that are not in the contract as one JSON object per row (NULL when the file has
  none); column names are matched to the contract case-insensitively after trimming.
- Timestamps: ISO 8601 with an offset are converted to UTC; values without an offset are taken as UTC; stored
  as naive ``TIMESTAMP`` (UTC). Amounts are rounded to 2 decimals.
- Performance: everything row-wise is SQL. Rows are numbered by the staging table's ``rowid`` (the table is
  written in file order), and typing and inserting run with ``preserve_insertion_order`` off; that DuckDB
  setting is global to the database instance and restored when :func:`ingest_source` returns.
"""

from __future__ import annotations

import codecs
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import duckdb

from ingestion.contracts import CONTRACTS, METADATA_COLUMNS, Contract
from ingestion.decode import Scan, binary_problem, decode_to_utf8, encoding_setting, scan_file
from ingestion.errors import FileError
from ingestion.formats import (
    BAD_LINES,
    SUPPORTED_SUFFIXES,
    TYPED,
    Lines,
    Staged,
    drop_temp,
    first_lines,
    format_of,
)
from ingestion.formats.csv import stage_csv
from ingestion.formats.jsonl import stage_json
from ingestion.formats.parquet import stage_parquet
from ingestion.rules import type_rows
from ingestion.schema import ensure_schema, loaded_earlier, log_file, next_file_id, now
from ingestion.sql import lit

SOURCES = ("orders", "contacts", "survey_responses")


@dataclass
class FileResult:
    """Outcome of one landing file."""

    path: str  # relative to the landing root, e.g. "orders/orders_2025.parquet"
    content_hash: str  # sha256 of the file's bytes as delivered
    status: Literal["loaded", "skipped", "failed"]
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None
    extra_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0
    file_id: int | None = None  # id in raw.ingestion_log


@dataclass
class SourceLoadResult:
    """Outcome of one :func:`ingest_source` call."""

    source: str
    files: list[FileResult] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        """Rows read from the files loaded in this run."""
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        """Rows appended to the raw table in this run."""
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        """Rows sent to ``raw.quarantine`` in this run."""
        return sum(f.rows_quarantined for f in self.files)

    @property
    def failed_files(self) -> list[FileResult]:
        """Files that could not be loaded (nothing of them was loaded; they are retried next run)."""
        return [f for f in self.files if f.status == "failed"]

    @property
    def new_files(self) -> list[FileResult]:
        """Files loaded in this run."""
        return [f for f in self.files if f.status == "loaded"]


def ingest_source(
    con: duckdb.DuckDBPyConnection,
    source: str,
    landing_root: Path,
    *,
    encoding: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> SourceLoadResult:
    """Load the new files of ``landing_root/<source>/`` into ``raw.<source>``.

    Args:
        con: connection to the build database, in auto-commit mode (each file is loaded in its own transaction).
        source: one of ``SOURCES``.
        landing_root: the landing zone (``$C360_HOME/landing``).
        encoding: Python codec name of the source's text files when they are not UTF-8 (e.g. ``gb18030``,
            ``latin-1``); ``None`` means UTF-8.
        progress: called once per file with a one-line summary.

    Returns:
        One :class:`FileResult` per file, in processing order. Failed files do not raise: check
        ``result.failed_files``.

    Raises:
        ValueError: unknown source or unknown encoding.
    """
    if source not in CONTRACTS:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    if encoding is not None:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise ValueError(
                f"{encoding_setting(source)}={encoding!r} is not an encoding Python knows; "
                "use a codec name such as utf-8, gb18030, latin-1 or cp1252"
            ) from None
    contract = CONTRACTS[source]
    landing_root = Path(landing_root)
    ensure_schema(con)
    result = SourceLoadResult(source=source)
    folder = landing_root / source
    if not folder.is_dir():
        if progress:
            progress(f"{source}: no landing folder {folder}; nothing to load")
        return result
    paths = sorted(
        (p for p in folder.iterdir() if not p.name.startswith(".") and p.is_file()), key=lambda p: p.name
    )
    with _session(con):
        for path in paths:
            file_result = _ingest_file(con, contract, path, f"{source}/{path.name}", encoding)
            result.files.append(file_result)
            if progress:
                progress(_describe(file_result))
    return result


def _describe(r: FileResult) -> str:
    if r.status == "failed":
        return f"{r.path}: FAILED ({r.seconds:.1f} s): {r.error}"
    if r.status == "skipped":
        return f"{r.path}: skipped, identical content was already loaded ({r.error or 'same sha256'})"
    extra = f"; extra columns kept in _extra: {', '.join(r.extra_columns)}" if r.extra_columns else ""
    return (
        f"{r.path}: {r.rows_loaded:,} rows loaded, {r.rows_quarantined:,} quarantined "
        f"({r.seconds:.1f} s){extra}"
    )


@contextmanager
def _session(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Session settings the loader relies on, restored afterwards."""
    old_tz, old_order = con.execute(
        "SELECT current_setting('TimeZone'), current_setting('preserve_insertion_order')"
    ).fetchone()  # type: ignore[misc]
    con.execute("SET TimeZone = 'UTC'")  # naive timestamps are UTC; offsets convert to UTC
    try:
        yield
    finally:
        con.execute(f"SET TimeZone = {lit(str(old_tz))}")
        con.execute(f"SET preserve_insertion_order = {str(old_order).lower()}")


@dataclass
class _Outcome:
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    extra_columns: list[str]


def _ingest_file(
    con: duckdb.DuckDBPyConnection, contract: Contract, path: Path, rel: str, encoding: str | None
) -> FileResult:
    started = now()
    t0 = time.perf_counter()
    file_id = next_file_id(con)
    source = contract.source
    fmt = format_of(path.name)
    scan: Scan | None = None
    try:
        plain_text = fmt is not None and fmt[0] != "parquet" and not fmt[1]
        reads_utf8 = encoding in (None, "utf-8")
        scan = scan_file(path, rel, source, validate_utf8=plain_text and reads_utf8, encoding=encoding)
        if fmt is None:
            raise FileError(
                f"{rel}: unsupported file type; the landing folder accepts "
                f"{', '.join(s for s, _ in sorted(SUPPORTED_SUFFIXES))}. "
                "Rename the file if it is one of these formats, otherwise move it out of the landing folder."
            )
        previous = loaded_earlier(con, source, scan.sha256)
        if previous is not None:
            note = f"same content as {previous[0]}, file_id {previous[1]}"
            return _log_only(con, file_id, rel, source, scan, "skipped", note, started, t0)
        outcome = _load(con, contract, path, rel, fmt, scan, encoding, file_id, started)
    except FileError as exc:
        return _log_only(con, file_id, rel, source, scan, "failed", str(exc), started, t0)
    except (duckdb.ParserException, duckdb.BinderException):
        raise  # a bug in the generated SQL, not a problem of the file
    except (duckdb.Error, OSError, EOFError, zlib.error, UnicodeError) as exc:
        message = f"{rel}: could not be loaded: {type(exc).__name__}: {first_lines(str(exc))}"
        return _log_only(con, file_id, rel, source, scan, "failed", message, started, t0)
    finally:
        drop_temp(con)
    assert scan is not None
    return FileResult(
        path=rel,
        content_hash=scan.sha256,
        status="loaded",
        rows_read=outcome.rows_read,
        rows_loaded=outcome.rows_loaded,
        rows_quarantined=outcome.rows_quarantined,
        extra_columns=outcome.extra_columns,
        seconds=time.perf_counter() - t0,
        file_id=file_id,
    )


def _log_only(
    con: duckdb.DuckDBPyConnection,
    file_id: int,
    rel: str,
    source: str,
    scan: Scan | None,
    status: Literal["skipped", "failed"],
    message: str,
    started: datetime,
    t0: float,
) -> FileResult:
    """Record a skipped or failed file (nothing of it is loaded)."""
    log_file(
        con,
        file_id=file_id,
        source=source,
        file=rel,
        content_hash=scan.sha256 if scan else None,
        size=scan.size if scan else None,
        status=status,
        error=message,
        started=started,
    )
    return FileResult(
        path=rel,
        content_hash=scan.sha256 if scan else "",
        status=status,
        error=message,
        seconds=time.perf_counter() - t0,
        file_id=file_id,
    )


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:  # the failed statement may already have ended the transaction
        pass


def _load(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    path: Path,
    rel: str,
    fmt: tuple[str, bool],
    scan: Scan,
    encoding: str | None,
    file_id: int,
    started: datetime,
) -> _Outcome:
    kind, compressed = fmt
    source = contract.source
    con.execute("SET preserve_insertion_order = true")  # row order = file order, for line numbers
    with tempfile.TemporaryDirectory(prefix="c360-ingest-") as tmp:
        staged: Staged | None = None
        if scan.size == 0:
            pass
        elif kind == "parquet":
            staged = stage_parquet(con, contract, path, rel, scan)
        else:
            read_path, stats = path, scan.text
            if not compressed and (problem := binary_problem(scan.head, rel, source, encoding, kind)):
                raise FileError(problem)
            if compressed or stats is None:  # gzip and/or not UTF-8: transcode
                read_path = Path(tmp) / "decoded"
                stats = decode_to_utf8(path, rel, source, compressed, encoding, read_path, kind)
            elif scan.decode_error is not None:
                raise scan.decode_error
            if stats.only_whitespace:
                pass
            elif kind == "csv":
                staged = stage_csv(con, contract, read_path, rel, stats, path.name, Path(tmp))
            else:
                staged = stage_json(con, contract, read_path, rel)
        rows_read = rows_loaded = rows_quarantined = 0
        extra_columns: list[str] = []
        lines = Lines()
        if staged is not None:
            lines = staged.lines
            # From here on row order does not matter (every row carries its number): let DuckDB write in parallel.
            con.execute("SET preserve_insertion_order = false")
            type_rows(con, contract, staged)
            n_rows, good = con.execute(
                f"SELECT count(*), count(*) FILTER (WHERE _errors IS NULL) FROM {TYPED}"
            ).fetchone()  # type: ignore[misc]
            bad_lines = 0
            if lines.bad_lines:
                (bad_lines,) = con.execute(f"SELECT count(*) FROM {BAD_LINES} WHERE NOT is_blank").fetchone()  # type: ignore[misc]
            rows_loaded = int(good)
            rows_quarantined = int(n_rows) - int(good) + int(bad_lines)
            rows_read = rows_loaded + rows_quarantined
            extra_columns = staged.extra_columns
        # Raw rows, quarantine rows and the log row commit together or not at all.
        con.execute("BEGIN TRANSACTION")
        try:
            if staged is not None:
                _insert_rows(con, contract, lines, rel, file_id, now())
            log_file(
                con,
                file_id=file_id,
                source=source,
                file=rel,
                content_hash=scan.sha256,
                size=scan.size,
                status="loaded",
                counts=(rows_read, rows_loaded, rows_quarantined),
                extra_columns=extra_columns,
                started=started,
            )
            con.execute("COMMIT")
        except BaseException:
            _rollback(con)
            raise
    return _Outcome(rows_read, rows_loaded, rows_quarantined, extra_columns)


def _insert_rows(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    lines: Lines,
    rel: str,
    file_id: int,
    loaded_at: datetime,
) -> None:
    names = [c.name for c in contract.columns]
    meta = [name for name, _ in METADATA_COLUMNS]
    con.execute(
        f"INSERT INTO {contract.table} ({', '.join(names + meta)}) "
        f"SELECT {', '.join(f't.{n}' for n in names)}, ?, ?, {lines.line_sql}, ?, t._extra "
        f"FROM {TYPED} t {lines.join_sql} WHERE t._errors IS NULL",
        [file_id, rel, loaded_at],
    )
    con.execute(
        f"""
        INSERT INTO raw.quarantine
        SELECT ?, ?, ?, line, e.column_name, e.value, e.reason, raw, ?
        FROM (SELECT {lines.line_sql} AS line, t._raw AS raw, unnest(t._errors) AS e
              FROM {TYPED} t {lines.join_sql} WHERE t._errors IS NOT NULL)
        WHERE e IS NOT NULL
        ORDER BY line
        """,
        [contract.source, rel, file_id, loaded_at],
    )
    if lines.bad_lines:
        con.execute(
            f"""
            INSERT INTO raw.quarantine
            SELECT ?, ?, ?, line, NULL, NULL, reason, trim(text, E'\\r\\n'), ?
            FROM {BAD_LINES} WHERE NOT is_blank ORDER BY line
            """,
            [contract.source, rel, file_id, loaded_at],
        )


__all__ = [
    "SOURCES",
    "SUPPORTED_SUFFIXES",
    "FileError",
    "FileResult",
    "SourceLoadResult",
    "encoding_setting",
    "ensure_schema",
    "ingest_source",
]
