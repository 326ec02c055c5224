"""Connections to the build database. One helper so every connection in a process uses the same settings
(DuckDB refuses a second connection to the same file with a different configuration)."""

from __future__ import annotations

from pathlib import Path

import duckdb


def connect(
    path: Path, *, memory_limit: str | None = None, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {"memory_limit": memory_limit} if memory_limit else {}
    con = duckdb.connect(str(path), read_only=read_only, config=config)
    # TimeZone cannot go into the connect config: ICU is only loaded once the database is open.
    con.execute("set TimeZone = 'UTC'")
    return con
