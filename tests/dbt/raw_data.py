"""Raw tables for the dbt tests: generated demo landing files, ingested by the DuckDB ingestion."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from demo.generator import generate_demo_data
from ingestion.loader import SOURCES, ingest_source
from warehouse import connect


def ingested_demo(home: Path, *, orders: int, seed: int, as_of: date) -> Path:
    """Demo landing files under ``home`` ingested into ``home/landing.duckdb`` (raw.orders, ...); returns its path.

    Not raw.duckdb: the file's catalog would shadow the schema raw."""
    generate_demo_data(home, orders=orders, seed=seed, as_of=as_of)
    path = home / "landing.duckdb"
    con = connect(path)
    try:
        for source in SOURCES:
            assert not ingest_source(con, source, home / "landing").failed_files
    finally:
        con.close()
    return path
