"""CSV (and TSV) files: header sniffing, DuckDB's reader with rejected lines, physical line numbers."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb

from ingestion.contracts import Contract
from ingestion.decode import BLANK_MARKER, TextStats, mark_blank_lines
from ingestion.errors import FileError
from ingestion.formats import (
    BAD_LINES,
    PHYSICAL,
    REJECT_SCANS,
    REJECTS,
    STAGE,
    Lines,
    Staged,
    bad_lines_offset,
    match_columns,
)
from ingestion.sql import lit


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


def stage_csv(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    read_path: Path,
    rel: str,
    stats: TextStats,
    file_name: str,
    tmp: Path,
) -> Staged:
    """Read a UTF-8 CSV file into ``STAGE`` (text columns ``c<i>``); malformed lines go to ``BAD_LINES``.

    Line numbers: DuckDB numbers rejected lines by *logical* line (the header is line 1, a record with quoted
    line breaks counts once) and returns good rows in file order, so good row ``i`` is on logical line
    ``1 + i + (bad lines before it)``. Two things make logical and physical lines differ, and the line count of
    the text tells whether either happened: line breaks inside quoted values (then the physical line adds the
    line breaks of all earlier records) and blank lines, which DuckDB skips without counting them as rows. Files
    with blank lines are read a second time with each blank line marked, so that it becomes a rejected line with
    a known number (and is then dropped, not counted as a row).
    """
    delimiter, header, header_breaks = _sniff_header(read_path, rel, file_name)
    positions, extras = match_columns(contract, header, rel, delimiter=delimiter)
    n = len(header)
    columns_sql = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n))
    marker = lit(BLANK_MARKER)
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
        for table in (STAGE, REJECTS, REJECT_SCANS, BAD_LINES):
            con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
        # In file order (preserve_insertion_order): a fresh table's rowid is then the record number, which is
        # much cheaper than row_number() OVER () (that runs in one thread).
        con.execute(
            f"""
            CREATE TEMP TABLE {STAGE} AS
            SELECT * FROM read_csv({lit(str(path))}, header = true, delim = {lit(delimiter)}, quote = '"',
                                   escape = '"', auto_detect = false, columns = {{{columns_sql}}},
                                   strict_mode = true, null_padding = false, store_rejects = true,
                                   rejects_table = '{REJECTS}', rejects_scan = '{REJECT_SCANS}',
                                   rejects_limit = 0)
            """
        )
        con.execute(
            f"""
            CREATE TEMP TABLE {BAD_LINES} AS
            SELECT line AS logical, row_number() OVER (ORDER BY line) AS j, reason, text,
                   trim(text, E' \\t\\r\\n') IN ('', {marker}) AS is_blank,
                   length(trim(text, E'\\r\\n')) - length(replace(trim(text, E'\\r\\n'), E'\\n', '')) AS breaks,
                   NULL::BIGINT AS line
            FROM (
                SELECT line, arg_min({reason}, coalesce(column_idx, 0)) AS reason,
                       arg_min(csv_line, coalesce(column_idx, 0)) AS text
                FROM {REJECTS} GROUP BY line
            )
            """
        )
        (rows,) = con.execute(f"SELECT count(*) FROM {STAGE}").fetchone()  # type: ignore[misc]
        bad, bad_breaks = con.execute(
            f"SELECT count(*), coalesce(sum(breaks), 0) FROM {BAD_LINES}"
        ).fetchone()  # type: ignore[misc]
        return int(rows), int(bad), int(bad_breaks)

    marked = False

    def expr(i: int) -> str:  # a blank-line marker inside a quoted value is removed again
        return f"replace(c{i}, {marker}, '')" if marked else f"c{i}"

    def value_breaks() -> int:
        per_row = " + ".join(
            f"coalesce(length(c{i}) - length(replace(c{i}, E'\\n', '')), 0)" for i in range(n)
        )
        (total,) = con.execute(f"SELECT coalesce(sum({per_row}), 0) FROM {STAGE}").fetchone()  # type: ignore[misc]
        return int(total)

    rows, bad, bad_breaks = stage(read_path)
    logical_lines = 1 + header_breaks + rows + bad
    breaks = None
    if stats.content_lines != logical_lines:
        breaks = bad_breaks + value_breaks()
        if stats.content_lines != logical_lines + breaks:  # blank lines: mark them and read again
            marked_path = tmp / "blank-lines-marked"
            mark_blank_lines(read_path, marked_path)
            marked = True
            rows, bad, bad_breaks = stage(marked_path)
            breaks = bad_breaks + value_breaks()
    offset, join = bad_lines_offset(con, header_lines=1)
    if not breaks:
        con.execute(f"UPDATE {BAD_LINES} SET line = logical + {header_breaks}")
        lines = Lines(f"(1 + {header_breaks} + t._rn + {offset})", join, bad_lines=True)
    else:  # physical line = logical line + all line breaks in earlier records
        per_row = " + ".join(
            f"coalesce(length({expr(i)}) - length(replace({expr(i)}, E'\\n', '')), 0)" for i in range(n)
        )
        con.execute(
            f"""
            CREATE TEMP TABLE {PHYSICAL} AS
            WITH records AS (
                SELECT t._rn, NULL::BIGINT AS bad_logical, 1 + t._rn + {offset} AS logical, t.breaks
                FROM (SELECT rowid + 1 AS _rn, {per_row} AS breaks FROM {STAGE}) t {join}
                UNION ALL
                SELECT NULL, logical, logical, breaks FROM {BAD_LINES}
            )
            SELECT _rn, bad_logical,
                   logical + {header_breaks} + coalesce(sum(breaks) OVER (
                       ORDER BY logical ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS line
            FROM records
            """
        )
        con.execute(
            f"UPDATE {BAD_LINES} SET line = p.line FROM {PHYSICAL} p WHERE p.bad_logical = {BAD_LINES}.logical"
        )
        lines = Lines("p.line", f"JOIN {PHYSICAL} p ON p._rn = t._rn", bad_lines=True)
    extra_sql = "NULL"
    if extras:
        extra_sql = "json_object(" + ", ".join(f"{lit(name)}, {expr(i)}" for name, i in extras) + ")"
    raw_pairs = ", ".join(f"{lit(h.strip() or f'column_{i + 1}')}, {expr(i)}" for i, h in enumerate(header))
    return Staged(
        from_sql=f"(SELECT rowid + 1 AS _rn, * FROM {STAGE})",
        columns={name: (expr(i), "VARCHAR") for name, i in positions.items()},
        extra_sql=extra_sql,
        raw_sql=f"json_object({raw_pairs})::VARCHAR",
        extra_columns=[name for name, _ in extras],
        lines=lines,
    )
