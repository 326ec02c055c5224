"""The pooled SQLite event log storage (orchestration/dagster_storage.py) on a real Dagster instance."""

import dagster as dg
from sqlalchemy import event
from sqlalchemy.engine import Engine

from c360.cli import DAGSTER_YAML

CHECKS = 12


@dg.asset(check_specs=[dg.AssetCheckSpec(f"check_{i}", asset="numbers") for i in range(CHECKS)])
def numbers():
    yield dg.Output(3)
    for i in range(CHECKS):
        yield dg.AssetCheckResult(check_name=f"check_{i}", passed=i != 0, metadata={"i": i})


def test_check_results_are_stored_without_a_new_connection_per_event(tmp_path):
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML.format(storage_dir=home / "storage"))
    opened: list[str] = []  # database file of every new SQLite connection

    def count(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        opened.append(cursor.execute("pragma database_list").fetchall()[0][2])
        cursor.close()

    event.listen(Engine, "connect", count)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert type(instance.event_log_storage).__name__ == "PooledSqliteEventLogStorage"
            result = dg.materialize([numbers], instance=instance)
            assert result.success
            index_db = str(home / "storage" / "index.db")
            opened_on_index = opened.count(index_db)

            evaluations = result.get_asset_check_evaluations()
            assert len(evaluations) == CHECKS
            records = {
                i: instance.event_log_storage.get_latest_asset_check_execution_by_key(
                    [dg.AssetCheckKey(dg.AssetKey("numbers"), f"check_{i}")]
                )
                for i in range(CHECKS)
            }
    finally:
        event.remove(Engine, "connect", count)

    # every result reached the check-executions table of the index database, with its outcome
    for i, by_key in records.items():
        (record,) = by_key.values()
        assert record.run_id == result.run_id
        assert record.event.dagster_event.event_specific_data.passed is (i != 0)
    # the stock storage opens a new connection to the index database for every stored check result (to ask
    # whether the check-executions table exists)
    assert 0 < opened_on_index < CHECKS, opened
