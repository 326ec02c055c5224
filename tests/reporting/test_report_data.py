"""Reading the published database for the report: the newest snapshot of each table, and tolerance of older
publications (missing tables, missing columns, empty tables)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from reporting.charts import backtest_by_frequency
from reporting.data import ReportData, read_published


@pytest.fixture
def read(variant_db: Callable[..., Path]) -> Callable[..., ReportData]:
    """The report data of the fixture database changed by the given SQL statements."""

    def run(*statements: str) -> ReportData:
        return read_published(variant_db(*statements))

    return run


def test_reads_the_newest_snapshot_of_each_table(published_db: Path) -> None:
    data = read_published(published_db)
    assert data.as_of == date(2026, 6, 30)
    assert data.missing == [] and data.currency is None
    # Cohorts: 12 cohorts of the newest run, not the 2019 cohort of the older one.
    assert {r["as_of_date"] for r in data.cohorts} == {date(2026, 6, 30)}
    assert len({r["cohort_month"] for r in data.cohorts}) == 12
    assert [r["retention_rate"] for r in data.cohorts if r["cohort_month"] == date(2025, 9, 1)][2] is None
    # Backtest: the buckets of the newest run in bucket order, the total last.
    assert [r["frequency_bucket"] for r in data.backtest] == ["0", "1", "2", "3", "4", "6", "7+", "total"]
    assert data.backtest[0]["customers"] == 400
    # Risk: the five levels, counted per tier.
    none = {r["churn_risk_level"]: r["customers"] for r in data.risk if r["value_tier"] == "none"}
    assert none == {"n/a": 5, "churned": 5}
    # CLV: quantiles per tier; the none tier has no values.
    clv = {r["value_tier"]: r for r in data.clv or []}
    assert clv["vip"]["q"][2] == pytest.approx(5250.0) and clv["vip"]["total_clv"] == pytest.approx(21000.0)
    assert clv["none"]["q"] is None and clv["none"]["with_clv"] == 0


def test_missing_tables_are_named_except_the_optional_backtest(read: Callable[..., ReportData]) -> None:
    data = read("drop table kpi_cohort_retention", "drop table model_backtest", "drop table customer_360")
    assert data.missing == ["kpi_cohort_retention"]
    assert data.cohorts == [] and data.backtest == [] and data.clv is None


def test_empty_backtest_is_not_published_yet(read: Callable[..., ReportData]) -> None:
    data = read("delete from model_backtest")
    assert data.backtest == [] and data.missing == []


def test_backtest_with_fewer_columns_and_a_repeated_day(read: Callable[..., ReportData]) -> None:
    data = read(
        "alter table model_backtest drop column predicted_avg_spend",
        "alter table model_backtest drop column bucket_order",
        "insert into model_backtest (as_of_date, frequency_bucket, customers, predicted_purchases, actual_purchases) "
        "values (date '2026-06-30', '1', 1, 1.0, 1.0)",
    )
    buckets = [r["frequency_bucket"] for r in data.backtest]
    assert sorted(buckets) == sorted(["0", "1", "2", "3", "4", "6", "7+", "total"])  # one row per bucket
    assert all(r["predicted_avg_spend"] is None and r["bucket_order"] is None for r in data.backtest)
    svg = backtest_by_frequency(data.backtest, "USD")
    assert "no row" in svg and "7+" in svg  # still drawn, in the standard bucket order


def test_backtest_without_buckets_reads_as_not_published(read: Callable[..., ReportData]) -> None:
    data = read("alter table model_backtest drop column frequency_bucket")
    assert data.backtest == []


def test_customer_360_without_clv_leaves_the_chart_out(read: Callable[..., ReportData]) -> None:
    assert read("alter table customer_360 drop column clv").clv is None


def test_risk_without_a_level_column(read: Callable[..., ReportData]) -> None:
    assert read("alter table customer_churn_indicators drop column churn_risk_level").risk == []


def test_currency_from_the_newest_row_of_a_table_that_carries_it(read: Callable[..., ReportData]) -> None:
    data = read(
        "alter table kpi_churn_rate add column reporting_currency varchar",
        "insert into kpi_churn_rate values (date '2026-05-31', date '2026-03-02', 70, 5, 0.07, 'GBP')",
        "update kpi_churn_rate set reporting_currency = ' EUR ' where as_of_date = date '2026-06-30'",
    )
    assert data.currency == "EUR"
    assert data.churn is not None and data.churn["as_of_date"] == date(2026, 6, 30)


def test_blank_currency_is_no_currency(read: Callable[..., ReportData]) -> None:
    data = read("alter table publication_log add column reporting_currency varchar default '  '")
    assert data.currency is None
