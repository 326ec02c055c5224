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
import csv
import gzip
import hashlib
import io
import re
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import duckdb

from ingestion.contracts import (
    CONTRACTS,
    FALSE_VALUES,
    METADATA_COLUMNS,
    TRUE_VALUES,
    Column,
    Contract,
)

SOURCES = ("orders", "contacts", "survey_responses")

#: File name endings we read, longest first, mapped to (format, gzip-compressed).
SUPPORTED_SUFFIXES: tuple[tuple[str, tuple[str, bool]], ...] = (
    (".jsonl.gz", ("json", True)),
    (".ndjson.gz", ("json", True)),
    (".csv.gz", ("csv", True)),
    (".tsv.gz", ("csv", True)),
    (".parquet", ("parquet", False)),
    (".ndjson", ("json", False)),
    (".jsonl", ("json", False)),
    (".json", ("json", False)),
    (".csv", ("csv", False)),
    (".tsv", ("csv", False)),
    (".txt", ("csv", False)),
)

_CHUNK = 8 << 20
_UTF8_BOM = codecs.BOM_UTF8
# Put on every blank CSV line before DuckDB reads the file: DuckDB skips blank lines without counting them as
# rows, which would shift the line numbers of every later row. A marked blank line becomes a rejected line with
# a known line number; we drop it there. Inside a quoted value the marker is removed again.
_BLANK_MARKER = "~~c360-blank-line~~"
# A delimiter that cannot occur in valid JSON (control characters must be escaped), so that reading a JSON Lines
# file as CSV yields exactly one column per physical line.
_JSON_LINE_DELIM = "\x1f\x1e"
_MAX_VALUE_IN_REASON = 80

# Temporary objects, per connection; dropped after each file.
_STAGE = "c360_ingest_stage"
_TYPED = "c360_ingest_typed"
_REJECTS = "c360_ingest_rejects"
_REJECT_SCANS = "c360_ingest_reject_scans"
_BAD_LINES = "c360_ingest_bad_lines"
_BAD_LINES_CUM = "c360_ingest_bad_lines_cum"
_PHYSICAL = "c360_ingest_physical_lines"
_TEMP_TABLES = (_TYPED, _STAGE, _REJECTS, _REJECT_SCANS, _BAD_LINES, _BAD_LINES_CUM, _PHYSICAL)


# ----------------------------------------------------------------------------------------------- results


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


class FileError(Exception):
    """A file that cannot be loaded at all; the message names the file and says what to do."""


# ----------------------------------------------------------------------------------------------- schema


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
            finished_at TIMESTAMP NOT NULL
        )
        """
    )


# ----------------------------------------------------------------------------------------------- entry point


def encoding_setting(source: str) -> str:
    """Name of the environment variable that sets ``source``'s file encoding, e.g. ``C360_ORDERS_ENCODING``."""
    return f"C360_{source.upper()}_ENCODING"


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
        con.execute(f"SET TimeZone = {_lit(str(old_tz))}")
        con.execute(f"SET preserve_insertion_order = {str(old_order).lower()}")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# ----------------------------------------------------------------------------------------------- per file


@dataclass
class _Scan:
    """What one pass over the delivered bytes found."""

    sha256: str
    size: int
    head: bytes
    tail: bytes
    text: _TextStats | None = None  # for plain (uncompressed) text read as UTF-8
    decode_error: FileError | None = None


@dataclass
class _TextStats:
    """Line statistics of UTF-8 text, for CSV line numbers (see :func:`_stage_csv`)."""

    content_lines: int = 0  # physical lines up to the last one with content (trailing line breaks ignored)
    only_whitespace: bool = True
    newlines: int = 0

    def feed(self, data: bytes) -> None:
        """Account for the next piece of the text."""
        count = data.count(b"\n")
        end = len(data)
        while end and data[end - 1] in (10, 13):  # trailing line breaks
            end -= 1
        if end:
            self.content_lines = self.newlines + count - data.count(b"\n", end) + 1
            if self.only_whitespace and not data.isspace():
                self.only_whitespace = False
        self.newlines += count


@dataclass
class _Outcome:
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    extra_columns: list[str]


def _ingest_file(
    con: duckdb.DuckDBPyConnection, contract: Contract, path: Path, rel: str, encoding: str | None
) -> FileResult:
    started = _now()
    t0 = time.perf_counter()
    file_id = int(con.execute("SELECT nextval('raw.ingestion_file_id_seq')").fetchone()[0])  # type: ignore[index]
    source = contract.source
    fmt = _format_of(path.name)
    scan: _Scan | None = None
    try:
        plain_text = fmt is not None and fmt[0] != "parquet" and not fmt[1]
        reads_utf8 = encoding in (None, "utf-8")
        scan = _scan(path, rel, source, validate_utf8=plain_text and reads_utf8, encoding=encoding)
        if fmt is None:
            raise FileError(
                f"{rel}: unsupported file type; the landing folder accepts "
                f"{', '.join(s for s, _ in sorted(SUPPORTED_SUFFIXES))}. "
                "Rename the file if it is one of these formats, otherwise move it out of the landing folder."
            )
        previous = con.execute(
            "SELECT file, file_id FROM raw.ingestion_log WHERE source = ? AND content_hash = ? "
            "AND status = 'loaded' ORDER BY file_id LIMIT 1",
            [source, scan.sha256],
        ).fetchone()
        if previous is not None:
            note = f"same content as {previous[0]}, file_id {previous[1]}"
            return _log_only(con, file_id, rel, source, scan, "skipped", note, started, t0)
        outcome = _load(con, contract, path, rel, fmt, scan, encoding, file_id, started)
    except FileError as exc:
        return _log_only(con, file_id, rel, source, scan, "failed", str(exc), started, t0)
    except (duckdb.ParserException, duckdb.BinderException):
        raise  # a bug in the generated SQL, not a problem of the file
    except (duckdb.Error, OSError, EOFError, zlib.error, UnicodeError) as exc:
        message = f"{rel}: could not be loaded: {type(exc).__name__}: {_first_lines(str(exc))}"
        return _log_only(con, file_id, rel, source, scan, "failed", message, started, t0)
    finally:
        _drop_temp(con)
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


def _first_lines(message: str, n: int = 3) -> str:
    return " ".join(message.strip().splitlines()[:n])


def _format_of(name: str) -> tuple[str, bool] | None:
    lower = name.lower()
    for suffix, fmt in SUPPORTED_SUFFIXES:
        if lower.endswith(suffix):
            return fmt
    return None


def _log_only(
    con: duckdb.DuckDBPyConnection,
    file_id: int,
    rel: str,
    source: str,
    scan: _Scan | None,
    status: Literal["skipped", "failed"],
    message: str,
    started: datetime,
    t0: float,
) -> FileResult:
    """Record a skipped or failed file (nothing of it is loaded)."""
    con.execute(
        "INSERT INTO raw.ingestion_log VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, ?, ?, ?, ?)",
        [
            file_id,
            source,
            rel,
            scan.sha256 if scan else None,
            scan.size if scan else None,
            status,
            message,
            [],
            started,
            _now(),
        ],
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


def _drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    for name in _TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS temp.main.{name}")


# ----------------------------------------------------------------------------------------------- bytes


def _scan(path: Path, rel: str, source: str, *, validate_utf8: bool, encoding: str | None) -> _Scan:
    """Hash the file; for plain text read as UTF-8 also validate it and count lines, in the same pass."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    tail = b""
    stats = _TextStats() if validate_utf8 else None
    decoder = codecs.getincrementaldecoder("utf-8")() if validate_utf8 else None
    decode_error: FileError | None = None
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            if not head:
                head = chunk[:65536]
            tail = (tail + chunk)[-8:]
            if decoder is not None and (decoder.getstate()[0] or not chunk.isascii()):  # ASCII is UTF-8
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    offset = size + len(chunk) - len(exc.object) + exc.start
                    decode_error = _decode_error(rel, source, encoding, offset, exc)
                    decoder = None
            if stats is not None:
                stats.feed(chunk)
            size += len(chunk)
    if decoder is not None and decode_error is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            decode_error = _decode_error(rel, source, encoding, size - len(exc.object) + exc.start, exc)
    return _Scan(digest.hexdigest(), size, head, tail, stats, decode_error)


def _decode_error(
    rel: str, source: str, encoding: str | None, offset: int, exc: UnicodeDecodeError, *, gz: bool = False
) -> FileError:
    bad = exc.object[exc.start : exc.start + 4].hex(" ")
    where = " (counted after gzip decompression)" if gz else ""
    setting = encoding_setting(source)
    if encoding in (None, "utf-8"):
        advice = (
            f"The file is not UTF-8. Set {setting} to the encoding the export uses "
            f"(for example {setting}=gb18030 or {setting}=latin-1) and run again."
        )
        tried = "UTF-8"
    else:
        advice = f"Check {setting} (currently {encoding!r}): it does not match the file's encoding."
        tried = encoding
    return FileError(f"{rel}: bytes {bad} at byte offset {offset}{where} are not valid {tried}. {advice}")


def _binary_problem(head: bytes, rel: str, source: str, encoding: str | None, fmt: str) -> str | None:
    """Why ``head`` (first bytes of a file that should be text) is not CSV/JSON text, or None."""
    what = "CSV" if fmt == "csv" else "JSON"
    if head.startswith(b"PAR1"):
        return f"{rel}: is a Parquet file, not {what} text; rename it to end in .parquet"
    if head.startswith(b"\x1f\x8b"):
        return f"{rel}: is gzip-compressed, not {what} text; rename it to end in .gz (e.g. .csv.gz)"
    if head.startswith(b"PK\x03\x04"):
        return (
            f"{rel}: is a ZIP archive (an Excel .xlsx workbook?), not {what} text; "
            "export the sheet as CSV (UTF-8) instead"
        )
    utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if encoding is None or not encoding.startswith(("utf-16", "utf-32")):
        if utf16:
            return (
                f"{rel}: is UTF-16 text (it starts with a UTF-16 byte order mark); set "
                f"{encoding_setting(source)}=utf-16 or export as UTF-8"
            )
        if b"\x00" in head:
            return (
                f"{rel}: contains NUL bytes, so it is binary data, not {what} text; check that the export "
                "produced the right file"
            )
    return None


def _decode_to_utf8(
    path: Path, rel: str, source: str, compressed: bool, encoding: str | None, dest: Path, fmt: str
) -> _TextStats:
    """Stream ``path`` (gzip and/or in ``encoding``) into ``dest`` as UTF-8 without BOM; count lines."""
    stats = _TextStats()
    opener = gzip.open if compressed else open
    codec = encoding or "utf-8"
    consumed = 0
    try:
        with opener(path, "rb") as src, dest.open("wb") as out:  # type: ignore[operator]
            first = src.read(_CHUNK)
            if first.startswith(_UTF8_BOM):
                codec = "utf-8"
                first = first[len(_UTF8_BOM) :]
                consumed = len(_UTF8_BOM)
            problem = _binary_problem(first[:65536], rel, source, encoding, fmt) if first else None
            if problem:
                raise FileError(problem + (" (after gzip decompression)" if compressed else ""))
            passthrough = codec == "utf-8"
            decoder = codecs.getincrementaldecoder(codec)()
            chunk = first
            while chunk:
                try:
                    if passthrough and not decoder.getstate()[0] and chunk.isascii():
                        text = ""  # ASCII is valid UTF-8 and written as it is
                    else:
                        text = decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    offset = consumed + len(chunk) - len(exc.object) + exc.start
                    raise _decode_error(rel, source, encoding, offset, exc, gz=compressed) from None
                data = chunk if passthrough else text.encode("utf-8")
                out.write(data)
                stats.feed(data)
                consumed += len(chunk)
                chunk = src.read(_CHUNK)
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                offset = consumed - len(exc.object) + exc.start
                raise _decode_error(rel, source, encoding, offset, exc, gz=compressed) from None
    except EOFError as exc:
        raise FileError(
            f"{rel}: the gzip data is truncated ({exc}); the file was probably cut off during transfer. "
            "Re-deliver the complete file."
        ) from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise FileError(
            f"{rel}: is not valid gzip data ({exc}); re-deliver it, or remove the .gz ending if it is not "
            "compressed"
        ) from None
    return stats


def _mark_blank_lines(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest``, putting ``_BLANK_MARKER`` on every blank line (see the marker's comment)."""
    marker = b"\n" + _BLANK_MARKER.encode()
    pattern = re.compile(rb"\n(?=\r?\n)")
    carry = b""
    with src.open("rb") as f, dest.open("wb") as out:
        while True:
            chunk = f.read(_CHUNK)
            buf = carry + chunk
            if not chunk:
                out.write(pattern.sub(marker, buf))
                return
            # keep trailing line breaks for the next round, so a blank line is never split across chunks
            keep = len(buf) - len(buf.rstrip(b"\r\n"))
            work, carry = (buf[: len(buf) - keep], buf[len(buf) - keep :]) if keep else (buf, b"")
            out.write(pattern.sub(marker, work))


# ----------------------------------------------------------------------------------------------- loading


@dataclass
class _Lines:
    """How to number the typed rows of a file, known once DuckDB has read it (and reported rejected lines)."""

    line_sql: str = "t._rn"  # SQL for the line/record number of typed row ``t``
    join_sql: str = ""  # joins that ``line_sql`` needs
    bad_lines: bool = False  # ``_BAD_LINES`` holds lines (with ``line`` set) to quarantine


@dataclass
class _Staged:
    """A file as DuckDB reads it, described for the typing query."""

    from_sql: str  # FROM clause; rows have `_rn` (record number in file order) and the `columns` expressions
    columns: dict[str, tuple[str, str]]  # contract column -> (SQL expression, DuckDB type)
    extra_sql: str  # SQL for _extra (JSON) or NULL
    raw_sql: str  # SQL for the raw record of a bad row
    extra_columns: list[str]
    lines: _Lines  # how to number the rows
    ok_sql: str = "TRUE"  # record could be parsed at all (JSON)
    not_ok_reason_sql: str = "NULL"


def _load(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    path: Path,
    rel: str,
    fmt: tuple[str, bool],
    scan: _Scan,
    encoding: str | None,
    file_id: int,
    started: datetime,
) -> _Outcome:
    kind, compressed = fmt
    source = contract.source
    con.execute("SET preserve_insertion_order = true")  # row order = file order, for line numbers
    with tempfile.TemporaryDirectory(prefix="c360-ingest-") as tmp:
        staged: _Staged | None = None
        if scan.size == 0:
            pass
        elif kind == "parquet":
            staged = _stage_parquet(con, contract, path, rel, scan)
        else:
            read_path, stats = path, scan.text
            if not compressed and (problem := _binary_problem(scan.head, rel, source, encoding, kind)):
                raise FileError(problem)
            if compressed or stats is None:  # gzip and/or not UTF-8: transcode
                read_path = Path(tmp) / "decoded"
                stats = _decode_to_utf8(path, rel, source, compressed, encoding, read_path, kind)
            elif scan.decode_error is not None:
                raise scan.decode_error
            if stats.only_whitespace:
                pass
            elif kind == "csv":
                staged = _stage_csv(con, contract, read_path, rel, stats, path.name, Path(tmp))
            else:
                staged = _stage_json(con, contract, read_path, rel)
        rows_read = rows_loaded = rows_quarantined = 0
        extra_columns: list[str] = []
        lines = _Lines()
        if staged is not None:
            lines = staged.lines
            # From here on row order does not matter (every row carries its number): let DuckDB write in parallel.
            con.execute("SET preserve_insertion_order = false")
            _type_rows(con, contract, staged)
            n_rows, good = con.execute(
                f"SELECT count(*), count(*) FILTER (WHERE _errors IS NULL) FROM {_TYPED}"
            ).fetchone()  # type: ignore[misc]
            bad_lines = 0
            if lines.bad_lines:
                (bad_lines,) = con.execute(f"SELECT count(*) FROM {_BAD_LINES} WHERE NOT is_blank").fetchone()  # type: ignore[misc]
            rows_loaded = int(good)
            rows_quarantined = int(n_rows) - int(good) + int(bad_lines)
            rows_read = rows_loaded + rows_quarantined
            extra_columns = staged.extra_columns
        # Raw rows, quarantine rows and the log row commit together or not at all.
        con.execute("BEGIN TRANSACTION")
        try:
            if staged is not None:
                _insert_rows(con, contract, lines, rel, file_id, _now())
            con.execute(
                "INSERT INTO raw.ingestion_log VALUES (?, ?, ?, ?, ?, 'loaded', ?, ?, ?, NULL, ?, ?, ?)",
                [
                    file_id,
                    source,
                    rel,
                    scan.sha256,
                    scan.size,
                    rows_read,
                    rows_loaded,
                    rows_quarantined,
                    extra_columns,
                    started,
                    _now(),
                ],
            )
            con.execute("COMMIT")
        except BaseException:
            _rollback(con)
            raise
    return _Outcome(rows_read, rows_loaded, rows_quarantined, extra_columns)


def _insert_rows(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    lines: _Lines,
    rel: str,
    file_id: int,
    loaded_at: datetime,
) -> None:
    names = [c.name for c in contract.columns]
    meta = [name for name, _ in METADATA_COLUMNS]
    con.execute(
        f"INSERT INTO {contract.table} ({', '.join(names + meta)}) "
        f"SELECT {', '.join(f't.{n}' for n in names)}, ?, ?, {lines.line_sql}, ?, t._extra "
        f"FROM {_TYPED} t {lines.join_sql} WHERE t._errors IS NULL",
        [file_id, rel, loaded_at],
    )
    con.execute(
        f"""
        INSERT INTO raw.quarantine
        SELECT ?, ?, ?, line, e.column_name, e.value, e.reason, raw, ?
        FROM (SELECT {lines.line_sql} AS line, t._raw AS raw, unnest(t._errors) AS e
              FROM {_TYPED} t {lines.join_sql} WHERE t._errors IS NOT NULL)
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
            FROM {_BAD_LINES} WHERE NOT is_blank ORDER BY line
            """,
            [contract.source, rel, file_id, loaded_at],
        )


def _bad_lines_offset(con: duckdb.DuckDBPyConnection, header_lines: int) -> tuple[str, str]:
    """SQL (expression, join) for the number of bad lines before typed row ``t`` (see :func:`_stage_csv`).

    Bad line ``j`` (1-based, in line order) on logical line ``l_j`` comes after ``l_j - header - j`` good rows,
    so row ``t`` has every bad line with ``rows_before < t._rn`` before it. A few bad lines become a CASE
    expression; many become an ASOF join.
    """
    cumulative = con.execute(
        f"SELECT logical - {header_lines} - j AS rows_before, max(j) FROM {_BAD_LINES} GROUP BY 1 ORDER BY 1"
    ).fetchall()
    if not cumulative:
        return "0", ""
    if len(cumulative) <= 256:
        whens = []
        previous = 0
        for rows_before, j in cumulative:
            whens.append(f"WHEN t._rn <= {int(rows_before)} THEN {previous}")
            previous = int(j)
        return f"(CASE {' '.join(whens)} ELSE {previous} END)", ""
    con.execute(
        f"""
        CREATE TEMP TABLE {_BAD_LINES_CUM} AS
        SELECT logical - {header_lines} - j AS rows_before, max(j) AS j FROM {_BAD_LINES} GROUP BY ALL
        """
    )
    return "coalesce(b.j, 0)", f"ASOF LEFT JOIN {_BAD_LINES_CUM} b ON t._rn > b.rows_before"


# ----------------------------------------------------------------------------------------------- CSV


def _sniff_header(read_path: Path, rel: str, file_name: str) -> tuple[str, list[str], int]:
    """Delimiter, header names and line breaks inside the header of a UTF-8 CSV file."""
    with read_path.open("rb") as f:
        head = f.read(1 << 20)
    text = head.decode("utf-8", errors="replace").removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0].rstrip("\r")
    if not first_line.strip():
        raise FileError(
            f"{rel}: line 1 is empty; the header row (the column names) must be the first line of a CSV file"
        )
    counts = {d: _count_outside_quotes(first_line, d) for d in (",", ";", "\t")}
    if file_name.lower().endswith((".tsv", ".tsv.gz")) and counts["\t"]:
        delimiter = "\t"
    else:
        delimiter = max(counts, key=lambda d: counts[d])  # ties: comma, then semicolon, then tab
    if not counts[delimiter]:
        delimiter = ","
    header = next(csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"', doublequote=True))
    return delimiter, header, sum(h.count("\n") for h in header)


def _count_outside_quotes(line: str, char: str) -> int:
    count, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == char and not quoted:
            count += 1
    return count


def _match_columns(
    contract: Contract, names: list[str], rel: str, *, delimiter: str | None = None
) -> tuple[dict[str, int], list[tuple[str, int]]]:
    """Map contract columns to positions in ``names``; the rest are extras. Fails on missing/duplicate."""
    known = {c.name for c in contract.columns}
    positions: dict[str, int] = {}
    extras: list[tuple[str, int]] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        normalized = name.strip().lower()
        if not normalized:
            extras.append((f"column_{i + 1}", i))
            continue
        if normalized in seen:
            raise FileError(
                f"{rel}: column {name.strip()!r} appears twice in the header (columns {seen[normalized] + 1} "
                f"and {i + 1}; names are compared case-insensitively); remove or rename one of them"
            )
        seen[normalized] = i
        if normalized in known:
            positions[normalized] = i
        else:
            extras.append((name.strip(), i))
    missing = [c for c in contract.required_columns if c not in positions]
    if missing:
        found = ", ".join(repr(n.strip()) for n in names[:30]) or "(none)"
        hint = ""
        if delimiter is not None and len(names) == 1:
            hint = " No comma, semicolon or tab was found in the header line; those are the supported delimiters."
        raise FileError(
            f"{rel}: missing required column(s) {', '.join(missing)}; the file has {found}. "
            f"Column names are matched case-insensitively.{hint} Fix the export's header and deliver the file "
            "again; nothing from this file was loaded."
        )
    return positions, extras


def _stage_csv(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    read_path: Path,
    rel: str,
    stats: _TextStats,
    file_name: str,
    tmp: Path,
) -> _Staged:
    """Read a UTF-8 CSV file into ``_STAGE`` (text columns ``c<i>``); malformed lines go to ``_BAD_LINES``.

    Line numbers: DuckDB numbers rejected lines by *logical* line (the header is line 1, a record with quoted
    line breaks counts once) and returns good rows in file order, so good row ``i`` is on logical line
    ``1 + i + (bad lines before it)``. Two things make logical and physical lines differ, and the line count of
    the text tells whether either happened: line breaks inside quoted values (then the physical line adds the
    line breaks of all earlier records) and blank lines, which DuckDB skips without counting them as rows. Files
    with blank lines are read a second time with each blank line marked, so that it becomes a rejected line with
    a known number (and is then dropped, not counted as a row).
    """
    delimiter, header, header_breaks = _sniff_header(read_path, rel, file_name)
    positions, extras = _match_columns(contract, header, rel, delimiter=delimiter)
    n = len(header)
    columns_sql = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n))
    marker = _lit(_BLANK_MARKER)
    delim_name = {",": "comma", ";": "semicolon", "\t": "tab"}[delimiter]
    reason = f"""CASE error_type
        WHEN 'TOO MANY COLUMNS' THEN 'malformed CSV line: it has more fields than the header''s {n} columns ('
            || error_message || '); check the {delim_name} delimiters and the quoting on this line'
        WHEN 'MISSING COLUMNS' THEN 'malformed CSV line: it has fewer fields than the header''s {n} columns ('
            || error_message || '); check the {delim_name} delimiters and the quoting on this line'
        WHEN 'UNQUOTED VALUE' THEN 'malformed CSV line: a quoted value is not closed properly; every opening '
            || 'double quote needs a closing one, and a quote inside a value must be doubled ("")'
        WHEN 'LINE SIZE OVER MAXIMUM' THEN 'malformed CSV line: the line is longer than the reader''s maximum '
            || 'line size (' || error_message || ')'
        ELSE 'malformed CSV line: ' || error_message END"""

    def stage(path: Path) -> tuple[int, int, int]:
        """Read ``path``; return (good rows, bad lines, line breaks inside bad lines)."""
        for table in (_STAGE, _REJECTS, _REJECT_SCANS, _BAD_LINES):
            con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
        # In file order (preserve_insertion_order): a fresh table's rowid is then the record number, which is
        # much cheaper than row_number() OVER () (that runs in one thread).
        con.execute(
            f"""
            CREATE TEMP TABLE {_STAGE} AS
            SELECT * FROM read_csv({_lit(str(path))}, header = true, delim = {_lit(delimiter)}, quote = '"',
                                   escape = '"', auto_detect = false, columns = {{{columns_sql}}},
                                   strict_mode = true, null_padding = false, store_rejects = true,
                                   rejects_table = '{_REJECTS}', rejects_scan = '{_REJECT_SCANS}',
                                   rejects_limit = 0)
            """
        )
        con.execute(
            f"""
            CREATE TEMP TABLE {_BAD_LINES} AS
            SELECT line AS logical, row_number() OVER (ORDER BY line) AS j, reason, text,
                   trim(text, E' \\t\\r\\n') IN ('', {marker}) AS is_blank,
                   length(trim(text, E'\\r\\n')) - length(replace(trim(text, E'\\r\\n'), E'\\n', '')) AS breaks,
                   NULL::BIGINT AS line
            FROM (
                SELECT line, arg_min({reason}, coalesce(column_idx, 0)) AS reason,
                       arg_min(csv_line, coalesce(column_idx, 0)) AS text
                FROM {_REJECTS} GROUP BY line
            )
            """
        )
        (rows,) = con.execute(f"SELECT count(*) FROM {_STAGE}").fetchone()  # type: ignore[misc]
        bad, bad_breaks = con.execute(
            f"SELECT count(*), coalesce(sum(breaks), 0) FROM {_BAD_LINES}"
        ).fetchone()  # type: ignore[misc]
        return int(rows), int(bad), int(bad_breaks)

    marked = False

    def expr(i: int) -> str:  # a blank-line marker inside a quoted value is removed again
        return f"replace(c{i}, {marker}, '')" if marked else f"c{i}"

    def value_breaks() -> int:
        per_row = " + ".join(
            f"coalesce(length(c{i}) - length(replace(c{i}, E'\\n', '')), 0)" for i in range(n)
        )
        (total,) = con.execute(f"SELECT coalesce(sum({per_row}), 0) FROM {_STAGE}").fetchone()  # type: ignore[misc]
        return int(total)

    rows, bad, bad_breaks = stage(read_path)
    logical_lines = 1 + header_breaks + rows + bad
    breaks = None
    if stats.content_lines != logical_lines:
        breaks = bad_breaks + value_breaks()
        if stats.content_lines != logical_lines + breaks:  # blank lines: mark them and read again
            marked_path = tmp / "blank-lines-marked"
            _mark_blank_lines(read_path, marked_path)
            marked = True
            rows, bad, bad_breaks = stage(marked_path)
            breaks = bad_breaks + value_breaks()
    offset, join = _bad_lines_offset(con, header_lines=1)
    if not breaks:
        con.execute(f"UPDATE {_BAD_LINES} SET line = logical + {header_breaks}")
        lines = _Lines(f"(1 + {header_breaks} + t._rn + {offset})", join, bad_lines=True)
    else:  # physical line = logical line + all line breaks in earlier records
        per_row = " + ".join(
            f"coalesce(length({expr(i)}) - length(replace({expr(i)}, E'\\n', '')), 0)" for i in range(n)
        )
        con.execute(
            f"""
            CREATE TEMP TABLE {_PHYSICAL} AS
            WITH records AS (
                SELECT t._rn, NULL::BIGINT AS bad_logical, 1 + t._rn + {offset} AS logical, t.breaks
                FROM (SELECT rowid + 1 AS _rn, {per_row} AS breaks FROM {_STAGE}) t {join}
                UNION ALL
                SELECT NULL, logical, logical, breaks FROM {_BAD_LINES}
            )
            SELECT _rn, bad_logical,
                   logical + {header_breaks} + coalesce(sum(breaks) OVER (
                       ORDER BY logical ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS line
            FROM records
            """
        )
        con.execute(
            f"UPDATE {_BAD_LINES} SET line = p.line FROM {_PHYSICAL} p WHERE p.bad_logical = {_BAD_LINES}.logical"
        )
        lines = _Lines("p.line", f"JOIN {_PHYSICAL} p ON p._rn = t._rn", bad_lines=True)
    extra_sql = "NULL"
    if extras:
        extra_sql = "json_object(" + ", ".join(f"{_lit(name)}, {expr(i)}" for name, i in extras) + ")"
    raw_pairs = ", ".join(f"{_lit(h.strip() or f'column_{i + 1}')}, {expr(i)}" for i, h in enumerate(header))
    return _Staged(
        from_sql=f"(SELECT rowid + 1 AS _rn, * FROM {_STAGE})",
        columns={name: (expr(i), "VARCHAR") for name, i in positions.items()},
        extra_sql=extra_sql,
        raw_sql=f"json_object({raw_pairs})::VARCHAR",
        extra_columns=[name for name, _ in extras],
        lines=lines,
    )


# ----------------------------------------------------------------------------------------------- JSON


def _json_pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _stage_json(
    con: duckdb.DuckDBPyConnection, contract: Contract, read_path: Path, rel: str
) -> _Staged | None:
    """Read a JSON Lines file (or a ``.json`` file holding one array of objects); None if it has no records.

    JSON Lines is read as text, one row per physical line (blank lines included, so the row number is the line
    number), and parsed with DuckDB's JSON functions; lines that are not a JSON object are quarantined.
    """
    with read_path.open("rb") as f:
        array = f.read(4096).lstrip().startswith(b"[")
    path_sql = _lit(str(read_path))
    if array:  # records are numbered, not lines
        stage = (
            f"SELECT generate_subscripts(arr, 1) AS _rn, unnest(arr)::VARCHAR AS line "
            f"FROM (SELECT json_extract(content, '$[*]') AS arr FROM read_text({path_sql}))"
        )
    else:
        stage = (
            f"SELECT line FROM read_csv({path_sql}, header = false, "
            f"delim = {_lit(_JSON_LINE_DELIM)}, quote = '', escape = '', auto_detect = false, "
            f"columns = {{'line': 'VARCHAR'}}, store_rejects = true, rejects_table = '{_REJECTS}', "
            f"rejects_scan = '{_REJECT_SCANS}', rejects_limit = 0)"
        )
    try:
        con.execute(f"CREATE TEMP TABLE {_STAGE} AS {stage}")  # materialized: see _stage_csv
    except duckdb.InvalidInputException as exc:
        raise FileError(
            f"{rel}: is not valid JSON ({_first_lines(str(exc), 1)}); fix or re-export it"
        ) from None
    records = _STAGE if array else f"(SELECT rowid + 1 AS _rn, line FROM {_STAGE})"  # see _stage_csv
    # CASE, not AND: DuckDB evaluates both sides of AND, and json_type() fails on invalid JSON.
    is_object = "(CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' ELSE false END)"
    not_blank = "trim(coalesce(line, ''), E' \\t\\r\\n') <> ''"
    n_records, n_objects, key_lists = con.execute(
        f"""
        SELECT count(*), count(*) FILTER (WHERE is_object),
               list(DISTINCT CASE WHEN is_object THEN json_keys(line) END)
        FROM (SELECT line, {is_object} AS is_object FROM {records} WHERE {not_blank})
        """
    ).fetchone()  # type: ignore[misc]
    if not n_records:  # e.g. an empty JSON array
        return None
    if not n_objects:
        raise FileError(
            f"{rel}: none of its {n_records:,} records is a JSON object; it does not look like JSON Lines "
            "(one JSON object per line). Check the file's format and extension."
        )
    keys = sorted({k for ks in key_lists or [] if ks for k in ks})
    known = {c.name for c in contract.columns}
    by_column: dict[str, list[str]] = {}
    extras: list[str] = []
    for key in keys:
        normalized = key.strip().lower()
        if normalized in known:
            by_column.setdefault(normalized, []).append(key)
        else:
            extras.append(key)
    _match_columns(contract, list(by_column), rel)  # raises on missing required columns
    ordered = [k for name in by_column for k in by_column[name]]
    index = {k: i + 1 for i, k in enumerate(ordered)}
    paths = "[" + ", ".join(_lit(_json_pointer(k)) for k in ordered) + "]"
    columns = {
        name: ("coalesce(" + ", ".join(f"_vals[{index[k]}]" for k in spellings) + ")", "VARCHAR")
        for name, spellings in by_column.items()
    }
    extra_sql = "NULL"
    if extras:
        extra_paths = "[" + ", ".join(_lit(_json_pointer(k)) for k in extras) + "]"
        pairs = ", ".join(
            f"{_lit(k)}, json_extract(line, {extra_paths})[{i + 1}]" for i, k in enumerate(extras)
        )
        extra_sql = f"CASE WHEN _ok THEN json_object({pairs}) END"

    lines = _Lines()
    if not array:
        con.execute(
            f"""
            CREATE TEMP TABLE {_BAD_LINES} AS
            SELECT line AS logical, row_number() OVER (ORDER BY line) AS j,
                   'malformed line: ' || error_message AS reason, text, false AS is_blank, line
            FROM (SELECT line, first(error_message) AS error_message, first(csv_line) AS text
                  FROM {_REJECTS} GROUP BY line)
            """
        )
        offset, join = _bad_lines_offset(con, header_lines=0)
        lines = _Lines(f"(t._rn + {offset})", join, bad_lines=True)

    return _Staged(
        from_sql=(
            f"(SELECT *, CASE WHEN _ok THEN json_extract_string(line, {paths}) END AS _vals "
            f"FROM (SELECT _rn, line, {is_object} AS _ok FROM {records} WHERE {not_blank}))"
        ),
        columns=columns,
        extra_sql=extra_sql,
        raw_sql="line",
        extra_columns=extras,
        lines=lines,
        ok_sql="_ok",
        not_ok_reason_sql=(
            "CASE WHEN json_valid(line) THEN 'the record is valid JSON but not an object; each line of a JSON "
            "Lines file must be one JSON object' ELSE 'the line is not valid JSON; each line of a JSON Lines "
            "file must be one complete JSON object' END"
        ),
    )


# ----------------------------------------------------------------------------------------------- Parquet


def _stage_parquet(
    con: duckdb.DuckDBPyConnection, contract: Contract, path: Path, rel: str, scan: _Scan
) -> _Staged:
    if not (scan.head.startswith(b"PAR1") and scan.tail.endswith(b"PAR1")):
        if scan.head.startswith(b"\x1f\x8b"):
            why = "it is gzip-compressed (Parquet compresses internally; deliver the .parquet file itself)"
        elif scan.head.startswith(b"PAR1"):
            why = "the Parquet footer is missing, so the file is truncated; re-deliver the complete file"
        elif _looks_like_text(scan.head):
            why = "it looks like text (CSV or JSON?); rename it to the right extension, e.g. .csv or .jsonl"
        else:
            why = "it does not start and end with the Parquet magic bytes 'PAR1'"
        raise FileError(f"{rel}: is not a Parquet file: {why}")
    source_sql = f"read_parquet({_lit(str(path))}, file_row_number = true)"
    described = con.execute(f"DESCRIBE SELECT * FROM {source_sql}").fetchall()
    names = [row[0] for row in described if row[0] != "file_row_number"]
    types = {row[0]: row[1] for row in described}
    positions, extras = _match_columns(contract, names, rel)
    columns = ", ".join(f"{_ident(n)} AS c{i}" for i, n in enumerate(names))
    extra_sql = "NULL"
    if extras:
        extra_sql = "json_object(" + ", ".join(f"{_lit(name)}, c{i}" for name, i in extras) + ")"
    return _Staged(
        from_sql=f"(SELECT file_row_number + 1 AS _rn, {columns} FROM {source_sql})",
        columns={name: (f"c{i}", types[names[i]]) for name, i in positions.items()},
        extra_sql=extra_sql,
        raw_sql="json_object(" + ", ".join(f"{_lit(n)}, c{i}" for i, n in enumerate(names)) + ")::VARCHAR",
        extra_columns=[name for name, _ in extras],
        lines=_Lines(),
    )


def _looks_like_text(head: bytes) -> bool:
    try:
        head[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in head[:4096]


# ----------------------------------------------------------------------------------------------- typing and rules


def _type_rows(con: duckdb.DuckDBPyConnection, contract: Contract, staged: _Staged) -> None:
    """Create ``_TYPED``: typed contract columns, ``_rn``, ``_extra``, ``_errors`` (NULL = good) and ``_raw``.

    One statement of nested projections, each level computing from the previous one: the trimmed and
    case-normalized text ``v<i>`` (and the native value ``n<i>`` of typed Parquet columns), the parsed value
    ``p<i>``, the final typed value ``t<i>``, the number ``f<i>`` of the first broken rule of each column (0 =
    fine), the cross-column rules ``g<k>`` (only checked when both columns passed their own rules). Reasons are
    only built for the rows that broke a rule, so good rows cost a few integer comparisons.
    """
    texts, parsed, typed, flags, cross = [], [], [], [], []
    errors: list[str] = []  # SQL for each possible error struct (NULL when that check passed)
    flagged: list[str] = []  # SQL conditions "this check failed"
    with_rules: set[int] = set()
    shown: dict[int, str] = {}  # SQL of each column's value as text, for reasons (only built for broken rows)
    for i, col in enumerate(contract.columns):
        expr, duck_type = staged.columns.get(col.name, ("NULL", "VARCHAR"))
        native = _native_ok(col.type, duck_type)
        if native:
            # A typed (Parquet) value is used as is: its presence is "n IS NOT NULL" and it is rendered as text
            # only inside the reason of a broken rule, instead of casting every value to text.
            texts.append(f"{expr} AS n{i}")
            shown[i] = f"CAST(n{i} AS VARCHAR)"
        else:
            raw = f"CAST({expr} AS VARCHAR)"
            # trim() is slow; most values have nothing to trim, and the LIKE tests are cheap.
            text = f"NULLIF(CASE WHEN {raw} LIKE ' %' OR {raw} LIKE '% ' THEN trim({raw}) ELSE {raw} END, '')"
            if col.case:
                text = f"{col.case}({text})"
            texts.append(f"{text} AS v{i}")
            shown[i] = f"v{i}"
        parsed.append(f"{_parse_sql(col, f'v{i}', f'n{i}' if native else None)} AS p{i}")
        typed.append(f"{_final_sql(col, f'p{i}')} AS t{i}")
        cases = _rule_cases(contract, col, i, present=f"n{i}" if native else f"v{i}", shown=shown[i])
        if not cases:
            continue
        whens = " ".join(f"WHEN {cond} THEN {k + 1}" for k, (cond, _) in enumerate(cases))
        flags.append(f"CASE {whens} ELSE 0 END AS f{i}")
        value = f"CAST({expr} AS VARCHAR)"
        structs = " ".join(
            f"WHEN {k + 1} THEN {_error_sql(_lit(col.name), value, reason)}"
            for k, (_, reason) in enumerate(cases)
        )
        errors.append(f"CASE f{i} {structs} END")
        flagged.append(f"f{i} > 0")
        with_rules.add(i)
    for k, rule in enumerate(contract.cross_rules):
        a = next(i for i, c in enumerate(contract.columns) if c.name == rule.column)
        b = next(i for i, c in enumerate(contract.columns) if c.name == rule.other)
        passed = " AND ".join([f"f{x} = 0" for x in (a, b) if x in with_rules] + [f"t{a} > t{b}"])
        cross.append(f"coalesce({passed}, false) AS g{k}")
        reason = _text_sql(
            rule.column + " '{a}' is greater than " + rule.other + " '{b}'; " + rule.explanation,
            a=f"left({shown[a]}, {_MAX_VALUE_IN_REASON})",
            b=f"left({shown[b]}, {_MAX_VALUE_IN_REASON})",
        )
        value = (
            f"CAST({staged.columns[rule.column][0]} AS VARCHAR)" if rule.column in staged.columns else "NULL"
        )
        errors.append(f"CASE WHEN g{k} THEN {_error_sql(_lit(rule.column), value, reason)} END")
        flagged.append(f"g{k}")
    not_ok = f"[{_error_sql('NULL::VARCHAR', 'NULL::VARCHAR', staged.not_ok_reason_sql)}]"
    typed_columns = ", ".join(f"t{i} AS {c.name}" for i, c in enumerate(contract.columns))
    query = f"SELECT *, {', '.join(texts)}, {staged.extra_sql} AS _extra FROM {staged.from_sql} s"
    for level in (parsed, typed, flags, cross):
        if level:
            query = f"SELECT *, {', '.join(level)} FROM ({query})"
    any_error = " OR ".join(flagged) or "false"
    con.execute(
        f"""
        CREATE TEMP TABLE {_TYPED} AS
        SELECT {typed_columns}, _rn, _extra, _errors,
               CASE WHEN _errors IS NOT NULL THEN {staged.raw_sql} END AS _raw
        FROM (
            SELECT *, CASE WHEN NOT {staged.ok_sql} THEN {not_ok}
                           WHEN {any_error} THEN [{", ".join(errors)}] END AS _errors
            FROM ({query})
        )
        """
    )


_NUMERIC_TYPES = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
    "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL",
)  # fmt: skip


def _native_ok(column_type: str, duck_type: str) -> bool:
    """Can a typed (Parquet) value of ``duck_type`` be converted directly, without going through text?"""
    upper = duck_type.upper()
    if column_type in ("timestamp", "date"):
        return upper == "DATE" or upper.startswith("TIMESTAMP")
    if column_type in ("decimal", "integer"):
        return upper.startswith(_NUMERIC_TYPES)
    if column_type == "boolean":
        return upper == "BOOLEAN"
    return False


def _parse_sql(col: Column, v: str, native: str | None) -> str:
    """SQL parsing the trimmed text ``v`` (or the native value) to the column's type; NULL if it cannot."""
    if col.type == "text":
        return v
    if col.type == "timestamp":
        return f"TRY_CAST({native or v} AS TIMESTAMPTZ)"
    if col.type == "decimal":
        return f"TRY_CAST({native or v} AS DECIMAL(18,2))"
    if col.type == "integer":
        return f"TRY_CAST({native or v} AS DOUBLE)"
    if col.type == "boolean":
        if native:
            return native
        true_values = ", ".join(_lit(x) for x in TRUE_VALUES)
        false_values = ", ".join(_lit(x) for x in FALSE_VALUES)
        return f"CASE WHEN lower({v}) IN ({true_values}) THEN true WHEN lower({v}) IN ({false_values}) THEN false END"
    if col.type == "date":
        if native:
            return f"CAST({native} AS DATE)"
        return f"coalesce(TRY_CAST({v} AS DATE), CAST(TRY_CAST({v} AS TIMESTAMP) AS DATE))"
    raise ValueError(f"unknown column type {col.type!r}")


def _final_sql(col: Column, p: str) -> str:
    """SQL for the stored value from the parsed value ``p`` (NULL when it is not acceptable)."""
    if col.type == "timestamp":
        # = timezone('UTC', p) under TimeZone UTC, without the (slow) time zone conversion
        return f"CASE WHEN isfinite({p}) THEN make_timestamp(epoch_us({p})) END"
    if col.type == "integer":
        return f"CASE WHEN isfinite({p}) AND {p} = floor({p}) AND abs({p}) < 2147483647 THEN CAST({p} AS INTEGER) END"
    return p


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _rule_cases(
    contract: Contract, col: Column, i: int, *, present: str, shown: str
) -> list[tuple[str, str]]:
    """The rules of column ``i``, in order, as (SQL condition "broken", SQL reason).

    ``present`` is the SQL of the delivered value (NULL when empty), ``shown`` the SQL of its text for reasons.
    """
    v, t = present, f"t{i}"
    shown = {"value": f"left({shown}, {_MAX_VALUE_IN_REASON})"}
    name = col.name
    cases: list[tuple[str, str]] = []
    if col.not_empty:
        if col.key:
            why = f"every {contract.source} row needs its key {name}; fill it in the export"
        else:
            why = f"it is required ({col.hint})" if col.hint else "it is required"
        cases.append((f"{v} IS NULL", _text_sql(f"{name} is empty; {why}")))
    parse_reason = {
        "timestamp": "is not a valid timestamp; use ISO 8601 such as 2025-03-31T14:05:00+02:00, "
        "2025-03-31 14:05:00 or 2025-03-31",
        "decimal": "is not a number; use digits with a dot as decimal separator and no thousands separator, "
        "e.g. 1234.50",
        "integer": "is not a whole number",
        "boolean": "is not a boolean; use true/false, yes/no, 1/0 or t/f",
        "date": "is not a valid date; use YYYY-MM-DD",
    }.get(col.type)
    bounds = ""
    if col.minimum is not None and col.maximum is not None:
        bounds = f"{_number(col.minimum)} to {_number(col.maximum)}"
    if parse_reason:
        if col.type == "integer" and bounds:
            parse_reason += (
                f"; {name} must be a whole number from {_number(col.minimum)} to {_number(col.maximum)}"
            )
        cases.append(
            (f"{v} IS NOT NULL AND {t} IS NULL", _text_sql(name + " '{value}' " + parse_reason, **shown))
        )
    if col.allowed:
        allowed = ", ".join(_lit(a) for a in col.allowed)
        reason = name + " '{value}' is not one of " + ", ".join(col.allowed) + " (case-insensitive)"
        cases.append((f"{t} NOT IN ({allowed})", _text_sql(reason, **shown)))
    if col.pattern:
        reason = name + " '{value}' is not " + (col.pattern_hint or f"matching {col.pattern}")
        cases.append((f"NOT regexp_full_match({t}, {_lit(col.pattern)})", _text_sql(reason, **shown)))
    if col.minimum is not None:
        if bounds:
            reason = name + " '{value}' is outside the allowed range " + bounds
        elif col.type == "decimal" and col.minimum == 0:
            reason = name + " '{value}' is negative; amounts must be >= 0"
        else:
            reason = name + " '{value}' is below the minimum " + _number(col.minimum)
        cases.append((f"{t} < {col.minimum}", _text_sql(reason, **shown)))
    if col.maximum is not None:
        limit = (
            f"outside the allowed range {bounds}" if bounds else f"above the maximum {_number(col.maximum)}"
        )
        cases.append((f"{t} > {col.maximum}", _text_sql(name + " '{value}' is " + limit, **shown)))
    return cases


def _error_sql(column: str, value: str, reason: str) -> str:
    """SQL struct for one broken rule (all arguments are SQL expressions)."""
    return f"struct_pack(column_name := {column}, value := {value}, reason := {reason})"


def _text_sql(template: str, **exprs: str) -> str:
    """SQL concatenating the literal parts of ``template`` with the SQL expressions of its ``{name}`` fields."""
    parts = re.split(r"\{(\w+)\}", template)
    pieces = [f"coalesce({exprs[p]}, '')" if k % 2 else _lit(p) for k, p in enumerate(parts) if p or k % 2]
    return "(" + " || ".join(pieces) + ")"


# ----------------------------------------------------------------------------------------------- SQL helpers


def _lit(s: str) -> str:
    """SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


def _ident(s: str) -> str:
    """SQL quoted identifier."""
    return '"' + s.replace('"', '""') + '"'


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
