"""Staging a landing file for the typing query: one module per format, and what they share.

A format module reads one file with DuckDB and describes it as a :class:`Staged`: the FROM clause giving one row
per record with its record number ``_rn``, the SQL of each contract column, the ``_extra`` JSON and how record
numbers become line numbers (:class:`Lines`). Malformed lines go to the temporary table ``BAD_LINES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingestion.contracts import Contract
from ingestion.decode import BLANK_MARKER, CR_MARKER, LONG_LINE_MARKER, MAX_LINE_BYTES, line_too_long_reason
from ingestion.errors import FileError
from ingestion.sql import lit

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

# Temporary objects, per connection; dropped after each file.
STAGE = "c360_ingest_stage"
REJECTS = "c360_ingest_rejects"
REJECT_SCANS = "c360_ingest_reject_scans"
BAD_LINES = "c360_ingest_bad_lines"
BAD_LINES_CUM = "c360_ingest_bad_lines_cum"
PHYSICAL = "c360_ingest_physical_lines"
TEMP_TABLES = (STAGE, REJECTS, REJECT_SCANS, BAD_LINES, BAD_LINES_CUM, PHYSICAL)


def format_of(name: str) -> tuple[str, bool] | None:
    """(format, gzip-compressed) of a file name, or None when we do not read that kind of file."""
    lower = name.lower()
    for suffix, fmt in SUPPORTED_SUFFIXES:
        if lower.endswith(suffix):
            return fmt
    return None


def drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the temporary tables of the last file."""
    for name in TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS temp.main.{name}")


@dataclass
class Lines:
    """How to number the typed rows of a file, known once DuckDB has read it (and reported rejected lines)."""

    line_sql: str = "t._rn"  # SQL for the line/record number of typed row ``t``
    join_sql: str = ""  # joins that ``line_sql`` needs
    bad_lines: bool = False  # ``BAD_LINES`` holds lines (with ``line`` set) to quarantine


@dataclass(frozen=True)
class Field:
    """How a file delivers one contract column."""

    expr: str  # SQL of the delivered value
    duck_type: str = "VARCHAR"  # its DuckDB type
    # SQL naming the structure of a value that is not a single value ('a JSON object', 'a list'...), else NULL
    nested: str | None = None


@dataclass
class Staged:
    """A file as DuckDB reads it, described for the typing query."""

    from_sql: str  # FROM clause; rows have `_rn` (record number in file order) and the `columns` expressions
    columns: dict[str, Field]  # contract column -> how the file delivers it
    extra_sql: str  # SQL for _extra (JSON) or NULL
    raw_sql: str  # SQL for the raw record of a bad row
    extra_columns: list[str]
    lines: Lines  # how to number the rows
    records: int | None = None  # rows of ``from_sql``, when the format knows it already
    ok_sql: str = "TRUE"  # the record could be read at all (JSON: an object; CSV: no over-long line)
    not_ok_reason_sql: str = "NULL"  # SQL of the reason when it could not


def read_lines(
    con: duckdb.DuckDBPyConnection, path: Path, options: str, reason_sql: str, *, cr: bool, blank: bool
) -> tuple[int, int, int]:
    """Read ``path`` with DuckDB's CSV reader into ``STAGE`` and its rejected lines into ``BAD_LINES``.

    ``options`` are the format's ``read_csv`` options, ``reason_sql`` the SQL of a rejected line's reason (see
    :func:`reject_reason_sql`), ``cr`` and ``blank`` say which markers the text holds. Rejected lines are kept,
    never an error, and a line may be ``MAX_LINE_BYTES`` long. Returns (rows, rejected lines, line breaks inside
    rejected lines).
    """
    for table in (STAGE, REJECTS, REJECT_SCANS, BAD_LINES):
        con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
    # In file order (preserve_insertion_order): a fresh table's rowid is then the record number, which is much
    # cheaper than row_number() OVER () (that runs in one thread).
    con.execute(
        f"""
        CREATE TEMP TABLE {STAGE} AS
        SELECT * FROM read_csv({lit(str(path))}, {options}, store_rejects = true, rejects_table = '{REJECTS}',
                               rejects_scan = '{REJECT_SCANS}', rejects_limit = 0, max_line_size = {MAX_LINE_BYTES})
        """
    )
    _collect_bad_lines(con, reason_sql, cr=cr, blank=blank)
    (rows,) = con.execute(f"SELECT count(*) FROM {STAGE}").fetchone()  # type: ignore[misc]
    bad, bad_breaks = con.execute(f"SELECT count(*), coalesce(sum(breaks), 0) FROM {BAD_LINES}").fetchone()  # type: ignore[misc]
    return int(rows), int(bad), int(bad_breaks)


def restore_markers(sql: str, *, cr: bool, blank: bool) -> str:
    """SQL of the text ``sql`` with the markers the rewrite put in turned back into what they stand for."""
    if cr:
        sql = f"replace({sql}, {lit(CR_MARKER)}, chr(13))"
    if blank:
        sql = f"replace({sql}, {lit(BLANK_MARKER)}, '')"
    return sql


def long_line_sql(text: str) -> tuple[str, str]:
    """SQL (is an over-long line, its start) of a line read as ``text`` (see ``decode.LONG_LINE_MARKER``)."""
    marker = lit(LONG_LINE_MARKER)
    start = f"decode(from_base64(substr(trim({text}, E'\\r\\n'), {len(LONG_LINE_MARKER) + 1})))"
    return f"starts_with({text}, {marker})", start


def _collect_bad_lines(con: duckdb.DuckDBPyConnection, reason_sql: str, *, cr: bool, blank: bool) -> None:
    """Create ``BAD_LINES`` from DuckDB's rejects: one row per rejected line with its reason and text.

    Columns: ``logical`` (DuckDB's line number), ``j`` (rank), ``reason``, ``text`` (markers restored),
    ``is_blank`` (a blank line, not a row), ``breaks`` (line breaks inside the rejected record) and ``line`` (the
    physical line number, set by the format).
    """
    is_long, start = long_line_sql("text")
    text = restore_markers("text", cr=cr, blank=blank)
    con.execute(
        f"""
        CREATE TEMP TABLE {BAD_LINES} AS
        SELECT line AS logical, row_number() OVER (ORDER BY line) AS j,
               CASE WHEN {is_long} THEN {lit(line_too_long_reason())} ELSE reason END AS reason,
               CASE WHEN {is_long} THEN {start} ELSE {text} END AS text,
               trim(text, E' \\t\\r\\n') IN ('', {lit(BLANK_MARKER)}) AS is_blank,
               length(trim(text, E'\\r\\n')) - length(replace(trim(text, E'\\r\\n'), E'\\n', '')) AS breaks,
               NULL::BIGINT AS line
        FROM (
            SELECT line, arg_min({reason_sql}, coalesce(column_idx, 0)) AS reason,
                   arg_min(csv_line, coalesce(column_idx, 0)) AS text
            FROM {REJECTS} GROUP BY line
        )
        """
    )


def reject_reason_sql(what: str, hint: str) -> str:
    """SQL of the reason of a line DuckDB's reader rejected, from its ``error_type`` (never the line's values).

    ``what`` names the kind of line ("CSV line"), ``hint`` says what to check for a wrong number of fields.
    """
    what, hint = what.replace("'", "''"), hint.replace("'", "''")
    return f"""CASE error_type
        WHEN 'TOO MANY COLUMNS' THEN 'malformed {what}: it has more fields than expected (' || error_message
            || '); {hint}'
        WHEN 'MISSING COLUMNS' THEN 'malformed {what}: it has fewer fields than expected (' || error_message
            || '); {hint}'
        WHEN 'UNQUOTED VALUE' THEN 'malformed {what}: a quoted value is not closed properly; every opening '
            || 'double quote needs a closing one, and a quote inside a value must be doubled ("")'
        WHEN 'LINE SIZE OVER MAXIMUM' THEN 'malformed {what}: the record is longer than the maximum line size of '
            || '{MAX_LINE_BYTES:,} bytes'
        ELSE 'malformed {what}: the reader rejected it (' || error_type || ')' END"""


def check_line_count(rel: str, expected: int, accounted: int, first_unclosed: int | None) -> None:
    """Fail the file when the reader's rows and rejected lines do not cover every line of the text.

    DuckDB's CSV reader can lose lines without reporting them (after an unclosed quote early in a large file);
    then nothing of the file is loaded rather than a part of it.
    """
    if expected == accounted:
        return
    if first_unclosed is not None:
        why = (
            f"line {first_unclosed} opens a quoted value that is not closed, and the reader could not tell the "
            "lines after it apart"
        )
    else:
        why = "the reader could not tell every record apart"
    raise FileError(
        f"{rel}: the file has {expected:,} lines but its records and rejected lines account for {accounted:,}: "
        f"{why}. Nothing of the file was loaded; fix the quoting (every opening double quote needs a closing "
        "one) and deliver the file again."
    )


def bad_lines_offset(con: duckdb.DuckDBPyConnection, header_lines: int) -> tuple[str, str]:
    """SQL (expression, join) for the number of bad lines before typed row ``t`` (see :func:`stage_csv`).

    Bad line ``j`` (1-based, in line order) on logical line ``l_j`` comes after ``l_j - header - j`` good rows,
    so row ``t`` has every bad line with ``rows_before < t._rn`` before it. A few bad lines become a CASE
    expression; many become an ASOF join.
    """
    cumulative = con.execute(
        f"SELECT logical - {header_lines} - j AS rows_before, max(j) FROM {BAD_LINES} GROUP BY 1 ORDER BY 1"
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
        CREATE TEMP TABLE {BAD_LINES_CUM} AS
        SELECT logical - {header_lines} - j AS rows_before, max(j) AS j FROM {BAD_LINES} GROUP BY ALL
        """
    )
    return "coalesce(b.j, 0)", f"ASOF LEFT JOIN {BAD_LINES_CUM} b ON t._rn > b.rows_before"


_NO_HEADER_HINT = " If line 1 holds data rather than column names, the file lacks its header row: add it."


def match_columns(
    contract: Contract,
    names: list[str],
    rel: str,
    *,
    delimiter: str | None = None,
    what: str = "the header (line 1)",
) -> tuple[dict[str, int], list[tuple[str, int]]]:
    """Map contract columns to positions in ``names``; the rest are extras. Fails on missing/duplicate.

    The messages name contract columns and positions only, never the names found: a file without a header has
    a data row in their place (for contacts: a person's name, e-mail address and phone number).
    """
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
            which = (
                f"column {normalized}" if normalized in known else "a column name that is not in the contract"
            )
            raise FileError(
                f"{rel}: {which} appears twice in {what} (columns {seen[normalized] + 1} and {i + 1}; names are "
                "compared case-insensitively after trimming); remove or rename one of them and deliver the file "
                "again." + (_NO_HEADER_HINT if delimiter is not None else "")
            )
        seen[normalized] = i
        if normalized in known:
            positions[normalized] = i
        else:
            extras.append((name.strip(), i))
    missing = [c for c in contract.required_columns if c not in positions]
    if missing:
        matched = ", ".join(c.name for c in contract.columns if c.name in positions) or "none of them"
        hint = ""
        if delimiter is not None:
            hint = _NO_HEADER_HINT
            if len(names) == 1:
                hint += " No comma, semicolon or tab was found in the header line; those are the supported delimiters."
        raise FileError(
            f"{rel}: missing required column(s) {', '.join(missing)}; of the {len(names)} column name(s) in {what}, "
            f"these match the contract: {matched}. Column names are matched case-insensitively.{hint} "
            "Fix the export and deliver the file again; nothing from this file was loaded."
        )
    return positions, extras
