"""Staging a landing file for the typing query: one module per format, and what they share.

A format module reads one file with DuckDB and describes it as a :class:`Staged`: the FROM clause giving one row
per record with its record number ``_rn``, the SQL of each contract column, the ``_extra`` JSON and how record
numbers become line numbers (:class:`Lines`). Malformed lines go to the temporary table ``BAD_LINES``.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from ingestion.contracts import Contract
from ingestion.errors import FileError

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
TYPED = "c360_ingest_typed"
REJECTS = "c360_ingest_rejects"
REJECT_SCANS = "c360_ingest_reject_scans"
BAD_LINES = "c360_ingest_bad_lines"
BAD_LINES_CUM = "c360_ingest_bad_lines_cum"
PHYSICAL = "c360_ingest_physical_lines"
TEMP_TABLES = (TYPED, STAGE, REJECTS, REJECT_SCANS, BAD_LINES, BAD_LINES_CUM, PHYSICAL)


def format_of(name: str) -> tuple[str, bool] | None:
    """(format, gzip-compressed) of a file name, or None when we do not read that kind of file."""
    lower = name.lower()
    for suffix, fmt in SUPPORTED_SUFFIXES:
        if lower.endswith(suffix):
            return fmt
    return None


def first_lines(message: str, n: int = 3) -> str:
    """The first ``n`` lines of an exception message, on one line."""
    return " ".join(message.strip().splitlines()[:n])


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


@dataclass
class Staged:
    """A file as DuckDB reads it, described for the typing query."""

    from_sql: str  # FROM clause; rows have `_rn` (record number in file order) and the `columns` expressions
    columns: dict[str, tuple[str, str]]  # contract column -> (SQL expression, DuckDB type)
    extra_sql: str  # SQL for _extra (JSON) or NULL
    raw_sql: str  # SQL for the raw record of a bad row
    extra_columns: list[str]
    lines: Lines  # how to number the rows
    ok_sql: str = "TRUE"  # record could be parsed at all (JSON)
    not_ok_reason_sql: str = "NULL"


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


def match_columns(
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
