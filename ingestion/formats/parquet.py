"""Parquet files: read directly, native types kept."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingestion.contracts import Contract
from ingestion.decode import Scan, looks_like_text
from ingestion.errors import FileError
from ingestion.formats import Lines, Staged, match_columns
from ingestion.sql import ident, lit


def stage_parquet(
    con: duckdb.DuckDBPyConnection, contract: Contract, path: Path, rel: str, scan: Scan
) -> Staged:
    if not (scan.head.startswith(b"PAR1") and scan.tail.endswith(b"PAR1")):
        if scan.head.startswith(b"\x1f\x8b"):
            why = "it is gzip-compressed (Parquet compresses internally; deliver the .parquet file itself)"
        elif scan.head.startswith(b"PAR1"):
            why = "the Parquet footer is missing, so the file is truncated; re-deliver the complete file"
        elif looks_like_text(scan.head):
            why = "it looks like text (CSV or JSON?); rename it to the right extension, e.g. .csv or .jsonl"
        else:
            why = "it does not start and end with the Parquet magic bytes 'PAR1'"
        raise FileError(f"{rel}: is not a Parquet file: {why}")
    source_sql = f"read_parquet({lit(str(path))}, file_row_number = true)"
    described = con.execute(f"DESCRIBE SELECT * FROM {source_sql}").fetchall()
    names = [row[0] for row in described if row[0] != "file_row_number"]
    types = {row[0]: row[1] for row in described}
    positions, extras = match_columns(contract, names, rel)
    columns = ", ".join(f"{ident(n)} AS c{i}" for i, n in enumerate(names))
    extra_sql = "NULL"
    if extras:
        extra_sql = "json_object(" + ", ".join(f"{lit(name)}, c{i}" for name, i in extras) + ")"
    return Staged(
        from_sql=f"(SELECT file_row_number + 1 AS _rn, {columns} FROM {source_sql})",
        columns={name: (f"c{i}", types[names[i]]) for name, i in positions.items()},
        extra_sql=extra_sql,
        raw_sql="json_object(" + ", ".join(f"{lit(n)}, c{i}" for i, n in enumerate(names)) + ")::VARCHAR",
        extra_columns=[name for name, _ in extras],
        lines=Lines(),
    )
