"""Local Spark for the pipeline tests.

A process has ONE Spark session: its embedded Derby metastore admits one process, and a later session request
with another root gets the first session (tests/dbt and tests/warehouse start it too). So these tests take the
root of the process's session, whichever test started it, and every test module empties c360's databases of
the catalog before it loads anything (a home's tables never meet another home's).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

C360_DATABASES = ("raw", "staging", "intermediate", "main", "analytics", "state", "c360_meta")


@pytest.fixture(scope="session")
def spark_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root of the process's Spark session (C360_SPARK_HOME of the runs); skips when Spark cannot run."""
    from warehouse.spark_warehouse import session_home, spark_session, spark_unavailable_reason

    reason = spark_unavailable_reason()
    if reason:
        pytest.skip(reason)
    return session_home(spark_session(tmp_path_factory.mktemp("spark") / "spark"))


@pytest.fixture(scope="session")
def empty_catalog(spark_home: Path) -> Callable[[], object]:
    """Call it for the Spark warehouse with c360's databases dropped (external tables' files stay)."""
    from warehouse.spark_warehouse import SparkWarehouse, spark_session

    def empty():
        wh = SparkWarehouse(spark_session(spark_home))
        for database in C360_DATABASES:
            wh.execute(f"drop database if exists {database} cascade")
        return wh

    return empty
