"""The event log storage c360 configures: Dagster's SQLite files, written and read as Dagster's own storage does."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from c360 import cli
from orchestration import dagster_storage
from orchestration.dagster_storage import ReusingSqliteEventLogStorage


@dg.asset
def numbers() -> list[int]:
    return [1, 2, 3]


@dg.asset_check(asset=numbers)
def numbers_are_positive(numbers: list[int]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=all(n > 0 for n in numbers))


_CHECK = dg.AssetCheckKey(dg.AssetKey("numbers"), "numbers_are_positive")


def _instance(home: Path) -> dg.DagsterInstance:
    cli.write_dagster_yaml(home / "dagster.yaml")
    return dg.DagsterInstance.from_config(str(home))


def _materialize(instance: dg.DagsterInstance, times: int) -> None:
    for _ in range(times):
        result = dg.materialize([numbers, numbers_are_positive], instance=instance)
        assert result.success


def _counts(instance: dg.DagsterInstance) -> tuple[int, int]:
    materializations = instance.fetch_materializations(dg.AssetKey("numbers"), limit=100).records
    checks = instance.event_log_storage.get_asset_check_execution_history(_CHECK, limit=100)
    return len(materializations), len(checks)


def test_a_c360_home_stores_its_events_through_the_reusing_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dagster_storage, "MAX_ENGINES", 3)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with _instance(tmp_path) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, ReusingSqliteEventLogStorage)
        _materialize(instance, 1)
        index_engine = storage._engines["index"]
        _materialize(instance, 4)  # five runs: five run shards plus the index, more than the engines kept
        assert _counts(instance) == (5, 5)
        assert len(storage._engines) <= 3
        assert storage._engines["index"] is index_engine  # the most used engine stays and is reused
        runs = instance.get_run_records()
        assert len(runs) == 5 and all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        # an evicted run shard is opened again when read
        oldest = runs[-1].dagster_run.run_id
        assert oldest not in storage._engines
        assert any(e.dagster_event_type == dg.DagsterEventType.RUN_SUCCESS for e in instance.all_logs(oldest))


# A process with Dagster's own storage over the same files: it reads what the reusing storage wrote, and what it
# writes is then read by the reusing storage, whose engines are still open in the test process.
_OTHER_PROCESS = """
import json, sys
import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

@dg.asset
def numbers():
    return [1, 2, 3]

@dg.asset_check(asset=numbers)
def numbers_are_positive(numbers):
    return dg.AssetCheckResult(passed=all(n > 0 for n in numbers))

home = sys.argv[1]
with dg.DagsterInstance.from_config(home) as instance:
    storage = instance.event_log_storage
    before = len(instance.fetch_materializations(dg.AssetKey("numbers"), limit=100).records)
    assert dg.materialize([numbers, numbers_are_positive], instance=instance).success
    print(json.dumps({"storage": type(storage).__name__, "before": before}))
"""


def test_dagsters_own_storage_and_the_reusing_one_read_each_others_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_python: Callable
) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir()
    theirs.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(ours))
    # the other home's configuration points at the same run and event files, with Dagster's default classes
    (theirs / "dagster.yaml").write_text(
        "run_storage:\n  module: dagster._core.storage.runs\n  class: SqliteRunStorage\n"
        f"  config:\n    base_dir: {ours / 'history'}\n"
        "event_log_storage:\n  module: dagster._core.storage.event_log\n  class: SqliteEventLogStorage\n"
        f"  config:\n    base_dir: {ours / 'history' / 'runs'}\n"
        "schedule_storage:\n  module: dagster._core.storage.schedules\n  class: SqliteScheduleStorage\n"
        f"  config:\n    base_dir: {ours / 'schedules'}\n"
        "telemetry:\n  enabled: false\n"
    )
    with _instance(ours) as instance:
        _materialize(instance, 2)
        completed = fresh_python(_OTHER_PROCESS, str(theirs))
        assert completed.returncode == 0, completed.stderr[-3000:]
        seen = json.loads(completed.stdout.strip().splitlines()[-1])
        assert seen == {"storage": "SqliteEventLogStorage", "before": 2}
        assert _counts(instance) == (3, 3)  # the other process's run, through engines opened before it ran
        _materialize(instance, 1)
        assert _counts(instance) == (4, 4)


def test_dagster_yaml_is_written_when_missing_or_as_an_earlier_c360_wrote_it(tmp_path: Path) -> None:
    path = tmp_path / "dagster.yaml"
    assert cli.write_dagster_yaml(path)
    assert "class: ReusingSqliteEventLogStorage" in path.read_text()

    # what c360 wrote before this storage: the same file without the block and with the old first line
    current = cli.DAGSTER_YAML
    earlier = current[: current.index("# Dagster's SQLite event log")].replace(
        "# Written by c360 (edit freely: c360 writes this file only when it is missing, or when it still holds "
        "exactly\n# what an earlier version of c360 wrote).",
        "# Written by c360 (edit freely: c360 only writes this file when it is missing).",
    )
    assert hashlib.sha256(earlier.encode()).hexdigest() in cli._EARLIER_DAGSTER_YAMLS
    path.write_text(earlier)
    assert cli.write_dagster_yaml(path)
    assert path.read_text() == current

    edited = earlier.replace("max_concurrent_runs: 1", "max_concurrent_runs: 2")
    path.write_text(edited)
    assert not cli.write_dagster_yaml(path)
    assert path.read_text() == edited


def test_the_storage_needs_a_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with pytest.raises(ValueError, match="base_dir .* or DAGSTER_HOME"):
        ReusingSqliteEventLogStorage()
