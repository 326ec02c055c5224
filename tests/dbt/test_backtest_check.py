"""The backtest check (dbt_project/tests/generic/backtest_error_within_threshold.sql) on a hand-made model_backtest
in a DuckDB build database: where exactly it fires, that it warns by default, and that it blocks when told to."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from c360.settings import DBT_PROJECT_DIR
from warehouse.engines import Engine, open_engine, run_dbt

AS_OF = date(2026, 6, 30)
LIMIT = 0.25  # backtest_max_relative_error: exact in binary, so "exactly on the threshold" is exact


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    root = tmp_path_factory.mktemp("backtest_check")
    with open_engine("duckdb", root) as eng:
        eng.wh.execute("create schema if not exists main")
        yield eng


def _check(
    engine: Engine, total: dict, *, blocking: bool = False, earlier: dict | None = None
) -> dict[str, str]:
    """Writes model_backtest with this run's total row (and an earlier run's, if given), runs both declarations of
    the check and returns their statuses: {'warning': ..., 'blocking': ...}."""
    rows = [{"as_of_date": AS_OF, **total}]
    if earlier:
        rows.append({"as_of_date": date(2026, 6, 29), **earlier})
    table = pa.Table.from_pylist(
        [{"frequency_bucket": "total", **row} for row in rows],
        schema=pa.schema(
            [
                ("frequency_bucket", pa.string()),
                ("as_of_date", pa.date32()),
                ("predicted_purchases", pa.float64()),
                ("actual_purchases", pa.int64()),
                ("predicted_avg_spend", pa.float64()),
                ("actual_avg_spend", pa.float64()),
            ]
        ),
    )
    engine.wh.write_table("main", "model_backtest", table)
    variables = {
        "as_of_date": AS_OF.isoformat(),
        "backtest_max_relative_error": LIMIT,
        "backtest_check_blocking": blocking,
    }
    outcome = run_dbt(
        ["test", "--select", "test_name:backtest_error_within_threshold", "--vars", json.dumps(variables)],
        env=engine.env,
        project_dir=DBT_PROJECT_DIR,
        target_path=Path(engine.env["C360_BUILD_DB"]).parent / "target",
    )
    statuses = {}
    for result in outcome.result.results:
        blocking_only = result.node.test_metadata.kwargs.get("blocking_only", False)
        statuses["blocking" if blocking_only else "warning"] = str(result.status)
    return statuses


PASSED = {"warning": "pass", "blocking": "pass"}
WARNED = {"warning": "warn", "blocking": "pass"}
BLOCKED = {"warning": "warn", "blocking": "fail"}


def _total(
    predicted: float, actual: int, predicted_spend: float | None = 50.0, actual_spend: float | None = 50.0
):
    return {
        "predicted_purchases": predicted,
        "actual_purchases": actual,
        "predicted_avg_spend": predicted_spend,
        "actual_avg_spend": actual_spend,
    }


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        pytest.param(_total(125.0, 100), PASSED, id="purchases-25%-over-exactly-on-the-limit"),
        pytest.param(_total(75.0, 100), PASSED, id="purchases-25%-under-exactly-on-the-limit"),
        pytest.param(_total(125.5, 100), WARNED, id="purchases-just-over-the-limit"),
        pytest.param(_total(74.5, 100), WARNED, id="purchases-just-under-the-limit"),
        pytest.param(_total(100.0, 100, 50.0, 40.0), PASSED, id="spend-exactly-on-the-limit"),
        pytest.param(_total(100.0, 100, 50.5, 40.0), WARNED, id="spend-just-over-the-limit"),
        pytest.param(_total(3.0, 0, 50.0, None), PASSED, id="no-holdout-purchase-nothing-to-compare"),
        pytest.param(_total(100.0, 100, None, None), PASSED, id="no-spend-prediction"),
    ],
)
def test_the_check_fires_only_beyond_the_limit_and_warns_by_default(engine: Engine, total, expected) -> None:
    assert _check(engine, total) == expected


def test_an_earlier_run_off_the_mark_does_not_count(engine: Engine) -> None:
    assert _check(engine, _total(100.0, 100), earlier=_total(500.0, 100)) == PASSED


def test_the_check_blocks_when_backtest_check_blocking_is_set(engine: Engine) -> None:
    assert _check(engine, _total(125.5, 100), blocking=True) == BLOCKED
    assert _check(engine, _total(125.0, 100), blocking=True) == PASSED
