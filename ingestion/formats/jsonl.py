"""JSON Lines files (and ``.json`` files holding one array of objects), parsed with DuckDB's JSON functions."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingestion.contracts import Contract
from ingestion.errors import FileError
from ingestion.formats import (
    BAD_LINES,
    REJECT_SCANS,
    REJECTS,
    STAGE,
    Lines,
    Staged,
    bad_lines_offset,
    first_lines,
    match_columns,
)
from ingestion.sql import lit

# A delimiter that cannot occur in valid JSON (control characters must be escaped), so that reading a JSON Lines
# file as CSV yields exactly one column per physical line.
_JSON_LINE_DELIM = "\x1f\x1e"


def _json_pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")


def stage_json(
    con: duckdb.DuckDBPyConnection, contract: Contract, read_path: Path, rel: str
) -> Staged | None:
    """Read a JSON Lines file (or a ``.json`` file holding one array of objects); None if it has no records.

    JSON Lines is read as text, one row per physical line (blank lines included, so the row number is the line
    number), and parsed with DuckDB's JSON functions; lines that are not a JSON object are quarantined.
    """
    with read_path.open("rb") as f:
        array = f.read(4096).lstrip().startswith(b"[")
    path_sql = lit(str(read_path))
    if array:  # records are numbered, not lines
        stage = (
            f"SELECT generate_subscripts(arr, 1) AS _rn, unnest(arr)::VARCHAR AS line "
            f"FROM (SELECT json_extract(content, '$[*]') AS arr FROM read_text({path_sql}))"
        )
    else:
        stage = (
            f"SELECT line FROM read_csv({path_sql}, header = false, "
            f"delim = {lit(_JSON_LINE_DELIM)}, quote = '', escape = '', auto_detect = false, "
            f"columns = {{'line': 'VARCHAR'}}, store_rejects = true, rejects_table = '{REJECTS}', "
            f"rejects_scan = '{REJECT_SCANS}', rejects_limit = 0)"
        )
    try:
        con.execute(f"CREATE TEMP TABLE {STAGE} AS {stage}")  # materialized: see stage_csv
    except duckdb.InvalidInputException as exc:
        raise FileError(
            f"{rel}: is not valid JSON ({first_lines(str(exc), 1)}); fix or re-export it"
        ) from None
    records = STAGE if array else f"(SELECT rowid + 1 AS _rn, line FROM {STAGE})"  # see stage_csv
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
    match_columns(contract, list(by_column), rel)  # raises on missing required columns
    ordered = [k for name in by_column for k in by_column[name]]
    index = {k: i + 1 for i, k in enumerate(ordered)}
    paths = "[" + ", ".join(lit(_json_pointer(k)) for k in ordered) + "]"
    columns = {
        name: ("coalesce(" + ", ".join(f"_vals[{index[k]}]" for k in spellings) + ")", "VARCHAR")
        for name, spellings in by_column.items()
    }
    extra_sql = "NULL"
    if extras:
        extra_paths = "[" + ", ".join(lit(_json_pointer(k)) for k in extras) + "]"
        pairs = ", ".join(
            f"{lit(k)}, json_extract(line, {extra_paths})[{i + 1}]" for i, k in enumerate(extras)
        )
        extra_sql = f"CASE WHEN _ok THEN json_object({pairs}) END"

    lines = Lines()
    if not array:
        con.execute(
            f"""
            CREATE TEMP TABLE {BAD_LINES} AS
            SELECT line AS logical, row_number() OVER (ORDER BY line) AS j,
                   'malformed line: ' || error_message AS reason, text, false AS is_blank, line
            FROM (SELECT line, first(error_message) AS error_message, first(csv_line) AS text
                  FROM {REJECTS} GROUP BY line)
            """
        )
        offset, join = bad_lines_offset(con, header_lines=0)
        lines = Lines(f"(t._rn + {offset})", join, bad_lines=True)

    return Staged(
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
