"""Great Expectations quality gate: suites run against small synthetic DuckDB databases in tmp_path.

Each failure test breaks one thing in an otherwise clean database and checks that exactly the expectation meant to
catch it fails (blocking, with the offending value in `observed`) and nothing else does. Row-level rules (keys,
accepted values, ranges) are dbt tests, not expectations: `test_no_expectation_repeats_a_dbt_test` keeps it so.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from c360.settings import DBT_PROJECT_DIR
from expectations import (
    ExpectationOutcome,
    GateConfig,
    SuiteResult,
    build_table_suite,
    run_table_suite,
    suite_tables,
)

AS_OF = date(2026, 6, 30)
CUSTOMERS = 200


def _create_clean_database(con: duckdb.DuckDBPyConnection) -> None:
    """customer_360 (schema main) and the staging orders model (schema main_staging) that pass every check."""
    con.execute(
        f"""
        create table customer_360 as
        with ids as (select i from range(1, {CUSTOMERS} + 1) as r(i))
        select
            format('C{{:05d}}', i) as customer_id,
            case when i % 40 = 0 then 'vip' when i % 5 = 0 then 'high' when i % 5 = 1 then 'medium'
                 when i % 5 = 2 then 'low' else 'none' end as value_tier,
            (['prospect', 'churned', 'reactivated', 'new', 'declining', 'growing', 'mature'])[i % 7 + 1]
                as lifecycle_stage,
            case when i % 7 <> 0 then ((i * 7) % 101)::double end as churn_risk_score,
            case when i % 7 = 0 then 'n/a' when i % 7 = 1 then 'churned'
                 when (i * 7) % 101 >= 60 then 'high' when (i * 7) % 101 >= 30 then 'medium' else 'low' end
                as churn_risk_level,
            ((i * 3) % 101)::double as health_score,
            case when i % 4 = 0 then null else (i % 11)::integer end as latest_nps,
            case when i % 9 = 0 then null else (i % 100) / 100.0 end as p_alive,
            case when i % 5 in (3, 4) then null else (i * 12.5)::decimal(18, 2) end as net_revenue_365d,
            'c' || i::varchar || '***@example.com' as email_masked,
            '+1******' || lpad((i % 100)::varchar, 2, '0') as phone_masked,
            (['north', 'south', 'east', 'west'])[i % 4 + 1] as region,
            case when i % 3 = 0 then null else 'am_' || (i % 7)::varchar end as account_manager
        from ids
        """
    )
    # Newest completed order on or before the as-of date: AS_OF - 1. The cancelled order on AS_OF and the completed
    # order after AS_OF (a backfill sees later data) must not count.
    con.execute("create schema main_staging")
    con.execute(
        """
        create table main_staging.stg_shop__orders as
        select
            'O' || i::varchar as order_id,
            format('C{:05d}', 1 + i % 150) as customer_id,
            ($as_of::date - (1 + i % 400)::integer) as order_date,
            'completed' as order_status
        from range(0, 2000) as r(i)
        union all select 'O-cancelled', 'C00001', $as_of::date, 'cancelled'
        union all select 'O-future', 'C00002', $as_of::date + 5, 'completed'
        """,
        {"as_of": AS_OF},
    )


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(tmp_path / "build.duckdb"))
    _create_clean_database(connection)
    yield connection
    connection.close()


def _run(
    con: duckdb.DuckDBPyConnection,
    table: str,
    *,
    as_of: date = AS_OF,
    config: GateConfig | None = None,
    previous_row_count: int | None = CUSTOMERS,
) -> SuiteResult:
    return run_table_suite(
        con, table, as_of=as_of, config=config or GateConfig(), previous_row_count=previous_row_count
    )


def _only(outcomes: list[ExpectationOutcome], expectation: str) -> ExpectationOutcome:
    matches = [o for o in outcomes if o.expectation == expectation]
    assert len(matches) == 1, f"{expectation} not found once in {[o.expectation for o in outcomes]}"
    return matches[0]


def test_clean_database_passes_every_suite(con: duckdb.DuckDBPyConnection) -> None:
    for table in suite_tables():
        result = _run(con, table)
        assert result.passed, result.summary()
        assert {o.status for o in result.outcomes} == {"passed"}, result.summary()
        assert result.warnings == [] and result.errors == []

    result = _run(con, "customer_360")
    assert result.rows == CUSTOMERS
    freshness = _only(result.outcomes, "expect_column_max_to_be_between(days_since_newest_order, 0, 3)")
    # AS_OF - 1 is the newest completed order: the cancelled order on AS_OF and the later one are ignored.
    assert freshness.observed == "1"
    assert "1 completed orders after the as-of date are ignored" in (freshness.detail or "")
    assert _only(result.outcomes, "expect_column_max_to_be_between(volume_ratio, 0.5, 2)").observed == "1"
    assert _only(result.outcomes, "expect_column_max_to_be_between(vip_share, 0, 0.1)").observed == "0.025"


@pytest.mark.parametrize(
    ("table", "breakage", "run_kwargs", "expectation", "offending"),
    [
        pytest.param(
            "customer_360",
            "delete from customer_360",
            {"previous_row_count": None},
            "expect_table_row_count_to_be_between(1, null)",
            "0",
            id="empty-customer-table",
        ),
        pytest.param(
            "customer_360",
            "update customer_360 set email_masked = 'jane.doe@example.com' where customer_id = 'C00005'",
            {},
            "expect_column_values_to_not_match_regex(email_masked, '^[^\\s@*]+@[^\\s@*]+\\.[^\\s@*]+$')",
            "jane.doe@example.com",
            id="raw-email-published",
        ),
        pytest.param(
            "customer_360",
            "update customer_360 set phone_masked = '+1 415 555 0100' where customer_id = 'C00006'",
            {},
            "expect_column_values_to_not_match_regex(phone_masked, '^\\+?[0-9][0-9 ().\\-]{5,}[0-9]$')",
            "+1 415 555 0100",
            id="raw-phone-published",
        ),
        pytest.param(
            "customer_360",
            "update customer_360 set value_tier = 'vip' where cast(substr(customer_id, 2) as integer) % 4 = 0",
            {},
            "expect_column_max_to_be_between(vip_share, 0, 0.1)",
            "0.25",
            id="vip-share-above-band",
        ),
        pytest.param(
            "customer_360",
            None,
            {"previous_row_count": 2000},
            "expect_column_max_to_be_between(volume_ratio, 0.5, 2)",
            "0.1",
            id="volume-collapse",
        ),
        pytest.param(
            "customer_360",
            f"delete from main_staging.stg_shop__orders where order_status = 'completed' "
            f"and order_date between date '{AS_OF}' - 9 and date '{AS_OF}'",
            {},
            "expect_column_max_to_be_between(days_since_newest_order, 0, 3)",
            "10",
            id="stale-newest-order",
        ),
    ],
)
def test_broken_data_fails_the_right_blocking_expectation(
    con: duckdb.DuckDBPyConnection,
    table: str,
    breakage: str | None,
    run_kwargs: dict,
    expectation: str,
    offending: str,
) -> None:
    if breakage:
        con.execute(breakage)

    result = _run(con, table, **run_kwargs)

    assert not result.passed
    assert [o.expectation for o in result.failed_blocking] == [expectation], result.summary()
    failed = result.failed_blocking[0]
    assert failed.status == "failed" and failed.severity == "blocking"
    assert failed.observed is not None and offending in failed.observed, failed
    assert result.errors == []


def test_volume_check_is_skipped_with_a_note_on_first_run(con: duckdb.DuckDBPyConnection) -> None:
    result = _run(con, "customer_360", previous_row_count=None)

    assert result.passed, result.summary()
    assert not any("volume_ratio" in o.expectation for o in result.outcomes)
    assert any("no previous publication" in note for note in result.notes)


def test_mostly_null_profile_column_is_a_warning_not_a_block(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("update customer_360 set region = null where customer_id not like '%0'")  # 90 % null

    result = _run(con, "customer_360")

    assert result.passed, result.summary()
    assert result.failed_blocking == []
    assert [o.expectation for o in result.warnings] == [
        "expect_column_values_to_not_be_null(region, mostly=0.5)"
    ]
    assert result.warnings[0].observed == "180 of 200 rows (90%) null"


def test_config_band_changes_the_verdict(con: duckdb.DuckDBPyConnection) -> None:
    # 40 % of previous rows is a collapse by default, but inside a band widened to 0.3x .. 2x.
    assert not _run(con, "customer_360", previous_row_count=500).passed
    assert _run(con, "customer_360", previous_row_count=500, config=GateConfig(volume_min_ratio=0.3)).passed


@pytest.mark.parametrize(
    ("table", "breakage", "expectation", "severity"),
    [
        pytest.param(
            "customer_360",
            "alter table customer_360 drop column email_masked",
            "expect_column_values_to_not_match_regex(email_masked, '^[^\\s@*]+@[^\\s@*]+\\.[^\\s@*]+$')",
            "blocking",
            id="missing-column",
        ),
        pytest.param(
            "customer_360",
            "alter table customer_360 drop column account_manager",
            "expect_column_values_to_not_be_null(account_manager, mostly=0.5)",
            "warning",
            id="raising-warning-check-still-blocks",
        ),
    ],
)
def test_expectation_that_raises_is_an_error_never_a_pass(
    con: duckdb.DuckDBPyConnection, table: str, breakage: str, expectation: str, severity: str
) -> None:
    con.execute(breakage)

    result = _run(con, table)

    outcome = _only(result.outcomes, expectation)
    assert outcome.status == "error"
    assert outcome.severity == severity
    assert outcome.detail  # the exception text
    assert result.errors == [outcome]
    assert result.failed_blocking == [] and result.warnings == []
    assert not result.passed


def test_missing_table_is_an_error_outcome(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("drop table customer_360")

    result = _run(con, "customer_360")

    assert not result.passed
    assert [o.status for o in result.outcomes] == ["error"]
    assert "customer_360 is missing" in (result.outcomes[0].detail or "")


def test_missing_staging_orders_makes_freshness_an_error(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("drop table main_staging.stg_shop__orders")

    result = _run(con, "customer_360")

    assert not result.passed
    assert [o.expectation for o in result.errors] == [
        "expect_column_max_to_be_between(days_since_newest_order, 0, 3)"
    ]
    assert "stg_shop__orders" in (result.errors[0].detail or "")
    assert result.failed_blocking == []


def test_unknown_table_is_rejected(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="No expectation suite"):
        _run(con, "main_staging.stg_shop__orders")


def test_gate_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_GX_VIP_SHARE_MAX", "0.2")
    monkeypatch.setenv("C360_GX_FRESHNESS_MAX_DAYS", "7")
    monkeypatch.setenv("C360_GX_VOLUME_MIN_RATIO", "")

    config = GateConfig.from_env()

    assert config == GateConfig(vip_share_max=0.2, freshness_max_days=7)

    monkeypatch.setenv("C360_GX_FRESHNESS_MAX_DAYS", "three")
    with pytest.raises(ValueError, match="C360_GX_FRESHNESS_MAX_DAYS"):
        GateConfig.from_env()


def test_gate_config_rejects_inverted_bands() -> None:
    with pytest.raises(ValueError, match="volume band"):
        GateConfig(volume_min_ratio=2.0, volume_max_ratio=0.5)


def _dbt_tested_columns() -> dict[str, set[str]]:
    """Columns with a dbt data test in the models' YAML, by model."""
    tested: dict[str, set[str]] = {}
    for path in (DBT_PROJECT_DIR / "models").rglob("*.yml"):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models") or []:
            for column in model.get("columns") or []:
                if column.get("data_tests") or column.get("tests"):
                    tested.setdefault(model["name"], set()).add(column["name"])
    return tested


def test_no_expectation_repeats_a_dbt_test() -> None:
    """A column that dbt already tests gets no expectation: the gate would only run the same rule twice."""
    tested = _dbt_tested_columns()
    assert "customer_id" in tested["customer_360"]  # the reader sees the YAML
    for table in suite_tables():
        suite = build_table_suite(table, GateConfig())
        columns = {getattr(e, "column", None) for e in suite.expectations} - {None}
        assert columns and not columns & tested.get(table, set()), (table, columns & tested.get(table, set()))
