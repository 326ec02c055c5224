"""Fixtures of the report tests: the published fixture database and variants of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from report_helpers import build_db


@pytest.fixture
def published_db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "published.duckdb")


@pytest.fixture
def variant_db(tmp_path: Path) -> Callable[..., Path]:
    """Builds the fixture database changed by the given SQL statements, under a fresh name each call."""
    count = 0

    def build(*statements: str) -> Path:
        nonlocal count
        count += 1
        return build_db(tmp_path / f"variant-{count}.duckdb", *statements)

    return build
