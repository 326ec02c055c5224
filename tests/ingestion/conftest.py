"""Fixtures of the ingestion tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest


@pytest.fixture
def connect(tmp_path: Path) -> Iterator[Callable[[], duckdb.DuckDBPyConnection]]:
    """Factory for connections to a throw-away build database in ``tmp_path``."""
    connections: list[duckdb.DuckDBPyConnection] = []

    def _connect() -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(tmp_path / "build.duckdb"))
        connections.append(con)
        return con

    yield _connect
    for con in connections:
        con.close()
