"""The whole pipeline on Spark (C360_DBT_TARGET=spark, local[2]): the end-to-end core cases, and the published
tables of a Spark run equal those of a DuckDB run on the same landing files.

One home runs on Spark, in this order: the first run publishes (a file of bad rows among the demo files is
quarantined); the same date again, with a file delivered a second time under another name, publishes the same
tables; a run held back by the quality gate changes nothing published. Another home runs the same landing files
on DuckDB. (The tests use the module's runs in file order.)
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.dbt.table_diff import table_differences
from tests.e2e.e2e_helpers import AS_OF, c360_env, generate, published, published_fingerprints, run

pytestmark = [pytest.mark.spark, pytest.mark.e2e]

# Two orders that break the contract (an unknown status; an amount that is not a number): quarantined, the
# rest of the run goes on (2 rows are far below the quarantine share that fails the input contract).
BAD_ROWS = (
    "order_id,customer_id,order_ts,status,currency,gross_amount,discount_amount,cost_amount,channel,"
    "product_category,updated_at\n"
    "BAD-1,CUST-000001,2026-06-29T10:00:00Z,shipped,USD,10.00,0,5,online,books,\n"
    "BAD-2,CUST-000001,2026-06-29T11:00:00Z,completed,USD,ten,0,5,online,books,\n"
)
BAD_FILE = "orders/orders_bad_rows.csv"


@dataclass
class Homes:
    spark: Path
    duckdb: Path
    spark_exit: int
    duckdb_exit: int
    first: dict[str, tuple[int, str]]  # the Spark home's published tables after its first run
    pg_schema: str | None  # where the first Spark run also published to PostgreSQL (C360_TEST_PG_DSN set)


def _log(home: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((home / "state" / "log").glob("*.json"))]


def _versions(home: Path) -> list[str]:
    return sorted(
        p.name for p in (home / "publications").iterdir() if p.is_dir() and not p.name.startswith(".")
    )


def _spark_env(home: Path, spark_home: Path):
    return c360_env(home, C360_DBT_TARGET="spark", C360_SPARK_HOME=str(spark_home))


@pytest.fixture(scope="module")
def homes(
    tmp_path_factory: pytest.TempPathFactory, spark_home: Path, empty_catalog: Callable[[], object]
) -> Iterator[Homes]:
    root = tmp_path_factory.mktemp("spark_e2e")
    template = root / "template"
    generate(template, orders=4_000, seed=23)
    (template / "landing" / BAD_FILE).write_text(BAD_ROWS)
    paths = {}
    for name in ("spark", "duckdb"):
        paths[name] = root / name
        shutil.copytree(template / "landing", paths[name] / "landing")
        (paths[name] / ".c360-demo-home").write_text("demo\n")
    with c360_env(paths["duckdb"], C360_DBT_TARGET="duckdb"):
        duckdb_exit = run()
    empty_catalog()
    pg_dsn = os.environ.get("C360_TEST_PG_DSN")
    pg_schema = f"c360_spark_{uuid.uuid4().hex[:8]}" if pg_dsn else None
    pg = {"C360_PG_DSN": pg_dsn, "C360_PG_SCHEMA": pg_schema, "C360_PG_READER_ROLE": "c360_e2e_reader"}
    with c360_env(
        paths["spark"],
        C360_DBT_TARGET="spark",
        C360_SPARK_HOME=str(spark_home),
        **(pg if pg_dsn else {}),
    ):
        spark_exit = run()
    first = published_fingerprints(paths["spark"]) if spark_exit == 0 else {}
    yield Homes(paths["spark"], paths["duckdb"], spark_exit, duckdb_exit, first, pg_schema)
    if pg_schema:
        import psycopg

        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f'drop schema if exists "{pg_schema}" cascade')


def test_a_spark_run_publishes_every_table(homes: Homes) -> None:
    assert homes.duckdb_exit == 0
    assert homes.spark_exit == 0
    con = published(homes.spark)
    tables = {t for (t,) in con.sql("select table_name from information_schema.tables").fetchall()}
    assert {"customer_360", "customer_tier_history", "bgnbd_fit_history", "publication_log"} <= tables
    for table in tables:  # one Parquet file per table, with the DuckDB file's rows
        parquet = homes.spark / "published" / f"{table}.parquet"
        in_parquet = duckdb.sql(f"select count(*) from read_parquet('{parquet}')").fetchone()[0]
        assert con.sql(f"select count(*) from {table}").fetchone()[0] == in_parquet, table
    status, failed, passed = con.sql(
        "select status, checks_failed, checks_passed from publication_log order by logged_at desc limit 1"
    ).fetchone()
    assert status == "published" and failed == 0 and passed > 90  # dbt tests and GX suites ran on Spark
    # the state store of the version holds this run's rows, written from Spark
    version = (homes.spark / "published").resolve().parent
    assert (version / "state" / "customer_states_daily" / f"{AS_OF}.parquet").is_file()
    description = con.sql("select comment from duckdb_tables() where table_name = 'customer_360'").fetchone()[
        0
    ]
    assert description  # the dbt descriptions reach BI tools from a Spark build too


def test_a_spark_run_publishes_to_postgresql(homes: Homes) -> None:
    """With C360_PG_DSN set, the Spark run's publication reaches PostgreSQL: every table, the same rows."""
    if not homes.pg_schema:
        pytest.skip("no PostgreSQL server: set C360_TEST_PG_DSN (.ci/run starts one)")
    import psycopg

    assert homes.spark_exit == 0
    duck = published(homes.spark)
    tables = [t for (t,) in duck.sql("select table_name from information_schema.tables").fetchall()]
    with psycopg.connect(os.environ["C360_TEST_PG_DSN"]) as pg:
        for table in tables:
            expected = duck.sql(f"select count(*) from {table}").fetchone()[0]
            got = pg.execute(f'select count(*) from "{homes.pg_schema}"."{table}"').fetchone()[0]
            assert got == expected, table


def test_the_published_tables_equal_the_duckdb_runs(homes: Homes) -> None:
    spark, duck = published(homes.spark), published(homes.duckdb)
    names = [
        t
        for (t,) in duck.sql("select table_name from information_schema.tables order by 1").fetchall()
        if t != "publication_log"
    ]
    assert len(names) >= 15
    differences = {}
    for name in names:
        expected = duck.sql(f"select * from {name}").to_arrow_table()
        actual = spark.sql(f"select * from {name}").to_arrow_table()
        if found := table_differences(expected, actual):
            differences[name] = found
    assert differences == {}
    customers = duck.sql("select count(*) from customer_360").fetchone()[0]
    assert customers > 100


def test_bad_rows_are_quarantined_on_spark_as_on_duckdb(homes: Homes, spark_home: Path) -> None:
    from warehouse.spark_warehouse import SparkWarehouse, spark_session

    spark = SparkWarehouse(spark_session(spark_home))
    query = (
        "select line, column_name, reason from raw.quarantine "
        f"where file = '{BAD_FILE}' order by line, column_name"
    )
    on_spark = [tuple(row.values()) for row in spark.query_arrow(query).to_pylist()]
    con = duckdb.connect(str(homes.duckdb / "warehouse" / "build.duckdb"), read_only=True)
    try:
        on_duckdb = con.sql(query).fetchall()
    finally:
        con.close()
    assert on_spark == on_duckdb
    assert [(line, column) for line, column, _ in on_spark] == [(2, "status"), (3, "gross_amount")]
    (logged,) = spark.query_arrow(
        f"select status, rows_read, rows_loaded, rows_quarantined from raw.ingestion_log where file = '{BAD_FILE}'"
    ).to_pylist()
    assert logged == {"status": "loaded", "rows_read": 2, "rows_loaded": 0, "rows_quarantined": 2}
    orders = spark.query_arrow("select count(*) as n from raw.orders where order_id like 'BAD-%'").to_pylist()
    assert orders == [{"n": 0}]


def test_the_same_date_again_publishes_the_same_tables(homes: Homes, spark_home: Path) -> None:
    """Run again for the same as-of date, with one landing file delivered a second time under another name: the
    file is skipped (same content), the published tables are the first run's, every check ran again."""
    orders = homes.spark / "landing" / "orders"
    first_file = sorted(p for p in orders.iterdir() if p.suffix == ".csv" and p.name != Path(BAD_FILE).name)[
        0
    ]
    shutil.copy(first_file, orders / f"again_{first_file.name}")
    with _spark_env(homes.spark, spark_home):
        assert run() == 0
    assert published_fingerprints(homes.spark) == homes.first
    published_runs = [e for e in _log(homes.spark) if e["status"] == "published"]
    assert len(published_runs) == 2
    assert published_runs[0]["checks_passed"] == published_runs[1]["checks_passed"]
    from warehouse.spark_warehouse import SparkWarehouse, spark_session

    spark = SparkWarehouse(spark_session(spark_home))
    (logged,) = spark.query_arrow(
        f"select status from raw.ingestion_log where file = 'orders/again_{first_file.name}'"
    ).to_pylist()
    assert logged == {"status": "skipped"}


def test_a_held_back_run_changes_nothing_published(homes: Homes, spark_home: Path) -> None:
    """The vip share of customer_360 outside the GX band (a var override): the run exits 1, nothing moves."""
    versions = _versions(homes.spark)
    with _spark_env(homes.spark, spark_home):
        code = run(tier_vip_top_share=0.3, tier_high_top_share=0.4, tier_medium_top_share=0.6)
    assert code == 1
    assert published_fingerprints(homes.spark) == homes.first
    last = _log(homes.spark)[-1]
    assert last["status"] == "held_back"
    assert "vip_share" in json.dumps(last["checks"])
    assert _versions(homes.spark) == versions  # no version was added
