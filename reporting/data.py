"""Reading the published database into plain Python structures for the report.

The report must render for any publication, including older ones: a missing table gives an empty list (and its name
in ``ReportData.missing`` unless the table is optional), a missing column reads as ``None``. Values come back as
plain Python (``Decimal`` becomes ``float``) so the charts never see a database type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

LOG_ROWS = 8

# Tables that newer pipeline versions publish: their absence is expected for older publications and says nothing
# is wrong, so it is not listed as missing (their panels explain themselves).
OPTIONAL_TABLES = frozenset({"model_backtest"})

# The column that names the reporting currency when a published table carries it.
CURRENCY_COLUMN = "reporting_currency"

CLV_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass
class ReportData:
    """Everything the report shows, read from the published database in one go."""

    as_of: date | None = None
    tiers: list[dict[str, Any]] = field(default_factory=list)
    stages: list[dict[str, Any]] = field(default_factory=list)
    risk: list[dict[str, Any]] = field(default_factory=list)
    satisfaction: list[dict[str, Any]] = field(default_factory=list)
    transitions: list[dict[str, Any]] = field(default_factory=list)
    revenue: list[dict[str, Any]] = field(default_factory=list)
    cohorts: list[dict[str, Any]] = field(default_factory=list)
    backtest: list[dict[str, Any]] = field(default_factory=list)
    clv: list[dict[str, Any]] | None = None  # None: no CLV published (the chart is left out)
    churn: dict[str, Any] | None = None
    log: list[dict[str, Any]] = field(default_factory=list)
    currency: str | None = None
    missing: list[str] = field(default_factory=list)


def _plain(value: Any) -> Any:
    """DuckDB DECIMAL comes back as ``Decimal``; charts only need floats."""
    return float(value) if isinstance(value, Decimal) else value


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Reader:
    """Query helper that knows which tables and columns exist in the current schema."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.tables = {
            row[0]
            for row in con.execute(
                "select table_name from duckdb_tables() where schema_name = current_schema() "
                "union select view_name from duckdb_views() where schema_name = current_schema()"
            ).fetchall()
        }
        self.missing: list[str] = []
        self._columns: dict[str, list[str]] = {}

    def has(self, table: str) -> bool:
        if table in self.tables:
            return True
        if table not in OPTIONAL_TABLES and table not in self.missing:
            self.missing.append(table)
        return False

    def columns(self, table: str) -> list[str]:
        if table not in self._columns:
            self._columns[table] = [
                row[0] for row in self.con.execute(f"describe {_quoted(table)}").fetchall()
            ]
        return self._columns[table]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.con.execute(sql, list(params))
        names = [d[0] for d in cur.description]
        return [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]

    def select(self, table: str, wanted: Sequence[str]) -> str:
        """A select list of ``wanted`` where a column the table lacks reads as NULL."""
        present = set(self.columns(table))
        return ", ".join(_quoted(c) if c in present else f"null as {_quoted(c)}" for c in wanted)

    def latest(self, table: str, wanted: Sequence[str], order: Sequence[str]) -> list[dict[str, Any]]:
        """Rows of ``table`` for its latest ``as_of_date`` (KPI tables carry one snapshot per run)."""
        if not self.has(table):
            return []
        present = self.columns(table)
        where = (
            f"where as_of_date = (select max(as_of_date) from {_quoted(table)})"
            if "as_of_date" in present
            else ""
        )
        order_by = ", ".join(_quoted(c) for c in order if c in present) or "1"
        return self.rows(
            f"select {self.select(table, wanted)} from {_quoted(table)} {where} order by {order_by}"
        )


def _risk(r: _Reader) -> list[dict[str, Any]]:
    """Customers per value tier and churn risk level; a customer without a level (a prospect) counts as ``n/a``."""
    if not (r.has("customer_value_tier") and r.has("customer_churn_indicators")):
        return []
    if "churn_risk_level" not in r.columns("customer_churn_indicators"):
        return []
    return r.rows(
        "select v.value_tier, coalesce(c.churn_risk_level, 'n/a') as churn_risk_level, count(*) as customers "
        "from customer_value_tier v join customer_churn_indicators c using (customer_id) "
        "group by all order by all"
    )


def _backtest(r: _Reader) -> list[dict[str, Any]]:
    """The buckets of the newest backtest, one row per bucket."""
    wanted = [
        "as_of_date",
        "calibration_end_date",
        "holdout_days",
        "frequency_bucket",
        "bucket_order",
        "customers",
        "predicted_purchases",
        "actual_purchases",
        "purchases_mae",
        "predicted_avg_spend",
        "actual_avg_spend",
        "spend_mae",
    ]
    if not r.has("model_backtest") or "frequency_bucket" not in r.columns("model_backtest"):
        return []
    rows = r.latest("model_backtest", wanted, ["bucket_order", "frequency_bucket"])
    # One row per bucket even if a day was backtested twice: the first one in bucket order wins.
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(str(row["frequency_bucket"]), row)
    return list(seen.values())


def _clv(r: _Reader) -> list[dict[str, Any]] | None:
    """CLV quantiles and total per value tier, when ``customer_360`` carries a ``clv`` column."""
    if "customer_360" not in r.tables or not {"clv", "value_tier"} <= set(r.columns("customer_360")):
        return None
    quantiles = ", ".join(str(q) for q in CLV_QUANTILES)
    rows = r.rows(
        "select value_tier, count(*) as customers, count(clv) as with_clv, sum(clv) as total_clv, "
        f"quantile_cont(clv, [{quantiles}]) as q from customer_360 group by value_tier order by value_tier"
    )
    for row in rows:
        row["q"] = [_plain(v) for v in row["q"]] if row["q"] is not None else None
    return rows


def _currency(r: _Reader) -> str | None:
    """The reporting currency, from the first published table that carries a ``reporting_currency`` column."""
    tables = [
        row[0]
        for row in r.con.execute(
            "select table_name from duckdb_columns() where schema_name = current_schema() and column_name = ? "
            "order by table_name",
            [CURRENCY_COLUMN],
        ).fetchall()
    ]
    for table in tables:
        order = "as_of_date desc nulls last" if "as_of_date" in r.columns(table) else "1"
        found = r.con.execute(
            f"select {_quoted(CURRENCY_COLUMN)} from {_quoted(table)} "
            f"where {_quoted(CURRENCY_COLUMN)} is not null order by {order} limit 1"
        ).fetchone()
        if found and str(found[0]).strip():
            return str(found[0]).strip()
    return None


def load_report_data(con: duckdb.DuckDBPyConnection) -> ReportData:
    """Read all report inputs from an open connection to the published database."""
    r = _Reader(con)
    data = ReportData()
    data.tiers = r.latest(
        "kpi_customers_by_tier",
        [
            "as_of_date",
            "value_tier",
            "tier_order",
            "customers",
            "customer_share",
            "net_revenue_365d",
            "revenue_share",
            "avg_value_score",
        ],
        ["tier_order", "value_tier"],
    )
    data.stages = r.latest(
        "kpi_stage_counts", ["lifecycle_stage", "stage_order", "customers", "customer_share"], ["stage_order"]
    )
    data.satisfaction = r.latest(
        "kpi_satisfaction_by_tier",
        [
            "value_tier",
            "tier_order",
            "nps_responses",
            "promoters",
            "detractors",
            "nps",
            "csat_answers",
            "csat_share",
        ],
        ["tier_order", "value_tier"],
    )
    data.revenue = r.latest(
        "kpi_revenue_by_tier_monthly",
        ["month", "value_tier", "orders", "net_revenue"],
        ["month", "value_tier"],
    )
    data.cohorts = r.latest(
        "kpi_cohort_retention",
        [
            "as_of_date",
            "cohort_month",
            "months_since_first_order",
            "cohort_customers",
            "active_customers",
            "retention_rate",
        ],
        ["cohort_month", "months_since_first_order"],
    )
    if r.has("kpi_churn_rate"):
        order = "as_of_date desc" if "as_of_date" in r.columns("kpi_churn_rate") else "1"
        churn = r.rows(f"select * from kpi_churn_rate order by {order} limit 1")
        data.churn = churn[0] if churn else None
    data.risk = _risk(r)
    if r.has("kpi_tier_transitions_monthly"):
        data.transitions = r.rows(
            "select month, dimension, from_value, to_value, customers from kpi_tier_transitions_monthly "
            "order by month, dimension, from_value, to_value"
        )
    data.backtest = _backtest(r)
    data.clv = _clv(r)
    if r.has("publication_log"):
        wanted = [
            "run_id",
            "as_of_date",
            "status",
            "logged_at",
            "tables_published",
            "checks_passed",
            "checks_failed",
            "warnings",
            "message",
        ]
        present = set(r.columns("publication_log"))
        cols = ", ".join(_quoted(c) for c in wanted if c in present) or "*"
        order = "logged_at desc nulls last" if "logged_at" in present else "1"
        data.log = r.rows(f"select {cols} from publication_log order by {order} limit {LOG_ROWS}")
    data.currency = _currency(r)
    data.missing = r.missing

    candidates = [row["as_of_date"] for row in data.tiers[:1]]
    if data.churn:
        candidates.append(data.churn.get("as_of_date"))
    candidates += [row.get("as_of_date") for row in data.log if row.get("status") == "published"]
    data.as_of = next((c for c in candidates if isinstance(c, date)), None)
    return data


def read_published(published_db: Path) -> ReportData:
    """Open the published database read-only (times in UTC) and read the report's inputs."""
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        try:
            con.execute("set TimeZone = 'UTC'")
        except duckdb.Error:  # pragma: no cover - only without the ICU extension
            pass
        return load_report_data(con)
    finally:
        con.close()
