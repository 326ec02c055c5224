"""Idempotent, incremental loads through the whole pipeline (issue 5): re-runs load nothing new, a corrected
file changes exactly the keys it corrects."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml
from e2e_helpers import AS_OF, c360_env, generate, published_fingerprints, run

from benchmarks.daily_delta import write_daily_delta
from c360.settings import DBT_PROJECT_DIR
from publishing.gate import collect_check_results

pytestmark = pytest.mark.e2e


def _build(home: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True)


def test_rerun_loads_nothing_and_a_corrected_file_changes_only_its_keys(tmp_path: Path):
    home = tmp_path / "c360"
    with c360_env(home):
        generate(home, orders=3_000, seed=13)
        assert run() == 0
        con = _build(home)
        raw_before = {
            t: con.sql(f"select count(*) from raw.{t}").fetchone()[0]
            for t in ("orders", "contacts", "survey_responses")
        }
        orders_before = dict(
            con.sql(
                "select order_id, order_status || '|' || net_revenue from staging.stg_shop__orders"
            ).fetchall()
        )
        targets = con.sql(
            "select order_id, customer_id, ordered_at, currency, gross_amount, updated_at from staging.stg_shop__orders "
            "where order_status = 'completed' order by order_id limit 3"
        ).fetchall()
        last_file_id = con.sql("select max(file_id) from raw.ingestion_log").fetchone()[0]
        con.close()

        # the same landing zone again: every file skipped, nothing new in raw
        assert run() == 0
        con = _build(home)
        assert {t: con.sql(f"select count(*) from raw.{t}").fetchone()[0] for t in raw_before} == raw_before
        statuses = con.sql(
            f"select status, count(*) from raw.ingestion_log where file_id > {last_file_id} group by 1"
        ).fetchall()
        con.close()
        assert statuses and all(status == "skipped" for status, _ in statuses), statuses

        # a corrected delivery: the three orders were refunded later (newer updated_at)
        lines = ["order_id,customer_id,order_ts,status,currency,gross_amount,updated_at"]
        for order_id, customer_id, ordered_at, currency, gross, _updated_at in targets:
            lines.append(
                f"{order_id},{customer_id},{ordered_at.isoformat()}Z,refunded,{currency},{gross},{AS_OF}T12:00:00Z"
            )
        (home / "landing" / "orders" / "orders_correction.csv").write_text("\n".join(lines) + "\n")
        assert run() == 0

    con = _build(home)
    orders_after = dict(
        con.sql(
            "select order_id, order_status || '|' || net_revenue from staging.stg_shop__orders"
        ).fetchall()
    )
    con.close()
    changed = {k for k in orders_before if orders_after.get(k) != orders_before[k]}
    assert changed == {t[0] for t in targets}
    assert set(orders_after) == set(orders_before)
    assert all(orders_after[t[0]].startswith("refunded|") for t in targets)


def _state(home: Path) -> dict[str, str]:
    """Model name -> the run that last built it (orchestration.dbt_reuse)."""
    con = _build(home)
    try:
        rows = con.sql("select unique_id, run_id from c360_meta.dbt_model_state").fetchall()
    finally:
        con.close()
    return {uid.split(".")[-1]: run_id for uid, run_id in rows}


def _rules_keys(home: Path) -> dict[str, set[str]]:
    """The distinct rules_key values of each incremental staging model."""
    con = _build(home)
    try:
        return {
            model: {key for (key,) in con.sql(f"select distinct rules_key from staging.{model}").fetchall()}
            for model in ("stg_shop__orders", "stg_crm__contacts", "stg_survey__responses")
        }
    finally:
        con.close()


def _took_incremental_path(home: Path, model: str) -> bool:
    """Whether the model's last build selected only the keys of files loaded since (its compiled SQL in the home's
    dbt target folder filters the raw table by _file_id)."""
    compiled = home / "warehouse" / "dbt" / "duckdb" / "compiled" / "c360" / "models" / "staging"
    (path,) = compiled.glob(f"*/{model}.sql")
    return "where _file_id >" in path.read_text()


def _project_var(name: str) -> dict:
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return project["vars"][name]


def _last_log_message(home: Path) -> str:
    con = duckdb.connect(str(home / "warehouse" / "published.duckdb"), read_only=True)
    try:
        return con.sql("select message from publication_log order by logged_at desc limit 1").fetchone()[0]
    finally:
        con.close()


def _latest_run_id() -> str:
    with dg.DagsterInstance.get() as instance:
        return instance.get_runs(limit=1)[0].run_id


def test_next_day_reuses_unchanged_models_with_the_same_results(tmp_path: Path):
    home = tmp_path / "c360"
    next_day = AS_OF + timedelta(days=1)
    identity = {
        "stg_crm__contacts",
        "int_contacts_merged",
        "int_contact_merges_recorded",
        "int_customers_profiled",
    }
    with c360_env(home):
        generate(home, orders=3_000, seed=21)
        assert run() == 0
        first = _latest_run_id()
        assert set(_state(home).values()) == {first}

        # the next day: new and updated orders only
        write_daily_delta(home / "warehouse" / "build.duckdb", home / "landing" / "orders", next_day)
        assert run(next_day) == 0
        second = _latest_run_id()
        state = _state(home)
        reused = {model for model, run_id in state.items() if run_id == first}
        assert reused == identity | {"stg_survey__responses", "int_survey_responses_matched"}
        assert state["stg_shop__orders"] == state["customer_360"] == second
        with dg.DagsterInstance.get() as instance:
            event = instance.get_latest_materialization_event(dg.AssetKey("int_contacts_merged"))
            assert event.run_id == second
            assert "c360/reused" in event.asset_materialization.metadata
            assert (
                "c360/reused"
                not in instance.get_latest_materialization_event(
                    dg.AssetKey("stg_shop__orders")
                ).asset_materialization.metadata
            )
            tested = {c.asset for c in collect_check_results(instance, second)}
        assert identity <= tested  # the tests of reused models still ran in this run
        with_reuse = published_fingerprints(home)

        # the same day rebuilt from scratch gives the same published tables
        os.environ["C360_DBT_REUSE"] = "0"
        try:
            assert run(next_day) == 0
        finally:
            del os.environ["C360_DBT_REUSE"]
        assert set(_state(home).values()) == {_latest_run_id()}
        assert published_fingerprints(home) == with_reuse
        # every model was built again, so every published table was written again (none kept from the last version)
        message = _last_log_message(home)
        assert message.startswith("published") and "kept" not in message, message

        # a changed business rule (a --var) rebuilds everything, the identity chain included; the incremental
        # staging models recompute every row their changed rules made (orders: the EUR rate, contacts: the
        # calling codes, without GB), not only the keys of new files
        keys_before = _rules_keys(home)
        assert _took_incremental_path(home, "stg_shop__orders")  # the next day recomputed only touched orders
        rates = {**_project_var("fx_rates_to_reporting"), "EUR": 2.0}
        codes = {k: v for k, v in _project_var("country_calling_codes").items() if k != "GB"}
        assert run(next_day, low_nps_max=5, fx_rates_to_reporting=rates, country_calling_codes=codes) == 0
        assert set(_state(home).values()) == {_latest_run_id()}
        keys_after = _rules_keys(home)
        assert all(len(keys) == 1 for keys in keys_after.values()), keys_after
        assert keys_after["stg_survey__responses"] == keys_before["stg_survey__responses"]
        assert keys_after["stg_shop__orders"] != keys_before["stg_shop__orders"]
        assert keys_after["stg_crm__contacts"] != keys_before["stg_crm__contacts"]
        assert not _took_incremental_path(home, "stg_shop__orders")
        assert not _took_incremental_path(home, "stg_crm__contacts")
        assert _took_incremental_path(home, "stg_survey__responses")
        con = _build(home)
        try:
            eur = con.sql(
                "select count(*), count(*) filter (where gross_amount_reporting = round(gross_amount * 2.0, 2)) "
                "from staging.stg_shop__orders where currency = 'EUR' and gross_amount is not null"
            ).fetchone()
            # GB contacts whose phone was written as a national number: no known calling code any more
            gb_national = con.sql(
                "select count(*), count(s.phone_e164) from staging.stg_crm__contacts s "
                "join raw.contacts r on r._file_id = s.source_file_id and r._source_line = s.source_line "
                "where s.country = 'GB' and not (trim(r.phone) like '+%' or trim(r.phone) like '00%')"
            ).fetchone()
        finally:
            con.close()
        assert eur[0] > 0 and eur[1] == eur[0], eur
        assert gb_national[0] > 0 and gb_national[1] == 0, gb_national
