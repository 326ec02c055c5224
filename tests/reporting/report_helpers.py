"""Helpers of the report tests: the fixture database, reading SVG and HTML, and the check that amounts carry their
currency."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import duckdb

AS_OF = "2026-06-30"

# One tier (high) without customers, no tier transitions yet, the five coherent risk levels, twelve cohorts (one
# cohort-month without orders, one NULL rate), a backtest without bucket 5 and an older backtest that must not show,
# and CLV for every tier but none.
FIXTURE_SQL = """
create table kpi_customers_by_tier as select * from (values
    (date '2026-06-30', 'vip',    1,   4, 0.04, 400000.00::decimal(38,10), 0.50,  95.0),
    (date '2026-06-30', 'high',   2,   0, 0.00,      0.00::decimal(38,10), 0.00,  null),
    (date '2026-06-30', 'medium', 3,  30, 0.30, 250000.00::decimal(38,10), 0.3125, 60.0),
    (date '2026-06-30', 'low',    4,  56, 0.56, 150000.00::decimal(38,10), 0.1875, 20.0),
    (date '2026-06-30', 'none',   5,  10, 0.10,      0.00::decimal(38,10), 0.00,  null)
) t(as_of_date, value_tier, tier_order, customers, customer_share, net_revenue_365d, revenue_share, avg_value_score);

create table kpi_stage_counts as select * from (values
    (date '2026-06-30', 'prospect', 1, 10, 0.10),
    (date '2026-06-30', 'new', 2, 12, 0.12),
    (date '2026-06-30', 'growing', 3, 8, 0.08),
    (date '2026-06-30', 'mature', 4, 40, 0.40),
    (date '2026-06-30', 'reactivated', 5, 5, 0.05),
    (date '2026-06-30', 'declining', 6, 15, 0.15),
    (date '2026-06-30', 'churned', 7, 10, 0.10)
) t(as_of_date, lifecycle_stage, stage_order, customers, customer_share);

create table customer_value_tier as
select printf('C%07d', i) as customer_id, date '2026-06-30' as as_of_date,
       case when i <= 4 then 'vip' when i <= 34 then 'medium' when i <= 90 then 'low' else 'none' end as value_tier
from range(1, 101) r(i);

-- 91-95 are prospects (no score, level n/a), 96-100 churned customers; the others by score.
create table customer_churn_indicators as
select printf('C%07d', i) as customer_id, date '2026-06-30' as as_of_date,
       case when i between 91 and 95 then null else (i * 37 % 100)::double end as churn_risk_score,
       case when i between 91 and 95 then 'n/a' when i > 95 then 'churned'
            when i * 37 % 100 >= 70 then 'high' when i * 37 % 100 >= 40 then 'medium' else 'low' end
           as churn_risk_level,
       0.5 as p_alive
from range(1, 101) r(i);

create table kpi_satisfaction_by_tier as select * from (values
    (date '2026-06-30', 'vip',    1,  5, 3, 1,  40.0, 12, 0.75),
    (date '2026-06-30', 'high',   2,  0, 0, 0,  null,  0, null),
    (date '2026-06-30', 'medium', 3, 20, 6, 9, -15.0, 40, 0.55),
    (date '2026-06-30', 'low',    4, 30, 12, 6, 20.0, 60, 0.65),
    (date '2026-06-30', 'none',   5,  2, 1, 1,   0.0,  4, 0.50)
) t(as_of_date, value_tier, tier_order, nps_responses, promoters, detractors, nps, csat_answers, csat_share);

create table kpi_tier_transitions_monthly (
    month date, dimension varchar, from_value varchar, to_value varchar, customers bigint
);

create table kpi_revenue_by_tier_monthly as
select date '2026-06-30' as as_of_date, m.month, t.value_tier, 10 as orders,
       ((t.k * 1000) + extract(month from m.month) * 100)::decimal(38,10) as net_revenue
from (select unnest(generate_series(date '2025-07-01', date '2026-06-01', interval 1 month))::date as month) m,
     (values ('vip', 5), ('medium', 3), ('low', 1)) t(value_tier, k);

-- Cohorts Jul 25 - Jun 26 of 40 + month customers; month k keeps 40% / k of them. Aug 25 has no order in month 5,
-- Sep 25 a NULL rate in month 2. An older snapshot holds a cohort that must not show.
create table kpi_cohort_retention as
with cohorts as (
    select unnest(generate_series(date '2025-07-01', date '2026-06-01', interval 1 month))::date as cohort_month
),
cells as (
    select cohort_month, k as months_since_first_order, 40 + month(cohort_month) as cohort_customers,
           case when k = 0 then 40 + month(cohort_month) else ((40 + month(cohort_month)) * 0.4 / k)::int end
               as active_customers
    from cohorts, range(0, 12) r(k)
    where cohort_month + to_months(k) <= date '2026-06-30'
)
select date '2026-06-30' as as_of_date, cohort_month, months_since_first_order, cohort_customers, active_customers,
       case when cohort_month = date '2025-09-01' and months_since_first_order = 2 then null
            else round(active_customers / cohort_customers, 4) end as retention_rate
from cells
where not (cohort_month = date '2025-08-01' and months_since_first_order = 5)
union all
select date '2026-05-31', date '2019-01-01', 0, 10, 10, 1.0;

create table model_backtest as
select date '2026-06-30' as as_of_date, date '2026-04-01' as calibration_end_date, 90 as holdout_days,
       b.bucket as frequency_bucket, b.o as bucket_order, b.n::bigint as customers,
       b.p::double as predicted_purchases, b.a::double as actual_purchases, b.mae::double as purchases_mae,
       b.ps::double as predicted_avg_spend, b.asp::double as actual_avg_spend, b.smae::double as spend_mae
from (values
    ('0', 0, 400, 60.5, 52.0, 0.21, 40.0, 38.5, 9.5),
    ('1', 1, 150, 80.2, 91.0, 0.55, 45.0, 47.0, 11.0),
    ('2', 2, 90, 70.0, 64.0, 0.71, 50.0, 49.0, 12.5),
    ('3', 3, 50, 52.3, 55.0, 0.90, 52.0, 55.0, 13.0),
    ('4', 4, 30, 40.1, 37.0, 1.10, 55.0, 54.0, 14.0),
    ('6', 6, 12, 22.0, 25.0, 1.40, 60.0, 58.0, 15.0),
    ('7+', 7, 20, 61.0, 58.0, 1.90, 70.0, 74.0, 16.0),
    ('total', 8, 752, 386.1, 382.0, 0.43, 47.1, 46.2, 10.25)
) b(bucket, o, n, p, a, mae, ps, asp, smae)
union all
select date '2026-05-31', date '2026-03-02', 90, '0', 0, 999, 9999.0, 9999.0, 9.99, 1.0, 1.0, 1.0;

create table customer_360 as
select customer_id, value_tier,
       case value_tier when 'vip' then 5000.0 + n * 100 when 'medium' then 800.0 + n * 10
                       when 'low' then 100.0 + n end as clv
from (select *, cast(substr(customer_id, 2) as integer) as n from customer_value_tier);

create table kpi_churn_rate as select
    date '2026-06-30' as as_of_date, date '2026-04-01' as window_start_date,
    80::bigint as active_customers_at_start, 6::bigint as churned_customers, 0.075 as churn_rate;

create table publication_log as select * from (values
    ('run-older', date '2026-05-31', 'published', timestamp '2026-05-31 06:00:00', 15, '{}'::json, 90, 0, 1,
     null::varchar, '[]'::json, 'published 15 tables for as-of date 2026-05-31'),
    ('run-<b>7</b>', date '2026-06-30', 'published', timestamp '2026-06-30 06:00:00', 15, '{}'::json, 97, 0, 0,
     null, '[]'::json, 'published 15 tables & more for as-of date 2026-06-30')
) t(run_id, as_of_date, status, logged_at, tables_published, row_counts, checks_passed, checks_failed, warnings,
    failed_checks, checks, message);
"""


def build_db(path: Path, *statements: str) -> Path:
    """The fixture database at ``path``, changed by ``statements`` (run after the fixture SQL)."""
    con = duckdb.connect(str(path))
    try:
        con.execute(FIXTURE_SQL)
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()
    return path


# ------------------------------------------------------------------------------------------------------------
# Reading charts and pages
# ------------------------------------------------------------------------------------------------------------


def svg_root(svg: str) -> ET.Element:
    """A chart's SVG parsed as XML: it must be well-formed to be parsed at all."""
    return ET.fromstring(svg)


def svg_texts(svg: str) -> list[str]:
    """The contents of every ``<text>`` of a chart, in document order."""
    return [el.text or "" for el in svg_root(svg).iter("text")]


def svg_titles(svg: str) -> list[str]:
    """The tooltips of a chart (``<title>`` of its shapes), in document order."""
    return [el.text or "" for el in svg_root(svg).iter("title")]


def svg_texts_of_class(svg: str, cls: str) -> list[str]:
    return [el.text or "" for el in svg_root(svg).iter("text") if cls in (el.get("class") or "").split()]


def titled_rects(svg: str) -> list[tuple[str, str]]:
    """(fill, tooltip) of every rectangle with a tooltip: the drawn data marks of a chart."""
    out = []
    for el in svg_root(svg).iter("rect"):
        title = el.find("title")
        if title is not None:
            out.append((el.get("fill") or "", title.text or ""))
    return out


SHAPES = ("rect", "path", "circle", "line", "polygon", "polyline")


@dataclass
class Figure:
    """What one ``figure[data-chart]`` of the page holds."""

    svg: int = 0
    shapes: int = 0
    texts: list[tuple[str, str]] = field(default_factory=list)  # (class, content) of svg <text>
    titles: list[str] = field(default_factory=list)
    caption: str = ""


class PageParser(HTMLParser):
    """Collects the figures of a report page, the headline cards and every URL an element points at."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, Figure] = {}
        self.cards: dict[str, str] = {}
        self.urls: list[str] = []
        self._figure: str | None = None
        self._stack: list[tuple[str, str]] = []  # (tag, class) of the open elements
        self._card_key: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("src", "href", "xlink:href", "action", "poster", "data"):
            if a.get(key):
                self.urls.append(a[key] or "")
        if tag == "figure" and a.get("data-chart"):
            self._figure = a["data-chart"]
            self.figures[self._figure] = Figure()
        elif self._figure:
            if tag == "svg":
                self.figures[self._figure].svg += 1
            elif tag in SHAPES:
                self.figures[self._figure].shapes += 1
        self._stack.append((tag, a.get("class") or ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._stack.pop()

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            open_tag, _ = self._stack.pop()
            if open_tag == tag:
                break
        if tag == "figure":
            self._figure = None

    def handle_data(self, data: str) -> None:
        if not self._stack:
            return
        tag, cls = self._stack[-1]
        if self._figure:
            fig = self.figures[self._figure]
            if tag == "text":
                fig.texts.append((cls, data))
            elif tag == "title":
                fig.titles.append(data)
            elif tag == "span" and cls == "note":
                fig.caption += data
        elif tag == "div" and cls == "k":
            self._card_key = data
        elif tag == "div" and cls == "v" and self._card_key:
            self.cards[self._card_key] = data


def parse_page(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    parser.close()
    return parser


# An amount introduced by one of these words ("net revenue 400,000", "median 5.2k") must carry the currency.
_AMOUNT_AFTER_WORD = re.compile(
    r"\b(?i:revenue|spend|clv|median|total|percentile)\b[:\s]*(?P<unit>[A-Z]{3}\s)?(?P<amount>-?\d[\d,.]*[kM]?)"
)


def money_gaps(html: str, currency: str) -> list[str]:
    """Every amount on a report page that lacks ``currency``: amount labels (class ``money``), tooltips, captions and
    axis titles that state an amount, the revenue card. Empty when every amount carries its currency."""
    page = parse_page(html)
    gaps = []
    revenue_card = page.cards.get("Net revenue, 365 days")
    if revenue_card is None or not revenue_card.startswith(f"{currency} "):
        gaps.append(f"headline card: {revenue_card!r}")
    for name, fig in page.figures.items():
        for cls, content in fig.texts:
            if "money" in cls.split() and f"{currency} " not in content:
                gaps.append(f"{name} label: {content!r}")
            if (
                "axis" in cls.split()
                and re.search(r"revenue|clv|spend", content, re.I)
                and currency not in content
            ):
                gaps.append(f"{name} axis: {content!r}")
        for content in [*fig.titles, fig.caption, *(c for _, c in fig.texts)]:
            for m in _AMOUNT_AFTER_WORD.finditer(content):
                if (m.group("unit") or "").strip() != currency:
                    gaps.append(f"{name}: {m.group(0)!r} in {content!r}")
    return gaps
