"""Load landing-zone files into the ``raw`` schema of the build database.

One call of :func:`ingest_source` accounts for every entry of one source folder, in sorted name order
(``ingestion.discover``): files are loaded, skipped, waiting or failed; everything else is ignored with a reason.
For each file to load:

1. The file is hashed (sha256) in the pass that reads it anyway: for plain text that pass also validates UTF-8
   and collects line statistics; a gzip file is hashed while it is decompressed (``ingestion.decode``). If a file
   with the same content was already *loaded* for this source (under any name) it is ``skipped``. A file that is
   unchanged since an earlier run read it (same name, size, modification and change time, inode) is skipped
   without being read again.
2. Text that DuckDB cannot read as delivered (gzip, not UTF-8, old-Mac line breaks, a line longer than
   ``decode.MAX_LINE_BYTES``) is streamed into a temporary UTF-8 file. Undecodable bytes, a truncated gzip stream
   or content that does not match the extension fail the file with an error naming it and saying what to do.
3. DuckDB reads text into a temporary staging table, every value as text (``ingestion.formats``: CSV with our own
   header sniffing and ``store_rejects`` for malformed lines; JSON Lines one line per row, parsed with DuckDB's
   JSON functions); Parquet is read directly, native types kept.
4. In one transaction: one query types every column, checks every rule (``ingestion.rules``) and appends the good
   rows to ``raw.<source>`` (the typed rows are written once, into the raw table); only if some row broke a rule
   does a second query evaluate the rules again to write those rows to ``raw.quarantine``; malformed lines go
   there too, and a row to ``raw.ingestion_log`` (``rows_read = rows_loaded + rows_quarantined``). If the file
   changed while it was read (size, modification or change time, inode differ from the listing), the
   transaction is rolled back and the file reported as ``waiting``: it is loaded whole on a later run.

Decisions:

- Raw tables are append-only logs of row versions; de-duplication by key happens in dbt staging.
- A bad row gets one quarantine row per broken rule (each names its column, value and reason; a column gets at
  most one, its first broken rule), so a user can fix everything at once; ``rows_quarantined`` counts rows.
  Malformed lines (wrong field count, unclosed quote, invalid JSON, an over-long line) get one quarantine row
  with ``column_name`` NULL and the line's text as ``raw_record``; other bad rows have the row as a JSON object.
- No message repeats a value of the file: quarantine reasons and file errors name columns, positions, line
  numbers and the rule; the value itself is only in ``raw.quarantine.value`` and ``raw_record``.
- ``_source_line`` / ``quarantine.line`` is the 1-based *physical* line number where the record starts in the
  (decompressed) file, the header being line 1, for CSV and JSON Lines, whatever the line breaks (LF, CRLF or
  CR); for Parquet and for ``.json`` files holding one JSON array it is the 1-based record number. Blank lines
  are not rows: neither loaded nor counted, but they keep their line number. If DuckDB's rows and rejected lines
  do not cover every line of a file, the file fails instead of loading a part of it.
- A 0-byte (or whitespace-only) file is ``loaded`` with 0 rows: it has no row that could break the contract, and
  recording it keeps later runs quiet. A header-only CSV is checked against the contract and loaded with 0 rows.
- Failed files are logged (status ``failed``, the error) and retried on every run until they load. A file fails
  alone: whatever goes wrong with it, the other files of the source are still loaded. For skipped files
  ``error`` names the earlier file with the same content.
- Ignored entries are logged (status ``ignored``, the reason) when first seen and again only when their reason
  changes, so an unchanged landing folder adds no log rows for them; they are re-evaluated every run and always
  listed in the result. Waiting files are not logged (the result and the progress lines list them).
- Encodings are chosen per file: a byte order mark wins, then valid UTF-8, then the source's ``encoding``.
- ``_extra`` holds the columns that are not in the contract as one JSON object per row (NULL when the file has
  none); column names are matched to the contract case-insensitively after trimming.
- Timestamps: ISO 8601 with an offset are converted to UTC; values without an offset are taken as UTC; stored
  as naive ``TIMESTAMP`` (UTC). Amounts are rounded to 2 decimals.
- State: everything the loader knows about earlier runs is read from the connection (``ingestion.schema``), so
  any DuckDB connection holding the raw schema works, e.g. an in-memory database seeded with the ingestion log.
- Performance: everything row-wise is SQL. Rows are numbered by the staging table's ``rowid`` (the table is
  written in file order), and typing and inserting run with ``preserve_insertion_order`` off; that DuckDB
  setting is global to the database instance and restored when :func:`ingest_source` returns. Re-reading an
  unchanged landing zone on every run would cost more than the rest of a daily run, hence the skip by file
  signature (``raw.ingestion_log.file_stat``); the change time in it cannot be set back by any program, so a
  file rewritten in place is read again even when its size and modification time were kept.
"""

from __future__ import annotations

import codecs
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import duckdb

from ingestion.contracts import CONTRACTS, METADATA_COLUMNS, SOURCES, Contract
from ingestion.decode import Scan, Text, encoding_setting, prepare_text, rewrite_text, scan_file
from ingestion.discover import Entry, discover
from ingestion.errors import FileError
from ingestion.formats import BAD_LINES, SUPPORTED_SUFFIXES, Staged, drop_temp
from ingestion.formats.csv import stage_csv
from ingestion.formats.jsonl import stage_json
from ingestion.formats.parquet import stage_parquet
from ingestion.rules import typing
from ingestion.schema import (
    ensure_schema,
    known_content,
    last_entry,
    loaded_earlier,
    log_file,
    next_file_id,
    now,
)
from ingestion.sql import lit

Status = Literal["loaded", "skipped", "failed", "waiting", "ignored"]


@dataclass
class FileResult:
    """Outcome of one entry of a landing folder."""

    path: str  # relative to the landing root, e.g. "orders/orders_2025.parquet"
    content_hash: str  # sha256 of the file's bytes as delivered ("" when the file was not read)
    status: Status
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None  # failed: the error; skipped, waiting, ignored: why
    extra_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0
    file_id: int | None = None  # id in raw.ingestion_log (waiting files are not logged)


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
        return self._with_status("failed")

    @property
    def new_files(self) -> list[FileResult]:
        """Files loaded in this run."""
        return self._with_status("loaded")

    @property
    def waiting_files(self) -> list[FileResult]:
        """Files not read yet (still being delivered, or changed while read); loaded on a later run."""
        return self._with_status("waiting")

    @property
    def ignored_files(self) -> list[FileResult]:
        """Entries that are never read (sub-folders, special files, refused links, unsupported names)."""
        return self._with_status("ignored")

    def _with_status(self, status: Status) -> list[FileResult]:
        return [f for f in self.files if f.status == status]


def ingest_source(
    con: duckdb.DuckDBPyConnection,
    source: str,
    landing_root: Path,
    *,
    encoding: str | None = None,
    progress: Callable[[str], None] | None = None,
    settle_seconds: float = 0.0,
) -> SourceLoadResult:
    """Load the new files of ``landing_root/<source>/`` into ``raw.<source>``.

    Args:
        con: a connection holding (or allowed to create) the raw schema, in auto-commit mode (each file is loaded
            in its own transaction); all state is read from it.
        source: one of ``SOURCES``.
        landing_root: the landing zone (``$C360_HOME/landing``).
        encoding: Python codec name of the source's text files that are not UTF-8 (e.g. ``gb18030``,
            ``latin-1``); ``None`` means UTF-8. A byte order mark or valid UTF-8 wins over it, per file.
        progress: called once per entry with a one-line summary (never a value of the file).
        settle_seconds: a file modified less than this many seconds ago is not read yet (``waiting``).

    Returns:
        One :class:`FileResult` per folder entry, in name order. Failed files do not raise: check
        ``result.failed_files``.

    Raises:
        ValueError: unknown source, unknown encoding or a negative ``settle_seconds``.
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
    if not settle_seconds >= 0:
        raise ValueError(f"settle_seconds must be a number >= 0 (got {settle_seconds!r})")
    contract = CONTRACTS[source]
    ensure_schema(con)
    result = SourceLoadResult(source=source)
    entries = discover(Path(landing_root), source, settle_seconds=settle_seconds)
    if entries is None:
        if progress:
            progress(f"{source}: no landing folder {Path(landing_root) / source}; nothing to load")
        return result
    with _session(con):
        for entry in entries:
            if entry.status == "waiting":
                file_result = FileResult(
                    path=entry.rel, content_hash="", status="waiting", error=entry.reason
                )
            elif entry.status == "ignored":
                file_result = _ignore(con, source, entry)
            else:
                file_result = _ingest_file(con, contract, entry, encoding)
            result.files.append(file_result)
            if progress:
                progress(_describe(file_result))
    return result


def _describe(r: FileResult) -> str:
    if r.status == "failed":
        return f"{r.path}: FAILED ({r.seconds:.1f} s): {r.error}"
    if r.status == "skipped":
        return f"{r.path}: skipped, identical content was already loaded ({r.error or 'same sha256'})"
    if r.status in ("waiting", "ignored"):
        return f"{r.path}: {r.status}: {r.error}"
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


def _ignore(con: duckdb.DuckDBPyConnection, source: str, entry: Entry) -> FileResult:
    """An ignored entry, logged unless the log's newest row for it already says the same."""
    assert entry.reason is not None
    previous = last_entry(con, source, entry.rel)
    if previous is not None and previous[1:] == ("ignored", entry.reason):
        return FileResult(
            path=entry.rel, content_hash="", status="ignored", error=entry.reason, file_id=previous[0]
        )
    return _log_only(
        con, next_file_id(con), entry.rel, source, "ignored", entry.reason, now(), time.perf_counter(),
        content_hash=None, size=None, file_stat=None,
    )  # fmt: skip


# ----------------------------------------------------------------------------------------------- per file


@dataclass
class _Outcome:
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    extra_columns: list[str]


class _Changed(Exception):
    """The file changed while it was being read."""


_CHANGED = (
    "changed while being read (its size, modification time or inode differ from when the folder was listed); "
    "nothing of it was loaded, it is loaded whole on a later run"
)


def _ingest_file(
    con: duckdb.DuckDBPyConnection, contract: Contract, entry: Entry, encoding: str | None
) -> FileResult:
    started = now()
    t0 = time.perf_counter()
    file_id = next_file_id(con)
    source, rel = contract.source, entry.rel
    assert entry.path is not None and entry.fmt is not None and entry.signature is not None
    kind, compressed = entry.fmt
    file_stat = entry.signature.text()
    scan: Scan | None = None

    def log(
        status: Literal["skipped", "failed"], message: str, content_hash: str | None = None
    ) -> FileResult:
        return _log_only(
            con, file_id, rel, source, status, message, started, t0,
            content_hash=content_hash or (scan.sha256 if scan else None),
            size=scan.size if scan else entry.signature.size if content_hash else None,
            file_stat=file_stat if status == "skipped" else None,
        )  # fmt: skip

    try:
        known = known_content(con, source, rel, file_stat)
        if known is not None and (previous := loaded_earlier(con, source, known)) is not None:
            # this very version of the file was read before (same name, size, times, inode): not read again
            return log("skipped", f"same content as {previous[0]}, file_id {previous[1]}; unchanged", known)
        with tempfile.TemporaryDirectory(prefix="c360-ingest-") as tmp:
            text: Text | None = None
            try:
                if compressed:  # hashed while it is decompressed: one read
                    text = rewrite_text(
                        entry.path, Path(tmp) / "decoded", rel=rel, source=source, fmt=kind, compressed=True,
                        configured=encoding,
                    )  # fmt: skip
                    scan = text.delivered
                else:
                    scan = scan_file(entry.path, text=kind != "parquet")
            except OSError as exc:
                raise FileError(
                    f"{rel}: could not be read ({exc.strerror}); check the file's permissions"
                ) from None
            assert scan is not None
            if scan.size != entry.signature.size or not entry.unchanged():
                raise _Changed
            previous = loaded_earlier(con, source, scan.sha256)
            if previous is not None:
                return log("skipped", f"same content as {previous[0]}, file_id {previous[1]}")
            outcome = _load(con, contract, entry, scan, text, encoding, file_id, started, Path(tmp))
    except _Changed:
        return _waiting(rel, t0)
    except FileError as exc:
        if not entry.unchanged():  # e.g. "truncated gzip" because the delivery was still running
            return _waiting(rel, t0)
        if scan is None and compressed:  # failed while decompressing: hash it for the log
            try:
                scan = scan_file(entry.path, text=False)
            except OSError:
                pass
        return log("failed", str(exc))
    except Exception as exc:  # whatever it is, it stays with this file: the others still load
        message = (
            f"{rel}: could not be loaded: an unexpected {type(exc).__name__} while reading it; nothing of the file "
            "was loaded. (Its details are not shown: they may quote the file's content.) Check that the file is "
            "a complete export in the format its name says; if it is, this is a bug in c360: please report it."
        )
        return log("failed", message)
    finally:
        drop_temp(con)
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


def _waiting(rel: str, t0: float) -> FileResult:
    return FileResult(
        path=rel, content_hash="", status="waiting", error=_CHANGED, seconds=time.perf_counter() - t0
    )


def _log_only(
    con: duckdb.DuckDBPyConnection,
    file_id: int,
    rel: str,
    source: str,
    status: Literal["skipped", "failed", "ignored"],
    message: str,
    started: datetime,
    t0: float,
    *,
    content_hash: str | None,
    size: int | None,
    file_stat: str | None,
) -> FileResult:
    """Record a skipped, failed or ignored entry (nothing of it is loaded)."""
    log_file(
        con,
        file_id=file_id,
        source=source,
        file=rel,
        content_hash=content_hash,
        size=size,
        status=status,
        error=message,
        started=started,
        file_stat=file_stat,
    )
    return FileResult(
        path=rel,
        content_hash=content_hash or "",
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
    entry: Entry,
    scan: Scan,
    text: Text | None,
    encoding: str | None,
    file_id: int,
    started: datetime,
    tmp: Path,
) -> _Outcome:
    """Stage, type and append one file in one transaction (``text``: the file already rewritten for DuckDB)."""
    assert entry.path is not None and entry.fmt is not None and entry.signature is not None
    path, rel = entry.path, entry.rel
    kind, compressed = entry.fmt
    source = contract.source
    con.execute("SET preserve_insertion_order = true")  # row order = file order, for line numbers
    staged: Staged | None = None
    if scan.size == 0:
        pass
    elif kind == "parquet":
        staged = stage_parquet(con, contract, path, rel, scan)
    else:
        if text is None:
            text = prepare_text(
                path, scan, rel=rel, source=source, fmt=kind, compressed=compressed, configured=encoding,
                dest=tmp / "decoded",
            )  # fmt: skip
        if text.stats.only_whitespace:
            pass
        elif kind == "csv":
            staged = stage_csv(con, contract, text, rel, entry.name, tmp)
        else:
            staged = stage_json(con, contract, text, rel)
    # From here on row order does not matter (every row carries its number): let DuckDB write in parallel.
    con.execute("SET preserve_insertion_order = false")
    # Raw rows, quarantine rows and the log row commit together or not at all.
    con.execute("BEGIN TRANSACTION")
    try:
        rows_loaded = rows_quarantined = 0
        if staged is not None:
            rows_loaded, rows_quarantined = _insert_rows(con, contract, staged, rel, file_id, now())
        extra_columns = staged.extra_columns if staged is not None else []
        log_file(
            con,
            file_id=file_id,
            source=source,
            file=rel,
            content_hash=scan.sha256,
            size=scan.size,
            status="loaded",
            counts=(rows_loaded + rows_quarantined, rows_loaded, rows_quarantined),
            extra_columns=extra_columns,
            started=started,
            file_stat=entry.signature.text(),
        )
        if not entry.unchanged():  # what was read may not be the file that is there now
            raise _Changed
        con.execute("COMMIT")
    except BaseException:
        _rollback(con)
        raise
    return _Outcome(rows_loaded + rows_quarantined, rows_loaded, rows_quarantined, extra_columns)


def _insert_rows(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    staged: Staged,
    rel: str,
    file_id: int,
    loaded_at: datetime,
) -> tuple[int, int]:
    """Type and check the staged rows straight into the raw table and the quarantine; (loaded, quarantined)."""
    names = [c.name for c in contract.columns]
    meta = [name for name, _ in METADATA_COLUMNS]
    lines = staged.lines
    query = typing(contract, staged)
    records = staged.records
    if records is None:
        (records,) = con.execute(f"SELECT count(*) FROM {staged.from_sql}").fetchone()  # type: ignore[misc]
    (loaded,) = con.execute(
        f"INSERT INTO {contract.table} ({', '.join(names + meta)}) "
        f"SELECT {', '.join(f't.{n}' for n in names)}, ?, ?, {lines.line_sql}, ?, t._extra "
        f"FROM ({query.good_sql}) t {lines.join_sql}",
        [file_id, rel, loaded_at],
    ).fetchone()  # type: ignore[misc]
    if loaded < records:  # some rows broke a rule: evaluate the rules again, keeping only those rows
        con.execute(
            f"""
            INSERT INTO raw.quarantine
            SELECT ?, ?, ?, line, e.column_name, e.value, e.reason, raw, ?
            FROM (SELECT {lines.line_sql} AS line, t._raw AS raw, unnest(t._errors) AS e
                  FROM ({query.bad_sql}) t {lines.join_sql})
            WHERE e IS NOT NULL
            ORDER BY line
            """,
            [contract.source, rel, file_id, loaded_at],
        )
    bad_lines = 0
    if lines.bad_lines:
        (bad_lines,) = con.execute(
            f"""
            INSERT INTO raw.quarantine
            SELECT ?, ?, ?, line, NULL, NULL, reason, trim(text, E'\\r\\n'), ?
            FROM {BAD_LINES} WHERE NOT is_blank ORDER BY line
            """,
            [contract.source, rel, file_id, loaded_at],
        ).fetchone()  # type: ignore[misc]
    return int(loaded), int(records) - int(loaded) + int(bad_lines)


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
