"""The dbt profile hands the environment's DuckDB settings to every dbt connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from c360.settings import DBT_PROJECT_DIR
from orchestration.dbt_runner import parsed_manifest


def _show(sql: str) -> dict:
    from dbt.cli.main import dbtRunner

    result = dbtRunner(manifest=parsed_manifest()).invoke(
        [
            "show",
            "--inline",
            sql,
            "--quiet",
            "--no-write-json",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
        ]
    )
    assert result.success, result.exception
    table = result.result.results[0].agate_table
    return dict(zip(table.column_names, table.rows[0], strict=True))


def test_memory_limit_and_time_zone_reach_dbt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_BUILD_DB", str(tmp_path / "build.duckdb"))
    monkeypatch.setenv("C360_DUCKDB_MEMORY_LIMIT", "3GB")
    row = _show("select current_setting('memory_limit') as memory_limit, current_setting('TimeZone') as tz")
    # DuckDB reports the limit in GiB: 3 GB = 2.7 GiB
    assert row == {"memory_limit": "2.7 GiB", "tz": "UTC"}
