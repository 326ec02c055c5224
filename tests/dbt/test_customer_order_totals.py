"""The customer totals kept from one run to the next (int_customer_order_totals, macros/customer_state.sql) equal a
full recomputation, day after day.

One chain of runs per engine (DuckDB, PostgreSQL) takes the incremental path wherever it may; a second DuckDB
database gets the same raw rows and is rebuilt from scratch (--full-refresh) for every run. After each run,
int_orders_aggregated_to_customer (what the rest of the project reads) and the totals must be the same on both,
up to the engine differences of table_diff.py. The days cover what moves a customer's totals: new orders on the
as-of date, late updates (a refund, an order re-dated by a year, an order moved to another customer, which leaves
its only customer without orders), days without a new file, a step of several days, a re-run of the same day, a
step too long to follow, a backfill (the as-of date moves back) and a changed rule (a var)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from raw_data import ingested_demo
from table_diff import table_differences

from c360.settings import DBT_PROJECT_DIR
from warehouse import DuckDBWarehouse, connect
from warehouse.engines import Engine, copy_tables, open_engine, run_dbt

MODELS = (
    "stg_shop__orders",
    "int_customer_order_totals",
    "int_orders_aggregated_to_customer",
    "int_purchase_histories_summarized",
)
TOTALS = "int_customer_order_totals"
FIRST = date(2026, 6, 30)
# Columns of the raw orders a delivered row sets (the rest stay null).
RAW_COLUMNS = (
    "order_id",
    "customer_id",
    "order_ts",
    "status",
    "currency",
    "gross_amount",
    "discount_amount",
    "cost_amount",
    "channel",
    "product_category",
    "updated_at",
    "_file_id",
    "_source_file",
    "_source_line",
)


@dataclass(frozen=True)
class Day:
    as_of: date
    incremental: bool  # whether the chain may keep its totals (else the model recomputes every customer)
    delivery: str | None = None  # what the day's file holds (a key of _deliver)
    vars: dict[str, Any] | None = None


DAYS = (
    Day(date(2026, 7, 1), True, "new_and_late"),
    Day(date(2026, 7, 2), True),  # no file: only the windows move
    Day(date(2026, 7, 5), True, "move_only_order"),  # three days at once
    Day(date(2026, 7, 5), True, "redate"),  # the same day again, with a new file
    Day(date(2026, 7, 20), False),  # 15 days: more than the model follows
    Day(date(2026, 6, 15), False, "new_and_late"),  # a backfill
    Day(date(2026, 6, 16), False, vars={"window_days": 60}),  # a changed rule
    Day(date(2026, 6, 17), True, vars={"window_days": 60}),
)


@pytest.fixture(scope="module")
def raw_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingested_demo(tmp_path_factory.mktemp("totals_landing"), orders=3000, seed=5, as_of=FIRST)


def _dbt(eng: Engine, root: Path, as_of: date, extra_vars: dict | None, *flags: str) -> None:
    """MODELS for `as_of` (set as c360 sets it, in C360_AS_OF_DATE: no re-parse of the project)."""
    args = ["run", "--select", *MODELS, *flags]
    if extra_vars:
        args += ["--vars", json.dumps(extra_vars)]
    env = {**eng.env, "C360_AS_OF_DATE": as_of.isoformat()}
    result = run_dbt(args, env=env, project_dir=DBT_PROJECT_DIR, target_path=root / "target")
    failed = [f"{r.node.name}: {r.message}" for r in result.result or () if r.status != "success"]
    assert result.success, (result.exception, failed)


def _compiled(root: Path) -> str:
    (path,) = (root / "target" / "compiled").rglob(f"{TOTALS}.sql")
    return path.read_text()


def _deliver(kind: str, reference: Engine, as_of: date) -> pa.Table:
    """The rows of a new orders file for the day (taken from the reference's raw table, so both sides get the same)."""
    wh = reference.wh
    file_id = wh.query_arrow("select max(_file_id) as n from raw.orders").to_pylist()[0]["n"] + 1
    updated = datetime.combine(as_of, datetime.min.time()) + timedelta(hours=23)
    columns = ", ".join(c for c in RAW_COLUMNS if not c.startswith("_"))
    latest = wh.query_arrow(
        f"select {columns} from (select *, row_number() over (partition by order_id order by "
        "coalesce(updated_at, order_ts) desc, _file_id desc, _source_line desc) as n from raw.orders) as v "
        "where n = 1 order by order_id"
    ).to_pylist()
    completed = [r for r in latest if r["status"] == "completed" and r["order_ts"].date() <= as_of]
    rows: list[dict[str, Any]] = []
    if kind == "new_and_late":
        for i, base in enumerate(completed[:5]):  # new orders on the as-of date, for existing customers
            rows.append({**base, "order_id": f"new-{as_of}-{i}", "order_ts": updated - timedelta(hours=10)})
        rows.append(  # a new customer with one order
            {**completed[5], "order_id": f"only-{as_of}", "customer_id": "only-one", "order_ts": updated}
        )
        for base in completed[10:14]:  # late refunds
            rows.append({**base, "status": "refunded", "updated_at": updated})
    elif kind == "move_only_order":  # the new customer's only order belongs to someone else after all
        (only,) = [r for r in latest if r["customer_id"] == "only-one"]
        rows.append({**only, "customer_id": completed[0]["customer_id"], "updated_at": updated})
    elif kind == "redate":  # an order that was dated a year too late (a typo), and one cancelled
        rows.append(
            {
                **completed[20],
                "order_ts": completed[20]["order_ts"] - timedelta(days=365),
                "updated_at": updated,
            }
        )
        rows.append({**completed[21], "status": "cancelled", "updated_at": updated})
    else:
        raise ValueError(kind)
    for row in rows:
        row["updated_at"] = (
            row["updated_at"] if row["updated_at"] and row["updated_at"] >= updated else updated
        )
    table = [
        {**row, "_file_id": file_id, "_source_file": f"orders/delivery_{file_id}.csv", "_source_line": line}
        for line, row in enumerate(rows, start=1)
    ]
    schema = wh.query_arrow(f"select {', '.join(RAW_COLUMNS)} from raw.orders where 1 = 0").schema
    return pa.Table.from_pylist(table, schema=schema)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def chain(request: pytest.FixtureRequest, raw_db: Path, tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    """The engine whose totals are kept incrementally, with the raw tables of `raw_db`."""
    root = tmp_path / request.param
    root.mkdir()
    pg_dsn = request.getfixturevalue("pg_database") if request.param == "postgres" else None
    if request.param == "duckdb":
        (root / "build.duckdb").write_bytes(raw_db.read_bytes())
    with open_engine(request.param, root, pg_dsn=pg_dsn) as eng:
        if request.param != "duckdb":
            source = connect(raw_db, read_only=True)
            try:
                copy_tables(DuckDBWarehouse(source), eng.wh, [("raw", "orders")])
            finally:
                source.close()
        yield eng, root


def test_kept_totals_equal_a_full_recomputation_day_after_day(chain, raw_db: Path, tmp_path: Path) -> None:
    eng, root = chain
    ref_root = tmp_path / "reference"
    ref_root.mkdir()
    (ref_root / "build.duckdb").write_bytes(raw_db.read_bytes())
    with open_engine("duckdb", ref_root) as reference:
        _dbt(eng, root, FIRST, None)
        _dbt(reference, ref_root, FIRST, None, "--full-refresh")
        partial_days = 0
        for day in DAYS:
            if day.delivery:
                rows = _deliver(day.delivery, reference, day.as_of)
                reference.wh.append_table("raw", "orders", rows)
                eng.wh.append_table("raw", "orders", rows)
            _dbt(eng, root, day.as_of, day.vars)
            assert ("touched as (" in _compiled(root)) is day.incremental, day
            _dbt(reference, ref_root, day.as_of, day.vars, "--full-refresh")
            for model in ("int_orders_aggregated_to_customer", "int_purchase_histories_summarized", TOTALS):
                expected = reference.wh.query_arrow(f"select * from intermediate.{model}")
                kept = " where all_orders is not null" if model == TOTALS else ""  # not the emptied customers
                actual = eng.wh.query_arrow(f"select * from intermediate.{model}{kept}")
                drop = [
                    c
                    for c in ("built_as_of", "orders_file_id", "orders_rules_key", "rules_key")
                    if c in expected.column_names
                ]
                problems = table_differences(expected.drop_columns(drop), actual.drop_columns(drop))
                assert problems == [], (day, model, problems)
            built = eng.wh.query_arrow(
                f"select count(*) as n, count(case when built_as_of = cast('{day.as_of}' as date) then 1 end) as now "
                f"from intermediate.{TOTALS}"
            ).to_pylist()[0]
            if day.incremental:
                partial_days += built["now"] < built["n"]
            else:
                assert built["now"] == built["n"], day
            if day.delivery == "move_only_order":
                # the customer keeps a row without orders, which the models after it read as none
                only = eng.wh.query_arrow(
                    f"select all_orders from intermediate.{TOTALS} where customer_id = 'only-one'"
                ).to_pylist()
                assert only == [{"all_orders": None}]
        # most incremental days recompute only some customers (a step of several days may touch them all)
        assert partial_days >= 3
