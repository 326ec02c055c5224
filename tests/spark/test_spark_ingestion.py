"""Ingestion into Spark: the DuckDB loader's rules through a staging database, the rows appended to Spark's
raw tables. The same landing corpus (every format, bad rows, bad files) gives on Spark the rows, quarantine rows
and log rows it gives on DuckDB; a second call loads nothing; a re-delivered file is skipped; rows a killed run
appended without their log rows are removed and their file loaded again."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from ingestion.contracts import SOURCES
from ingestion.loader import SourceLoadResult, ingest_source
from ingestion.warehouse_sink import ingest_into
from tests.dbt.table_diff import table_differences
from warehouse import DuckDBWarehouse, Warehouse

pytestmark = pytest.mark.spark

CORPUS = Path(__file__).parents[1] / "ingestion" / "corpus"
# Wall-clock columns: when a row was loaded or logged (the two engines load at different moments).
LOADED_AT = {
    "orders": ["_loaded_at"],
    "contacts": ["_loaded_at"],
    "survey_responses": ["_loaded_at"],
    "quarantine": ["quarantined_at"],
    "ingestion_log": ["started_at", "finished_at"],
}
NEW_ORDERS = (
    "order_id,customer_id,order_ts,status,currency,gross_amount,discount_amount,cost_amount,channel,"
    "product_category,updated_at\n"
    "N-1,C1,2025-05-01T10:00:00Z,completed,EUR,10.00,0,0,online,cat,\n"
    "N-2,C2,2025-05-01T10:00:00Z,shipped,EUR,10.00,0,0,online,cat,\n"
    "N-3,C3,2025-05-01T10:00:00Z,completed,EUR,12.00,0,0,online,cat,\n"
)


def _landing(root: Path) -> Path:
    landing = root / "landing"
    for source in SOURCES:
        shutil.copytree(CORPUS / source, landing / source)
    return landing


def _table(wh: Warehouse, name: str) -> pa.Table:
    text = ", cast(_extra as varchar) as _extra" if name in SOURCES and wh.engine == "duckdb" else ""
    exclude = ", ".join(LOADED_AT[name] + (["_extra"] if text else []))
    return wh.query_arrow(
        f"select * exclude ({exclude}){text} from raw.{name}"
        if wh.engine == "duckdb"
        else f"select * except ({exclude}) from raw.{name}"
    )


def _outcomes(results: dict[str, SourceLoadResult]) -> dict[str, tuple]:
    return {
        f.path: (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined, f.file_id, f.error)
        for result in results.values()
        for f in result.files
    }


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _landing(tmp_path_factory.mktemp("landing"))


@pytest.fixture(scope="module")
def on_duckdb(landing: Path, tmp_path_factory: pytest.TempPathFactory):
    con = duckdb.connect(str(tmp_path_factory.mktemp("duckdb") / "build.duckdb"))
    results = {source: ingest_source(con, source, landing) for source in SOURCES}
    yield DuckDBWarehouse(con), results
    con.close()


@pytest.fixture(scope="module")
def on_spark(landing: Path, empty_catalog: Callable[[], Warehouse], tmp_path_factory: pytest.TempPathFactory):
    wh = empty_catalog()
    staging = tmp_path_factory.mktemp("staging")
    results = {source: ingest_into(wh, source, landing, staging_dir=staging) for source in SOURCES}
    assert list(staging.iterdir()) == []  # the staging database is gone once the rows are in Spark
    return wh, results


def test_spark_gets_the_rows_duckdb_gets(on_duckdb, on_spark) -> None:
    (duck, duck_results), (spark, spark_results) = on_duckdb, on_spark
    assert _outcomes(spark_results) == _outcomes(duck_results)
    statuses = {status for status, *_ in _outcomes(spark_results).values()}
    assert {"loaded", "failed", "ignored"} <= statuses  # the corpus exercises every path
    assert sum(r.rows_quarantined for r in spark_results.values()) > 0
    for name in (*SOURCES, "quarantine", "ingestion_log"):
        expected, actual = _table(duck, name), _table(spark, name)
        assert expected.num_rows == actual.num_rows, name
        assert table_differences(expected, actual) == [], name


def test_a_second_call_loads_nothing(on_spark, landing: Path) -> None:
    spark, _ = on_spark
    before = {name: spark.row_count("raw", name) for name in (*SOURCES, "quarantine")}
    again = {source: ingest_into(spark, source, landing) for source in SOURCES}
    assert sum(r.rows_loaded + r.rows_quarantined for r in again.values()) == 0
    assert not any(r.new_files for r in again.values())
    assert {name: spark.row_count("raw", name) for name in before} == before


def test_a_redelivered_file_is_skipped(on_spark, landing: Path) -> None:
    spark, _ = on_spark
    before = spark.row_count("raw", "orders")
    shutil.copy(landing / "orders" / "orders_10.jsonl", landing / "orders" / "orders_10_again.jsonl")
    (result,) = [f for f in ingest_into(spark, "orders", landing).files if f.path.endswith("_again.jsonl")]
    assert result.status == "skipped" and "same content as orders/orders_10.jsonl" in (result.error or "")
    assert spark.row_count("raw", "orders") == before
    logged = spark.query_arrow(
        "select status from raw.ingestion_log where file = 'orders/orders_10_again.jsonl'"
    ).column(0)
    assert logged.to_pylist() == ["skipped"]


def test_rows_a_killed_run_appended_without_their_log_are_removed(on_spark, landing: Path) -> None:
    """A run killed between the appends leaves raw and quarantine rows of a file the log does not know; the next
    call removes them (Parquet: by rewriting the tables) and loads the file again, once."""
    spark, _ = on_spark
    orders, quarantined = spark.row_count("raw", "orders"), spark.row_count("raw", "quarantine")
    newest = spark.query_arrow("select max(file_id) from raw.ingestion_log").column(0)[0].as_py()
    (landing / "orders" / "orders_20_new.csv").write_text(NEW_ORDERS)
    # what the killed run had appended for that file: rows under the next file id, and no log row
    for name, rows in (("orders", 3), ("quarantine", 2)):
        ghost = spark.query_arrow(f"select * from raw.{name} limit {rows}")
        index = ghost.column_names.index("_file_id")
        spark.append_table(
            "raw", name, ghost.set_column(index, "_file_id", pa.array([newest + 1] * rows, pa.int64()))
        )
    messages: list[str] = []

    result = ingest_into(spark, "orders", landing, progress=messages.append)

    (new,) = result.new_files
    assert new.path == "orders/orders_20_new.csv" and new.file_id > newest
    assert (new.rows_loaded, new.rows_quarantined) == (2, 1)
    assert spark.row_count("raw", "orders") == orders + 2
    assert spark.row_count("raw", "quarantine") == quarantined + 1
    loaded = spark.query_arrow(f"select order_id from raw.orders where _file_id > {newest} order by 1")
    assert loaded.column(0).to_pylist() == ["N-1", "N-3"]  # the ghost rows are gone, the new file's rows came
    assert any("removed 3 rows of raw.orders" in m for m in messages), messages
    assert any("removed 2 rows of raw.quarantine" in m for m in messages), messages
