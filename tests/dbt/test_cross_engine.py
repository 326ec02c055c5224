"""One dbt project, three engines, the same tables.

The same generated landing data is ingested into DuckDB (the default engine, ingestion.loader), its raw tables
are copied into PostgreSQL and into local Spark (Parquet tables), and on each engine dbt builds the fit step's
upstream, the fit step runs (orchestration/fits.py: BG/NBD, Gamma-Gamma, the backtest), and dbt builds the rest. Every model, data test and
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
import pandas as pd
import pyarrow as pa
import pytest
import yaml
from raw_data import ingested_demo
from table_diff import table_differences

from analytics import BgNbdFit, GammaGammaFit, backtest_rows, customer_clv, fit_gamma_gamma
from analytics.bgnbd import fit_bgnbd, p_alive
from c360.settings import DBT_PROJECT_DIR
from orchestration.fits import FitSettings, run_fit_steps
from warehouse.engines import built_from_raw, open_engine, run_dbt

ORDERS = int(os.environ.get("C360_CROSS_ENGINE_ORDERS", "100000"))
AS_OF = "2026-06-30"
HORIZON_DAYS = 90
HISTORY = (
    "customer_states_daily",
    "bgnbd_fit_history",
    "gamma_gamma_fit_history",
    "model_backtest",
    "customer_actions_daily",
)
SETTINGS = FitSettings.from_vars({"bgnbd_horizon_days": HORIZON_DAYS})


@dataclass
class Build:
    """What one engine built: dbt's node results of both selections, the fit step's rows, every model's table."""

    engine: str
    results: list[Any]
    fit: dict[str, dict[str, Any]]
    tables: dict[str, pa.Table]
    seconds: dict[str, float]
    rerun_tables: dict[str, pa.Table]
    root: Path
    restaged: dict[str, Any] | None


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo landing files ingested into a DuckDB file by the DuckDB ingestion (raw.orders, ...)."""
    return ingested_demo(
        tmp_path_factory.mktemp("landing"), orders=ORDERS, seed=7, as_of=date.fromisoformat(AS_OF)
    )


def _build(engine: str, root: Path, landing: Path, *, pg_dsn: str | None = None) -> Build:
    with built_from_raw(
        engine,
        root,
        landing,
        project_dir=DBT_PROJECT_DIR,
        dbt_vars=json.dumps({"as_of_date": AS_OF, "bgnbd_horizon_days": HORIZON_DAYS}),
        fit=lambda wh: run_fit_steps(wh, as_of_date=AS_OF, settings=SETTINGS),
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
        restaged = _restaged_with_another_eur_rate(eng, root) if engine != "spark" else None
    results = [*outcome.first.result.results, *outcome.second.result.results]
    return Build(engine, results, outcome.fitted, tables, outcome.seconds, rerun_tables, root, restaged)


def _restaged_with_another_eur_rate(eng, root: Path) -> dict[str, Any]:
    """The staging models run again on their incremental path (DuckDB and PostgreSQL; Spark's Parquet tables are
    always rebuilt) with EUR at 2.0: how many EUR orders there are and how many of them have the new rate."""
    rates = {
        **yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["fx_rates_to_reporting"]
    }
    rates["EUR"] = 2.0
    result = run_dbt(
        [
            "run",
            "--select",
            "path:models/staging",
            "--vars",
            json.dumps({"as_of_date": AS_OF, "fx_rates_to_reporting": rates}),
        ],
        env=eng.env,
        project_dir=DBT_PROJECT_DIR,
        target_path=root / "target",
    )
    assert result.success, result.exception
    counts = eng.wh.query_arrow(
        "select count(*) as eur_orders, "
        "sum(case when gross_amount_reporting = round(gross_amount * 2.0, 2) then 1 else 0 end) as at_new_rate "
        "from staging.stg_shop__orders where currency = 'EUR' and gross_amount is not null"
    ).to_pylist()[0]
    keys = eng.wh.query_arrow(
        "select count(distinct rules_key) as n from staging.stg_shop__orders"
    ).to_pylist()
    return {**counts, "rules_keys": keys[0]["n"]}


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


@pytest.mark.parametrize("build", ENGINE_BUILDS[:2], indirect=True)
def test_a_changed_exchange_rate_reaches_every_staged_order(build: Build) -> None:
    """Staging is incremental by key; a changed rule (here a --var rate) must still recompute every row, not only
    the orders of new files (macros/latest_versions.sql, rules_key)."""
    assert build.restaged is not None
    assert build.restaged["eur_orders"] > 0
    assert build.restaged["at_new_rate"] == build.restaged["eur_orders"]
    assert build.restaged["rules_keys"] == 1


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
    # the same rows in another order, an integer column of another width: equal (table_diff's fast path)
    reordered = tiers.take(pa.array(range(tiers.num_rows - 1, -1, -1), pa.int64()))
    width = reordered.schema.get_field_index("r_score")
    reordered = reordered.set_column(width, "r_score", reordered.column(width).cast(pa.int64()))
    assert table_differences(tiers, reordered) == []
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
    fit = duckdb_build.fit["bgnbd_fit"]
    assert [fit["r"], fit["alpha"], fit["a"], fit["b"]] == pytest.approx(
        [per_customer.r, per_customer.alpha, per_customer.a, per_customer.b], rel=1e-6
    )
    assert fit["log_likelihood"] == pytest.approx(per_customer.log_likelihood, rel=1e-9)
    assert fit["n_customers"] == fit["n_fitted"] == per_customer.n_customers == summary.num_rows

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


def _histories(build: Build) -> pd.DataFrame:
    table = build.tables["int_purchase_histories_summarized"]
    frame = table.to_pandas()
    for field in table.schema:
        if pa.types.is_decimal(field.type):
            frame[field.name] = frame[field.name].astype(float)
    return frame.sort_values("customer_id").reset_index(drop=True)


def test_spend_model_and_clv_equal_the_per_customer_python_reference(duckdb_build: Build) -> None:
    """Gamma-Gamma fitted on grouped (frequency, repeat revenue) pairs is the fit on every repeat buyer, and the order
    values and CLV that SQL computes per customer are analytics' own conditional_expected_spend and customer_clv."""
    histories = _histories(duckdb_build)
    repeat = histories[histories["frequency"] > 0]
    per_customer = fit_gamma_gamma(repeat["frequency"], repeat["repeat_net_revenue"] / repeat["frequency"])
    stored = duckdb_build.fit["gamma_gamma_fit"]
    assert [stored["p"], stored["q"], stored["gamma"]] == pytest.approx(
        [per_customer.p, per_customer.q, per_customer.gamma], rel=1e-6
    )
    assert stored["n_fitted"] == per_customer.n_fitted == len(repeat) and stored["n_excluded"] == 0
    assert stored["spend_frequency_correlation"] == pytest.approx(per_customer.spend_frequency_correlation)

    bgnbd = duckdb_build.fit["bgnbd_fit"]
    own_margin = np.where(
        histories["known_cost_net_revenue"].fillna(0) > 0,
        histories["known_cost_profit"] / histories["known_cost_net_revenue"],
        np.nan,
    )
    customers = histories.assign(
        mean_spend=np.where(
            histories["frequency"] > 0, histories["repeat_net_revenue"] / histories["frequency"], np.nan
        ),
        margin=own_margin,
    )
    expected = customer_clv(
        BgNbdFit(r=bgnbd["r"], alpha=bgnbd["alpha"], a=bgnbd["a"], b=bgnbd["b"]),
        per_customer,
        customers,
        horizon=SETTINGS.clv_horizon_months,
        annual_discount_rate=SETTINGS.clv_annual_discount_rate,
        margin=0.3,
    )
    sql = (
        duckdb_build.tables["customer_clv"].to_pandas().set_index("customer_id").loc[histories["customer_id"]]
    )
    order_values = sql["expected_avg_order_value"].to_numpy(dtype=float)
    assert np.max(np.abs(order_values - expected["expected_spend"].to_numpy())) <= 0.005 + 1e-6
    assert np.allclose(sql["margin"].to_numpy(dtype=float), expected["margin"].to_numpy(), atol=5e-5)
    # SQL multiplies the order value as published (2 decimals): at most half a cent per purchase apart
    tolerance = 0.005 + 0.00501 * np.abs(expected["margin"] * expected["discounted_purchases"]).to_numpy()
    assert np.all(np.abs(sql["clv"].to_numpy(dtype=float) - expected["clv"].to_numpy()) <= tolerance + 1e-9)
    assert sql["clv"].std() > 0 and (sql["clv"] > 0).mean() > 0.9


def test_backtest_equals_the_per_customer_python_reference(duckdb_build: Build) -> None:
    """model_backtest (SQL, per calibration-frequency bucket) equals analytics.backtest_rows on the same customers
    with the models the fit step fitted as of the calibration end, and that fit is the per-customer fit."""
    histories = _histories(duckdb_build)
    known = histories[histories["calibration_frequency"].notna()]
    x = known["calibration_frequency"].to_numpy(dtype=float)
    t_x = known["calibration_recency_days"].to_numpy(dtype=float)
    age = known["calibration_age_days"].to_numpy(dtype=float)
    revenue = known["calibration_repeat_net_revenue"].to_numpy(dtype=float)
    fit = duckdb_build.fit["backtest_fit"]
    bgnbd = fit_bgnbd(x, t_x, age)
    spend = fit_gamma_gamma(x[x > 0], revenue[x > 0] / x[x > 0])
    assert [fit["r"], fit["alpha"], fit["a"], fit["b"]] == pytest.approx(
        [bgnbd.r, bgnbd.alpha, bgnbd.a, bgnbd.b], rel=1e-6
    )
    assert [fit["p"], fit["q"], fit["gamma"]] == pytest.approx([spend.p, spend.q, spend.gamma], rel=1e-6)
    assert fit["calibration_end_date"] == date(2026, 4, 1) and fit["bgnbd_n_customers"] == len(known)

    expected = backtest_rows(
        pd.DataFrame(
            {
                "frequency": x,
                "recency_days": t_x,
                "age_days": age,
                "mean_spend": np.where(x > 0, revenue / np.maximum(x, 1), np.nan),
                "holdout_purchases": known["holdout_purchase_days"].to_numpy(dtype=float),
                "holdout_spend": known["holdout_net_revenue"].to_numpy(dtype=float),
            }
        ),
        BgNbdFit(r=fit["r"], alpha=fit["alpha"], a=fit["a"], b=fit["b"]),
        GammaGammaFit(
            p=fit["p"], q=fit["q"], gamma=fit["gamma"], default_mean=fit["population_mean_order_value"]
        ),
        holdout_days=fit["holdout_days"],
    )
    sql = duckdb_build.tables["model_backtest"].to_pandas().sort_values("bucket_order").reset_index(drop=True)
    assert sql["frequency_bucket"].tolist() == expected["bucket"].tolist()
    for column in ("customers", "actual_purchases", "spend_customers"):
        assert sql[column].astype(int).tolist() == expected[column].astype(int).tolist(), column
    for column in (
        "predicted_purchases",
        "purchases_mae",
        "predicted_avg_spend",
        "actual_avg_spend",
        "spend_mae",
    ):
        # SQL rounds these to 6 decimals (so that the table does not depend on the order a sum is added up in)
        assert np.allclose(
            sql[column].to_numpy(dtype=float),
            expected[column].to_numpy(dtype=float),
            rtol=1e-9,
            atol=5e-7,
            equal_nan=True,
        ), column
    total = sql[sql["frequency_bucket"] == "total"].iloc[0]
    assert total["customers"] > 500 and total["actual_purchases"] > 0


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
