"""Connections to the build database. One helper so every connection in a process uses the same settings
(DuckDB refuses a second connection to the same file with a different configuration)."""

from __future__ import annotations

from pathlib import Path

import duckdb


def connect(path: Path, *, memory_limit: str | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {"TimeZone": "UTC"}
    if memory_limit:
        config["memory_limit"] = memory_limit
    return duckdb.connect(str(path), read_only=read_only, config=config)
