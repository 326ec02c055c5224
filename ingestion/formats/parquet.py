"""Parquet files: read directly, native types kept."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingestion.contracts import Contract
from ingestion.decode import Scan
from ingestion.errors import FileError
from ingestion.formats import Field, Lines, Staged, match_columns
from ingestion.sql import ident, lit


def stage_parquet(
    con: duckdb.DuckDBPyConnection, contract: Contract, path: Path, rel: str, scan: Scan
) -> Staged:
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
    source_sql = f"read_parquet({lit(str(path))}, file_row_number = true)"
    described = con.execute(f"DESCRIBE SELECT * FROM {source_sql}").fetchall()
    names = [row[0] for row in described if row[0] != "file_row_number"]
    types = {row[0]: row[1] for row in described}
    positions, extras = match_columns(contract, names, rel, what="the Parquet schema")
    columns = ", ".join(f"{ident(n)} AS c{i}" for i, n in enumerate(names))
    extra_sql = "NULL"
    if extras:
        extra_sql = "json_object(" + ", ".join(f"{lit(name)}, c{i}" for name, i in extras) + ")"
    return Staged(
        from_sql=f"(SELECT file_row_number + 1 AS _rn, {columns} FROM {source_sql})",
        columns={name: _field(f"c{i}", types[names[i]]) for name, i in positions.items()},
        extra_sql=extra_sql,
        raw_sql="json_object(" + ", ".join(f"{lit(n)}, c{i}" for i, n in enumerate(names)) + ")::VARCHAR",
        extra_columns=[name for name, _ in extras],
        lines=Lines(),
    )


def _field(expr: str, duck_type: str) -> Field:
    """A Parquet column; a nested one (list, struct, map) never holds a single value."""
    upper = duck_type.upper()
    kind = (
        "a list"
        if upper.endswith("]")
        else "a struct"
        if upper.startswith(("STRUCT", "MAP", "UNION"))
        else None
    )
    nested = f"CASE WHEN {expr} IS NOT NULL THEN {lit(kind)} END" if kind else None
    return Field(expr, duck_type, nested)


def _looks_like_text(head: bytes) -> bool:
    """Do the first bytes of a file look like UTF-8 text?"""
    try:
        head[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in head[:4096]
