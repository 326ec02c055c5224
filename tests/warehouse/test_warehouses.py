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


@pytest.fixture(scope="session")
def spark_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this process's Spark session keeps its tables and metastore, if these tests start it: a folder that
    lives as long as the session (a test's own tmp_path is deleted when the test passes)."""
    return tmp_path_factory.mktemp("spark") / "spark"


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
        yield from ((wh, schema) for wh in _spark(schema, request.getfixturevalue("spark_root")))


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


def test_appended_rows_join_the_table_by_column_name(wh_and_schema: tuple[Warehouse, str]) -> None:
    wh, schema = wh_and_schema
    wh.append_table(schema, "log", SAMPLE.slice(0, 1))  # created from the first rows' types
    reordered = SAMPLE.slice(1).select(list(reversed(SAMPLE.column_names)))
    wh.append_table(schema, "log", reordered)
    wh.append_table(schema, "log", SAMPLE.slice(0, 0))  # nothing to add: nothing changes
    back = wh.query_arrow(f"select * from {schema}.log order by id")
    assert back.column("id").to_pylist() == [1, 2, 3]
    assert back.column("name").to_pylist() == ["Jürgen", "", None]
    assert [name for name, _ in wh.columns(schema, "log")] == SAMPLE.column_names
    assert wh.columns(schema, "missing") == []


def test_rows_are_deleted_by_a_condition_nulls_kept(wh_and_schema: tuple[Warehouse, str]) -> None:
    wh, schema = wh_and_schema
    wh.write_table(schema, "sample", SAMPLE)
    wh.delete_where(schema, "sample", "score > 8")  # NULL for id 1: kept, as SQL's DELETE keeps it
    assert wh.query_arrow(f"select id from {schema}.sample order by id").column(0).to_pylist() == [1, 2]
    for leftover in ("sample__c360_keep", "sample__c360_old"):
        assert not wh.table_exists(schema, leftover)


def test_the_checksum_follows_the_content_not_the_order(wh_and_schema: tuple[Warehouse, str]) -> None:
    wh, schema = wh_and_schema
    wh.write_table(schema, "a", SAMPLE)
    wh.write_table(schema, "b", SAMPLE.take([2, 0, 1]))
    wh.write_table(schema, "c", SAMPLE.slice(0, 2))
    assert wh.table_checksum(schema, "a") == wh.table_checksum(schema, "b")
    assert wh.table_checksum(schema, "a") != wh.table_checksum(schema, "c")


def test_a_query_exported_to_one_parquet_file(wh_and_schema: tuple[Warehouse, str], tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    wh, schema = wh_and_schema
    wh.write_table(schema, "sample", SAMPLE)
    folder = tmp_path / "published"
    folder.mkdir()
    target = folder / "sample.parquet"
    wh.export_parquet(f"select * from {schema}.sample where id > 1", target)
    back = pq.read_table(target).sort_by("id")
    assert back.column("id").to_pylist() == [2, 3]
    assert back.column("amount").to_pylist() == [None, Decimal("0.05")]
    # timestamps as the UTC wall clock without a time zone, whatever the engine keeps
    assert back.schema.field("at").type.tz is None
    assert back.column("at").to_pylist() == [None, dt.datetime(2020, 1, 1)]
    assert [p.name for p in folder.iterdir()] == ["sample.parquet"]  # no part files left behind
    wh.export_parquet(f"select * from {schema}.sample where id > 5", folder / "empty.parquet")
    empty = pq.read_table(folder / "empty.parquet")
    assert empty.num_rows == 0 and empty.column_names == SAMPLE.column_names


def test_parquet_files_of_a_folder_attached_as_a_relation(
    wh_and_schema: tuple[Warehouse, str], tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    wh, schema = wh_and_schema
    if wh.engine == "postgres":
        with pytest.raises(NotImplementedError, match="cannot read Parquet"):
            wh.attach_parquet(schema, "stored", tmp_path)
        return
    folder = tmp_path / "stored"
    folder.mkdir()
    pq.write_table(SAMPLE.slice(0, 2), folder / "2026-06-29.parquet")
    pq.write_table(SAMPLE.slice(2).drop_columns(["share"]), folder / "2026-06-30.parquet")  # a column less
    assert wh.attach_parquet(schema, "stored", folder) == 2
    back = wh.query_arrow(f"select id, share from {schema}.stored order by id")
    assert back.column("id").to_pylist() == [1, 2, 3]
    assert back.column("share").to_pylist() == [0.125, None, None]
    assert wh.attach_parquet(schema, "stored", None) == 0
    assert not wh.table_exists(schema, "stored")
    assert sorted(p.name for p in folder.iterdir()) == ["2026-06-29.parquet", "2026-06-30.parquet"]
