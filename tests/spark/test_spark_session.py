"""The local Spark session's driver JVM: c360's options and the user's (C360_SPARK_JAVA_OPTIONS) reach it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.spark

SESSION_ARGUMENTS = """
import json, sys
from pathlib import Path
from warehouse.spark_warehouse import spark_session
spark = spark_session(Path(sys.argv[1]))
bean = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
spark.sql("create database if not exists c360_probe")  # the Derby metastore under the root works
assert (Path(sys.argv[1]) / "metastore_db").is_dir()
print(json.dumps(list(bean.getInputArguments())))
"""


def test_the_driver_jvm_gets_the_options_of_the_environment(
    fresh_python, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from warehouse.spark_warehouse import spark_unavailable_reason

    if reason := spark_unavailable_reason():
        pytest.skip(reason)
    options = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=300m"
    monkeypatch.setenv("C360_SPARK_JAVA_OPTIONS", options)
    root = tmp_path / "spark home"  # a space in the path: the Derby option must still reach the JVM whole
    result = fresh_python(SESSION_ARGUMENTS, str(root))
    assert result.returncode == 0, result.stderr[-3000:]
    arguments = json.loads(result.stdout.strip().splitlines()[-1])
    assert f"-Dderby.system.home={root.resolve()}" in arguments
    for option in options.split():
        assert option in arguments
