"""The warehouse interface behaves the same on DuckDB, PostgreSQL and Spark: tables written from Arrow keep their
types and values, are replaced on a second write, and are counted and found."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from warehouse import DuckDBWarehouse, Warehouse, check_identifier

SAMPLE = pa.table(
    {
        "id": pa.array([1, 2, 3], pa.int64()),
        "score": pa.array([None, 7, 10], pa.int32()),
        "amount": pa.array([Decimal("97.20"), None, Decimal("0.05")], pa.decimal128(18, 2)),
        "share": pa.array([0.125, None, 1e-300], pa.float64()),
        "name": pa.array(["Jürgen", "", None], pa.string()),
        "is_active": pa.array([True, False, None], pa.bool_()),
        "day": pa.array([dt.date(2026, 6, 30), None, dt.date(2024, 2, 29)], pa.date32()),
        "at": pa.array(
            [dt.datetime(2026, 6, 30, 23, 59, 59), None, dt.datetime(2020, 1, 1)], pa.timestamp("us")
        ),
    }
)


def _pg(schema: str) -> Iterator[Warehouse]:
    dsn = os.environ.get("C360_TEST_PG_DSN")
    if not dsn:
        pytest.skip("no PostgreSQL server: set C360_TEST_PG_DSN (.ci/postgres.sh does)")
    from warehouse.postgres_warehouse import PostgresWarehouse

    wh = PostgresWarehouse(dsn)
    try:
        yield wh
    finally:
        wh.execute(f"drop schema if exists {schema} cascade")
        wh.close()


def _spark(schema: str, root: Path) -> Iterator[Warehouse]:
    from warehouse.spark_warehouse import SparkWarehouse, spark_session, spark_unavailable_reason

    reason = spark_unavailable_reason()
    if reason:
        pytest.skip(reason)
    wh = SparkWarehouse(spark_session(root))
    try:
        yield wh
    finally:
        wh.execute(f"drop database if exists {schema} cascade")


@pytest.fixture(params=["duckdb", "postgres", "spark"])
def wh_and_schema(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Warehouse, str]]:
    schema = f"wh_test_{uuid.uuid4().hex[:8]}"
    if request.param == "duckdb":
        wh = DuckDBWarehouse(tmp_path / "test.duckdb")
        yield wh, schema
        wh.close()
    elif request.param == "postgres":
        yield from ((wh, schema) for wh in _pg(schema))
    else:
        yield from ((wh, schema) for wh in _spark(schema, tmp_path / "spark"))


def test_a_written_table_reads_back_with_its_types_and_values(wh_and_schema: tuple[Warehouse, str]) -> None:
    wh, schema = wh_and_schema
    assert isinstance(wh, Warehouse)
    assert not wh.table_exists(schema, "sample")
    wh.write_table(schema, "sample", SAMPLE)
    assert wh.table_exists(schema, "sample")
    assert wh.row_count(schema, "sample") == 3
    back = wh.query_arrow(f"select * from {schema}.sample order by id")
    assert back.column_names == SAMPLE.column_names
    for name in ("id", "score", "amount", "name", "is_active", "day"):
        assert back.column(name).to_pylist() == SAMPLE.column(name).to_pylist(), name
    assert back.column("share").to_pylist() == [0.125, None, 1e-300]
    times = [t.replace(tzinfo=None) if t is not None else None for t in back.column("at").to_pylist()]
    assert times == SAMPLE.column("at").to_pylist()  # the same UTC wall clock on every engine
    assert pa.types.is_decimal(back.schema.field("amount").type)
    assert pa.types.is_integer(back.schema.field("score").type)  # nullable integers stay integers


def test_a_second_write_replaces_the_table(wh_and_schema: tuple[Warehouse, str]) -> None:
    wh, schema = wh_and_schema
    wh.write_table(schema, "sample", SAMPLE)
    wh.write_table(schema, "sample", pa.table({"only": pa.array(["x"], pa.string())}))
    assert wh.row_count(schema, "sample") == 1
    assert list(wh.query(f"select * from {schema}.sample").columns) == ["only"]


def test_names_that_are_not_plain_identifiers_are_refused(wh_and_schema: tuple[Warehouse, str]) -> None:
    wh, schema = wh_and_schema
    with pytest.raises(ValueError, match="not a plain SQL identifier"):
        wh.write_table(schema, "x; drop table y", SAMPLE)
    with pytest.raises(ValueError, match="not a plain SQL identifier"):
        check_identifier("raw.orders")
