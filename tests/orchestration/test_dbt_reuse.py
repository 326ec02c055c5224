"""Which dbt models a run may reuse: fingerprints over code, vars, environment, as-of date and upstream data."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import duckdb
import pytest

from c360.settings import DBT_PROJECT_DIR
from orchestration import dbt_reuse
from orchestration.dbt_runner import manifest_path
from warehouse import DuckDBWarehouse

PROJECT_YML = (DBT_PROJECT_DIR / "dbt_project.yml").read_text()
VARS = {"as_of_date": "2026-06-30"}


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(manifest_path().read_text())


def uid(name: str) -> str:
    return f"model.c360.{name}"


@pytest.fixture
def con(tmp_path: Path):
    """A build database with the three raw sources, one file each (through the warehouse interface)."""
    con = duckdb.connect(str(tmp_path / "build.duckdb"))
    con.execute("create schema raw")
    for table in ("orders", "contacts", "survey_responses"):
        con.execute(f"create table raw.{table} (id integer, _file_id bigint)")
        con.execute(f"insert into raw.{table} values (1, 1), (2, 1)")
    yield DuckDBWarehouse(con)
    con.close()


@pytest.mark.parametrize(
    ("model", "dependent"),
    [
        ("stg_shop__orders", False),
        ("stg_crm__contacts", False),
        ("int_contacts_merged", False),
        ("int_customers_profiled", False),
        ("int_orders_aggregated_to_customer", True),  # windows end at the as-of date
        ("int_survey_responses_matched", False),  # consumers keep the responses on or before the as-of date
        ("int_surveys_aggregated_to_customer", True),
        ("customer_360", True),
    ],
)
def test_as_of_dependence_is_read_from_the_sql(manifest: dict, model: str, dependent: bool) -> None:
    assert dbt_reuse.depends_on_as_of(manifest, manifest["nodes"][uid(model)]) is dependent


def test_as_of_dependence_through_a_chain_of_project_macros(manifest: dict) -> None:
    manifest = copy.deepcopy(manifest)
    manifest["macros"]["macro.c360.outer"] = {
        "package_name": "c360",
        "macro_sql": "{% macro outer() %}{{ inner() }}{% endmacro %}",
        "depends_on": {"macros": ["macro.c360.inner"]},
    }
    manifest["macros"]["macro.c360.inner"] = {
        "package_name": "c360",
        "macro_sql": "{% macro inner() %}{{ var('as_of_date') }}{% endmacro %}",
        "depends_on": {"macros": []},
    }
    node = {"raw_code": "select {{ outer() }}", "depends_on": {"macros": ["macro.c360.outer"], "nodes": []}}
    assert dbt_reuse.depends_on_as_of(manifest, node)
    node["depends_on"]["macros"] = ["macro.c360.to_reporting_currency"]
    assert not dbt_reuse.depends_on_as_of(manifest, node)


def _prints(con, manifest, **vars_) -> dict[str, str]:
    return dbt_reuse.fingerprints(con, manifest, {**VARS, **vars_}, PROJECT_YML)


def _changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {key.split(".")[-1] for key in before if before[key] != after[key]}


def test_fingerprints_are_stable_for_the_same_inputs(con, manifest: dict) -> None:
    assert _prints(con, manifest) == _prints(con, manifest)


def test_a_new_as_of_date_changes_only_the_models_that_depend_on_it(con, manifest: dict) -> None:
    changed = _changed(_prints(con, manifest), _prints(con, manifest, as_of_date="2026-07-01"))
    assert {
        "int_orders_aggregated_to_customer",
        "customer_360",
        "int_surveys_aggregated_to_customer",
    } <= changed
    identity = {
        "stg_crm__contacts",
        "int_contacts_merged",
        "int_contact_merges_recorded",
        "int_customers_profiled",
    }
    assert not changed & {
        "stg_shop__orders",
        "stg_survey__responses",
        "int_survey_responses_matched",
        *identity,
    }


def test_a_new_contact_file_changes_the_identity_chain_and_what_is_built_on_it(con, manifest: dict) -> None:
    before = _prints(con, manifest)
    con.execute("insert into raw.contacts values (3, 2)")
    changed = _changed(before, _prints(con, manifest))
    assert {"stg_crm__contacts", "int_contacts_merged", "int_customers_profiled", "customer_360"} <= changed
    assert not changed & {"stg_shop__orders", "stg_survey__responses", "int_orders_aggregated_to_customer"}


def test_vars_and_the_pii_key_change_every_model(
    con, manifest: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _prints(con, manifest)
    every_model = {key.split(".")[-1] for key in before}
    assert len(every_model) > 20
    assert _changed(before, _prints(con, manifest, churn_after_days=120)) == every_model
    monkeypatch.setenv("C360_PII_HASH_KEY", "another-key")
    assert _changed(before, _prints(con, manifest)) == every_model


def test_reuse_needs_the_same_fingerprint_and_the_recorded_row_count(con, manifest: dict) -> None:
    model = uid("stg_crm__contacts")
    con.execute("create schema staging")
    con.execute("create table staging.stg_crm__contacts as select 1 as contact_id")
    first = dbt_reuse.plan(con, manifest, VARS, PROJECT_YML, candidates=[model])
    assert first.reused == {}  # nothing recorded yet
    dbt_reuse.record(con, manifest, first, [model], run_id="run-1", as_of="2026-06-30")

    again = dbt_reuse.plan(con, manifest, {"as_of_date": "2026-07-01"}, PROJECT_YML, candidates=[model])
    assert list(again.reused) == [model] and again.reused[model]["run_id"] == "run-1"
    assert again.reused_names == ["stg_crm__contacts"]

    con.execute("insert into staging.stg_crm__contacts values (2)")  # changed outside c360
    assert dbt_reuse.plan(con, manifest, VARS, PROJECT_YML, candidates=[model]).reused == {}
    con.execute("delete from staging.stg_crm__contacts where contact_id = 2")
    assert list(dbt_reuse.plan(con, manifest, VARS, PROJECT_YML, candidates=[model]).reused) == [model]

    con.execute("insert into raw.contacts values (3, 2)")  # a new file upstream
    assert dbt_reuse.plan(con, manifest, VARS, PROJECT_YML, candidates=[model]).reused == {}
    con.execute("delete from raw.contacts where _file_id = 2")

    dbt_reuse.forget(con, [model])  # about to be rebuilt, or failed
    assert dbt_reuse.plan(con, manifest, VARS, PROJECT_YML, candidates=[model]).reused == {}

    dbt_reuse.record(con, manifest, first, [model], run_id="run-1", as_of="2026-06-30")
    con.execute("drop table staging.stg_crm__contacts")
    assert dbt_reuse.plan(con, manifest, VARS, PROJECT_YML, candidates=[model]).reused == {}


def test_materializations_come_in_dependency_order(manifest: dict) -> None:
    names = ["customer_360", "int_customers_profiled", "stg_crm__contacts", "int_contacts_merged"]
    ordered = [u.split(".")[-1] for u in dbt_reuse.topological(manifest, [uid(n) for n in names])]
    assert ordered.index("stg_crm__contacts") < ordered.index("int_contacts_merged")
    assert ordered.index("int_contacts_merged") < ordered.index("int_customers_profiled")
    assert ordered.index("int_customers_profiled") < ordered.index("customer_360")


def test_reuse_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("C360_DBT_REUSE", raising=False)
    assert dbt_reuse.reuse_enabled()
    for off in ("0", "false", "off", "no"):
        monkeypatch.setenv("C360_DBT_REUSE", off)
        assert not dbt_reuse.reuse_enabled()
