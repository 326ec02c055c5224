"""Shared fixtures: an isolated C360_HOME / DAGSTER_HOME per test, the dbt manifest prepared once per session."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
# The local Spark session of a test process (one per process: the first test to start it sets its JVM) runs many
# short queries on little data: the quick JIT compiler only, which saves about 40 % of the JVM's CPU on such runs
# (warehouse.spark_warehouse.spark_session). The suite is CPU-bound on two cores.
os.environ.setdefault("C360_SPARK_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=512m")


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest() -> Path:
    from orchestration.dbt_runner import prepare_manifest

    return prepare_manifest()


@pytest.fixture
def c360_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data root: landing zone, warehouse and Dagster instance under tmp_path."""
    home = tmp_path / "c360"
    monkeypatch.setenv("C360_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    for name in ("C360_BUILD_DB", "C360_PUBLISHED_DB", "C360_ALERT_LOG", "C360_PG_DSN", "C360_PII_HASH_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("C360_LANDING_SETTLE_SECONDS", "0")  # tests write files and run at once
    return home


@pytest.fixture
def fresh_python(tmp_path: Path) -> Callable[[str], subprocess.CompletedProcess[str]]:
    """Runs Python code in a new interpreter, for what this test session may already have imported or loaded,
    with Python's default warning filters, as a script file (as the CLI runs: its ``__main__`` has a file, unlike
    ``python -c``, which expectations/__init__.py treats as a bare worker process); returns the completed
    process."""

    def run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
        script = tmp_path / "fresh_python.py"
        script.write_text(code)
        return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, env=env)

    return run
