"""CSV (and TSV) files: header sniffing, DuckDB's reader with rejected lines, physical line numbers."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb

from ingestion.contracts import Contract
from ingestion.decode import CR_MARKER, LONG_LINE_MARKER, MAX_LINE_BYTES, Text, mark_blank_lines
from ingestion.errors import FileError
from ingestion.formats import (
    BAD_LINES,
    PHYSICAL,
    STAGE,
    Field,
    Lines,
    Staged,
    bad_lines_offset,
    check_line_count,
    match_columns,
    read_lines,
    reject_reason_sql,
    restore_markers,
)
from ingestion.sql import lit


def _sniff_header(read_path: Path, rel: str, file_name: str) -> tuple[str, list[str], int]:
    """Delimiter, header names and line breaks inside the header of a UTF-8 CSV file."""
    with read_path.open("rb") as f:
        head = f.read(1 << 20)
        if b"\n" not in head:  # a very long header: read up to the longest line allowed
            head += f.read(MAX_LINE_BYTES)
    text = head.decode("utf-8", errors="replace").removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0].rstrip("\r")
    if not first_line.strip():
        raise FileError(
            f"{rel}: line 1 is empty; the header row (the column names) must be the first line of a CSV file"
        )
    if first_line.startswith(LONG_LINE_MARKER):
        raise FileError(
            f"{rel}: line 1 (the header) is longer than the maximum line size of {MAX_LINE_BYTES:,} bytes; the "
            "first line of a CSV file must be its header row (the column names)"
        )
    counts = {d: _count_outside_quotes(first_line, d) for d in (",", ";", "\t")}
    if file_name.lower().endswith((".tsv", ".tsv.gz")) and counts["\t"]:
        delimiter = "\t"
    else:
        delimiter = max(counts, key=lambda d: counts[d])  # ties: comma, then semicolon, then tab
    if not counts[delimiter]:
        delimiter = ","
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"', doublequote=True))
    except csv.Error:
        raise FileError(
            f"{rel}: line 1 (the header) is not a valid CSV line (a quoted column name that is not closed?); fix "
            "the header row and deliver the file again"
        ) from None
    header = [name.replace(CR_MARKER, "\r") for name in header]
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
    con: duckdb.DuckDBPyConnection, contract: Contract, text: Text, rel: str, file_name: str, tmp: Path
) -> Staged:
    """Read a UTF-8 CSV file into ``STAGE`` (text columns ``c<i>``); malformed lines go to ``BAD_LINES``.

    Line numbers: DuckDB numbers rejected lines by *logical* line (the header is line 1, a record with quoted
    line breaks counts once) and returns good rows in file order, so good row ``i`` is on logical line
    ``1 + i + (bad lines before it)``. Two things make logical and physical lines differ, and the line count of
    the text tells whether either happened: line breaks inside quoted values (then the physical line adds the
    line breaks of all earlier records) and blank lines, which DuckDB skips without counting them as rows. Files
    with blank lines are read a second time with each blank line marked, so that it becomes a rejected line with
    a known number (and is then dropped, not counted as a row). If the rows and rejected lines still do not
    cover every line of the file, the file fails (see :func:`~ingestion.formats.check_line_count`).
    """
    read_path, stats = text.path, text.stats
    delimiter, header, header_breaks = _sniff_header(read_path, rel, file_name)
    positions, extras = match_columns(contract, header, rel, delimiter=delimiter)
    n = len(header)
    columns_sql = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n))
    delim_name = {",": "comma", ";": "semicolon", "\t": "tab"}[delimiter]
    reason = reject_reason_sql(
        "CSV line",
        f"the header has {n} columns; check the {delim_name} delimiters and the quoting on this line",
    )
    marked = False

    options = (
        f"header = true, delim = {lit(delimiter)}, quote = '\"', escape = '\"', auto_detect = false, "
        f"columns = {{{columns_sql}}}, strict_mode = true, null_padding = false"
    )

    def stage(path: Path) -> tuple[int, int, int]:
        """Read ``path``; return (good rows, bad lines, line breaks inside bad lines)."""
        return read_lines(con, path, options, reason, cr=text.cr_marked, blank=marked)

    def expr(i: int) -> str:  # markers inside a quoted value are turned back into what they stand for
        return restore_markers(f"c{i}", cr=text.cr_marked, blank=marked)

    def value_breaks() -> int:
        per_row = " + ".join(
            f"coalesce(length(c{i}) - length(replace(c{i}, E'\\n', '')), 0)" for i in range(n)
        )
        (total,) = con.execute(f"SELECT coalesce(sum({per_row}), 0) FROM {STAGE}").fetchone()  # type: ignore[misc]
        return int(total)

    rows, bad, bad_breaks = stage(read_path)
    breaks = 0
    if stats.content_lines != 1 + header_breaks + rows + bad:
        breaks = bad_breaks + value_breaks()
        if stats.content_lines != 1 + header_breaks + rows + bad + breaks:
            # blank lines (or lines the reader lost): mark blank lines and read again
            marked_path = tmp / "blank-lines-marked"
            stats = mark_blank_lines(read_path, marked_path)
            marked = True
            rows, bad, bad_breaks = stage(marked_path)
            breaks = bad_breaks + value_breaks()
            # DuckDB's line number of the record (exact unless quoted line breaks come before it)
            unclosed = con.execute(
                f"SELECT min(logical) FROM {BAD_LINES} WHERE reason LIKE '%quoted value is not closed%'"
            ).fetchone()[0]  # type: ignore[index]
            check_line_count(rel, stats.content_lines, 1 + header_breaks + rows + bad + breaks, unclosed)
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
    ok_sql, not_ok = "TRUE", "NULL"
    if text.long_lines:  # an over-long line inside a quoted value: the record is incomplete
        ok_sql = (
            f"NOT contains(concat_ws('', {', '.join(f'c{i}' for i in range(n))}), {lit(LONG_LINE_MARKER)})"
        )
        not_ok = lit(
            f"a line inside a quoted value of this record is longer than {MAX_LINE_BYTES:,} bytes (the "
            "maximum line size), so the record was not read; check the export"
        )
    return Staged(
        from_sql=f"(SELECT rowid + 1 AS _rn, * FROM {STAGE})",
        columns={name: Field(expr(i)) for name, i in positions.items()},
        extra_sql=extra_sql,
        raw_sql=f"json_object({raw_pairs})::VARCHAR",
        extra_columns=[name for name, _ in extras],
        lines=lines,
        records=rows,
        ok_sql=ok_sql,
        not_ok_reason_sql=not_ok,
    )
