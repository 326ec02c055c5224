"""JSON Lines files (and ``.json`` files holding one array of objects), parsed with DuckDB's JSON functions."""

from __future__ import annotations

import re

import duckdb

from ingestion.contracts import Contract
from ingestion.decode import Text, line_too_long_reason
from ingestion.errors import FileError
from ingestion.formats import (
    BAD_LINES,
    STAGE,
    Field,
    Lines,
    Staged,
    bad_lines_offset,
    check_line_count,
    long_line_sql,
    match_columns,
    read_lines,
    reject_reason_sql,
    restore_markers,
)
from ingestion.sql import lit

# A delimiter that cannot occur in valid JSON (control characters must be escaped), so that reading a JSON Lines
# file as CSV yields exactly one column per physical line.
_JSON_LINE_DELIM = "\x1f\x1e"


def _json_pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")


def stage_json(con: duckdb.DuckDBPyConnection, contract: Contract, text: Text, rel: str) -> Staged | None:
    """Read a JSON Lines file (or a ``.json`` file holding one array of objects); None if it has no records.

    JSON Lines is read as text, one row per physical line (blank lines included, so the row number is the line
    number), and parsed with DuckDB's JSON functions; lines that are not a JSON object are quarantined.
    """
    read_path = text.path
    with read_path.open("rb") as f:
        array = f.read(4096).lstrip(b" \t\r\n\xef\xbb\xbf").startswith(b"[")
    if array:  # records are numbered, not lines
        stage = (
            f"SELECT generate_subscripts(arr, 1) AS _rn, unnest(arr)::VARCHAR AS line "
            f"FROM (SELECT json_extract(content, '$[*]') AS arr FROM read_text({lit(str(read_path))}))"
        )
        try:
            con.execute(f"CREATE TEMP TABLE {STAGE} AS {stage}")
        except duckdb.InvalidInputException as exc:
            raise FileError(
                f"{rel}: is not valid JSON ({_json_problem(str(exc))}); fix or re-export it"
            ) from None
    else:
        options = (
            f"header = false, delim = {lit(_JSON_LINE_DELIM)}, quote = '', escape = '', auto_detect = false, "
            "columns = {'line': 'VARCHAR'}"
        )
        reason = reject_reason_sql("JSON line", "check the file's format")
        n_lines, n_bad, _ = read_lines(con, read_path, options, reason, cr=text.cr_marked, blank=False)
        check_line_count(rel, text.stats.physical_lines, n_lines + n_bad, None)
    if array:
        records = STAGE
    else:  # rowid: see stage_csv
        line = restore_markers("line", cr=text.cr_marked, blank=False)
        records = f"(SELECT rowid + 1 AS _rn, {line} AS line FROM {STAGE})"
    # try(): json_type() fails on invalid JSON; this parses each line once (json_valid() first would be twice).
    is_object = "coalesce(try(json_type(line)) = 'OBJECT', false)"
    # a record line starts with "{" (cheap to test); only other lines pay for the trim
    not_blank = "CASE WHEN line LIKE '{%' THEN true ELSE trim(coalesce(line, ''), E' \\t\\r\\n') <> '' END"
    n_records, n_objects = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {is_object}) FROM {records} WHERE {not_blank}"
    ).fetchone()  # type: ignore[misc]
    if not n_records:  # e.g. an empty JSON array
        return None
    if not n_objects:
        raise FileError(
            f"{rel}: none of its {n_records:,} records is a JSON object; it does not look like JSON Lines "
            "(one JSON object per line). Check the file's format and extension."
        )
    # distinct key lists first: most records share theirs, and a list of lists is dear to aggregate
    key_lists = con.execute(f"SELECT DISTINCT json_keys(line) FROM {records} WHERE {is_object}").fetchall()
    keys = sorted({k for (ks,) in key_lists if ks for k in ks})
    known = {c.name for c in contract.columns}
    by_column: dict[str, list[str]] = {}
    extras: list[str] = []
    for key in keys:
        normalized = key.strip().lower()
        if normalized in known:
            by_column.setdefault(normalized, []).append(key)
        else:
            extras.append(key)
    match_columns(contract, list(by_column), rel, what="the records' keys")  # raises on missing columns
    ordered = [k for name in by_column for k in by_column[name]]
    index = {k: i + 1 for i, k in enumerate(ordered)}
    paths = "[" + ", ".join(lit(_json_pointer(k)) for k in ordered) + "]"
    columns = {}
    for name, spellings in by_column.items():
        value = "coalesce(" + ", ".join(f"_vals[{index[k]}]" for k in spellings) + ")"
        # Objects and arrays come out of json_extract_string as JSON text; only such text is checked further.
        kinds = ", ".join(
            f"CASE json_type(line, {lit(_json_pointer(k))}) WHEN 'OBJECT' THEN 'a JSON object' "
            "WHEN 'ARRAY' THEN 'a JSON array' END"
            for k in spellings
        )
        nested = f"CASE WHEN left({value}, 1) IN ('{{', '[') THEN coalesce({kinds}) END"
        columns[name] = Field(value, nested=nested)
    extra_sql = "NULL"
    if extras:
        extra_paths = "[" + ", ".join(lit(_json_pointer(k)) for k in extras) + "]"
        pairs = ", ".join(
            f"{lit(k)}, json_extract(line, {extra_paths})[{i + 1}]" for i, k in enumerate(extras)
        )
        extra_sql = f"CASE WHEN _ok THEN json_object({pairs}) END"

    lines = Lines()
    not_ok_reason = (
        "CASE WHEN json_valid(line) THEN 'the record is valid JSON but not an object; each line of a JSON "
        "Lines file must be one JSON object' ELSE 'the line is not valid JSON; each line of a JSON Lines "
        "file must be one complete JSON object' END"
    )
    raw_sql = "line"
    if not array:
        con.execute(f"UPDATE {BAD_LINES} SET line = logical")
        offset, join = bad_lines_offset(con, header_lines=0)
        lines = Lines(f"(t._rn + {offset})", join, bad_lines=True)
        if text.long_lines:
            is_long, start = long_line_sql("line")
            not_ok_reason = f"CASE WHEN {is_long} THEN {lit(line_too_long_reason())} ELSE {not_ok_reason} END"
            raw_sql = f"CASE WHEN {is_long} THEN {start} ELSE line END"

    return Staged(
        from_sql=(
            f"(SELECT *, CASE WHEN _ok THEN json_extract_string(line, {paths}) END AS _vals "
            f"FROM (SELECT _rn, line, {is_object} AS _ok FROM {records} WHERE {not_blank}))"
        ),
        columns=columns,
        extra_sql=extra_sql,
        raw_sql=raw_sql,
        extra_columns=extras,
        lines=lines,
        ok_sql="_ok",
        records=int(n_records),
        not_ok_reason_sql=not_ok_reason,
    )


def _json_problem(message: str) -> str:
    """What DuckDB found wrong with a JSON document, without the document's text (its message quotes it)."""
    found = re.search(r"Malformed JSON at byte (\d+) of input: ([a-z ,']+)", message)
    if found:
        return f"malformed JSON at byte {found[1]}: {found[2].strip()}"
    return "DuckDB could not parse it as one JSON array of objects"
