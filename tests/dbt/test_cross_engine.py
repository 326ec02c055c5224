"""One dbt project, three engines, the same tables.

The same generated landing data is ingested into DuckDB (the default engine, ingestion.loader), its raw tables
are copied into PostgreSQL and into local Spark (Parquet tables), and on each engine dbt builds the fit step's
upstream, the BG/NBD fit step runs (orchestration/bgnbd.py), and dbt builds the rest. Every model, data test and
unit test must pass on each engine, and every model's table must equal DuckDB's up to the tolerated differences
written in table_diff.py. Size: C360_CROSS_ENGINE_ORDERS orders (docs/engines.md has the timings).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from table_diff import table_differences

from analytics.bgnbd import fit_bgnbd, p_alive
from c360.settings import DBT_PROJECT_DIR
from demo.generator import generate_demo_data
from ingestion.loader import SOURCES, ingest_source
from orchestration.bgnbd import run_bgnbd_fit
from warehouse import connect
from warehouse.engines import built_from_raw, open_engine, run_dbt

ORDERS = int(os.environ.get("C360_CROSS_ENGINE_ORDERS", "100000"))
AS_OF = "2026-06-30"
HORIZON_DAYS = 90
HISTORY = ("customer_states_daily", "bgnbd_fit_history")


@dataclass
class Build:
    """What one engine built: dbt's node results of both selections, the fit step's row, every model's table."""

    engine: str
    results: list[Any]
    fit: dict[str, Any]
    tables: dict[str, pa.Table]
    seconds: dict[str, float]
    rerun_tables: dict[str, pa.Table]
    root: Path


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo landing files ingested into a DuckDB file by the DuckDB ingestion (raw.orders, ...)."""
    home = tmp_path_factory.mktemp("landing")
    generate_demo_data(home, orders=ORDERS, seed=7, as_of=date.fromisoformat(AS_OF))
    path = home / "landing.duckdb"
    con = connect(path)
    try:
        for source in SOURCES:
            result = ingest_source(con, source, home / "landing")
            assert not result.failed_files
    finally:
        con.close()
    return path


def _build(engine: str, root: Path, landing: Path, *, pg_dsn: str | None = None) -> Build:
    with built_from_raw(
        engine,
        root,
        landing,
        project_dir=DBT_PROJECT_DIR,
        dbt_vars=json.dumps({"as_of_date": AS_OF, "bgnbd_horizon_days": HORIZON_DAYS}),
        fit=lambda wh: run_bgnbd_fit(wh, as_of_date=AS_OF, horizon_days=HORIZON_DAYS),
        pg_dsn=pg_dsn,
    ) as (eng, outcome):
        assert outcome.success, outcome.failures()
        tables = {
            table: eng.wh.query_arrow(f"select * from {schema}.{table}") for schema, table in outcome.models
        }
        # Re-running the history models for the same as-of date replaces that date's rows (delete+insert on
        # DuckDB and PostgreSQL, insert_overwrite of the date's partition on Spark): the same rows, no duplicates.
        rerun = run_dbt(
            ["run", "--select", *HISTORY, "--vars", json.dumps({"as_of_date": AS_OF})],
            env=eng.env,
            project_dir=DBT_PROJECT_DIR,
            target_path=root / "target",
        )
        assert rerun.success, rerun.exception
        rerun_tables = {name: eng.wh.query_arrow(f"select * from main.{name}") for name in HISTORY}
    results = [*outcome.first.result.results, *outcome.second.result.results]
    return Build(engine, results, outcome.fitted, tables, outcome.seconds, rerun_tables, root)


@pytest.fixture(scope="module")
def duckdb_build(landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Build:
    return _build("duckdb", tmp_path_factory.mktemp("duckdb"), landing)


@pytest.fixture(scope="module")
def postgres_build(landing: Path, pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Build:
    return _build("postgres", tmp_path_factory.mktemp("postgres"), landing, pg_dsn=pg_database)


@pytest.fixture(scope="module")
def spark_build(landing: Path, spark_root: Path) -> Build:
    return _build("spark", spark_root, landing)


ENGINE_BUILDS = [
    pytest.param("duckdb_build", id="duckdb"),
    pytest.param("postgres_build", id="postgres", marks=pytest.mark.postgres),
    pytest.param("spark_build", id="spark", marks=pytest.mark.spark),
]


@pytest.fixture
def build(request: pytest.FixtureRequest) -> Iterator[Build]:
    yield request.getfixturevalue(request.param)


@pytest.mark.parametrize("build", ENGINE_BUILDS, indirect=True)
def test_dbt_build_passes_every_model_test_and_unit_test(build: Build, record_property) -> None:
    failed = [f"{r.node.unique_id}: {r.status}" for r in build.results if r.status not in ("success", "pass")]
    assert failed == []
    kinds = {r.node.resource_type for r in build.results}
    assert {"model", "test", "unit_test"} <= {str(getattr(k, "value", k)) for k in kinds}
    assert len(build.tables) >= 28
    record_property("seconds", build.seconds)
    print(f"{build.engine}: {ORDERS} orders, {build.seconds}")


@pytest.mark.parametrize("build", ENGINE_BUILDS[1:], indirect=True)
def test_every_model_equals_duckdb(build: Build, duckdb_build: Build) -> None:
    assert set(build.tables) == set(duckdb_build.tables)
    differences = {
        name: found
        for name, expected in duckdb_build.tables.items()
        if (found := table_differences(expected, build.tables[name]))
    }
    assert differences == {}
    assert build.fit == duckdb_build.fit  # the same triples in the same order: the same fit, to the bit


@pytest.mark.parametrize("build", ENGINE_BUILDS, indirect=True)
def test_rerunning_a_date_replaces_its_history_rows(build: Build) -> None:
    for name in HISTORY:
        assert build.rerun_tables[name].num_rows == build.tables[name].num_rows > 0
        assert table_differences(build.tables[name], build.rerun_tables[name]) == []


def _with_value(table: pa.Table, column: str, row: int, value: Any) -> pa.Table:
    values = table.column(column).to_pylist()
    values[row] = value
    index = table.column_names.index(column)
    return table.set_column(index, column, pa.array(values, table.schema.field(column).type))


def test_the_comparison_catches_a_planted_difference(duckdb_build: Build) -> None:
    """The equality check is not blind: a difference planted in a copy of a real table is reported, float noise
    below the tolerance is not."""
    tiers = duckdb_build.tables["customer_value_tier"]
    row = next(i for i, v in enumerate(tiers.column("value_score").to_pylist()) if v)
    score = tiers.column("value_score")[row].as_py()
    assert table_differences(tiers, tiers) == []
    assert table_differences(tiers, _with_value(tiers, "value_score", row, score * (1 + 1e-12))) == []
    assert table_differences(tiers, _with_value(tiers, "value_score", row, score * (1 + 1e-7)))
    assert table_differences(
        tiers,
        _with_value(
            tiers, "value_tier", row, "vip" if tiers.column("value_tier")[row].as_py() != "vip" else "low"
        ),
    )
    assert table_differences(tiers, _with_value(tiers, "value_score", row, None))
    assert table_differences(tiers, tiers.slice(1))
    assert table_differences(tiers, tiers.drop_columns(["rfm_segment"]))
    customers = duckdb_build.tables["customer_360"]
    assert table_differences(
        customers,
        _with_value(
            customers, "lifetime_net_revenue", 0, customers.column("lifetime_net_revenue")[0].as_py() + 1
        ),
    )


def test_bgnbd_parameters_and_p_alive_equal_the_per_customer_fit(duckdb_build: Build) -> None:
    """The fit on grouped triples and the closed-form P(alive) in SQL give what the former dbt Python model gave:
    a fit on every customer's (x, t_x, T) and analytics.bgnbd.p_alive, rounded to 6 decimals."""
    summary = (
        duckdb_build.tables["int_orders_aggregated_to_customer"]
        .filter(
            pa.compute.greater(
                duckdb_build.tables["int_orders_aggregated_to_customer"].column("lifetime_orders"), 0
            )
        )
        .sort_by("customer_id")
    )
    x = np.asarray(summary.column("bgnbd_frequency").to_pylist(), dtype=float)
    t_x = np.asarray(summary.column("bgnbd_recency_days").to_pylist(), dtype=float)
    age = np.asarray(summary.column("bgnbd_age_days").to_pylist(), dtype=float)
    per_customer = fit_bgnbd(x, t_x, age)
    fit = duckdb_build.fit
    assert [fit["r"], fit["alpha"], fit["a"], fit["b"]] == pytest.approx(
        [per_customer.r, per_customer.alpha, per_customer.a, per_customer.b], rel=1e-6
    )
    assert fit["log_likelihood"] == pytest.approx(per_customer.log_likelihood, rel=1e-9)
    assert fit["n_customers"] == per_customer.n_customers == summary.num_rows

    expected = dict(
        zip(
            summary.column("customer_id").to_pylist(),
            np.round(p_alive(per_customer, x, t_x, age), 6),
            strict=True,
        )
    )
    scored = duckdb_build.tables["int_customers_bgnbd_scored"]
    actual = dict(
        zip(scored.column("customer_id").to_pylist(), scored.column("p_alive").to_pylist(), strict=True)
    )
    assert actual.keys() == expected.keys()
    worst = max(abs(actual[c] - expected[c]) for c in expected)
    assert worst <= 1e-6
    assert len({round(v, 3) for v in actual.values()}) > 10  # a real spread of probabilities, not a constant


def test_a_stale_fit_stops_the_scores(duckdb_build: Build) -> None:
    """Scores computed with another run's fit (the fit step did not run for this as-of date) fail a data test."""
    with open_engine("duckdb", duckdb_build.root) as eng:
        eng.wh.execute("update analytics.bgnbd_fit set as_of_date = date '2026-06-29'")
        try:
            stale = run_dbt(
                [
                    "test",
                    "--select",
                    "int_customers_bgnbd_scored",
                    "--vars",
                    json.dumps({"as_of_date": AS_OF}),
                ],
                env=eng.env,
                project_dir=DBT_PROJECT_DIR,
                target_path=duckdb_build.root / "target",
            )
        finally:
            eng.wh.execute(f"update analytics.bgnbd_fit set as_of_date = date '{AS_OF}'")
    statuses = {r.node.name: str(r.status) for r in stale.result.results}
    failed = [name for name, status in statuses.items() if status == "fail"]
    assert [name for name in failed if name.startswith("scored_with_the_current_fit")] == failed != []


@pytest.mark.parametrize("build", ENGINE_BUILDS, indirect=True)
def test_a_later_version_of_an_order_replaces_it_in_staging(
    build: Build, request: pytest.FixtureRequest
) -> None:
    """The staging incremental (delete+insert by key on DuckDB and PostgreSQL, a rebuild of the Parquet table on
    Spark) takes a corrected order from a later file: the order changes, nothing else does. Runs after the
    comparisons (it changes the engine's tables, not the ones captured by the build)."""
    orders = build.tables["stg_shop__orders"]
    completed = orders.filter(pa.compute.equal(orders.column("order_status"), "completed"))
    order_id = completed.column("order_id")[0].as_py()
    pg_dsn = request.getfixturevalue("pg_database") if build.engine == "postgres" else None
    with open_engine(build.engine, build.root, pg_dsn=pg_dsn) as eng:
        columns = eng.wh.query_arrow("select * from raw.orders where 1 = 0").column_names
        changed = {
            "status": "'refunded'",
            "updated_at": "cast('2026-06-30 23:00:00' as timestamp)",
            "_file_id": "999999",
        }
        select = ", ".join(changed.get(c, c) for c in columns)
        eng.wh.execute(
            f"insert into raw.orders select {select} from raw.orders where order_id = '{order_id}'"
        )
        result = run_dbt(
            ["run", "--select", "stg_shop__orders", "--vars", json.dumps({"as_of_date": AS_OF})],
            env=eng.env,
            project_dir=DBT_PROJECT_DIR,
            target_path=build.root / "target",
        )
        assert result.success, result.exception
        after = eng.wh.query_arrow("select * from staging.stg_shop__orders")
    assert after.num_rows == orders.num_rows
    row = after.filter(pa.compute.equal(after.column("order_id"), order_id)).to_pylist()
    assert len(row) == 1
    assert (row[0]["order_status"], float(row[0]["net_revenue"]), row[0]["source_file_id"]) == (
        "refunded",
        0.0,
        999999,
    )
    others = pa.compute.not_equal(orders.column("order_id"), order_id)
    assert (
        table_differences(
            orders.filter(others), after.filter(pa.compute.not_equal(after.column("order_id"), order_id))
        )
        == []
    )
