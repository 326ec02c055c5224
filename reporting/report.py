"""Self-contained HTML run report built from the published DuckDB database.

The report is one HTML file with an inline stylesheet and inline SVG charts drawn here in Python: no scripts, no
fonts, no external resources, so it opens offline, in mail clients and prints well. Every text that comes from the
database is escaped.

Charts (each a ``<figure data-chart="...">`` holding one ``<svg>`` and a ``<figcaption>``):

``tier_distribution``
    customers and trailing-365-day net revenue per value tier (``kpi_customers_by_tier``).
``lifecycle_funnel``
    customers per lifecycle stage in rule order (``kpi_stage_counts``).
``churn_risk_by_tier``
    share of low / medium / high churn risk within each value tier (``customer_value_tier`` joined to
    ``customer_churn_indicators`` on ``customer_id``).
``satisfaction_by_tier``
    NPS (promoters minus detractors, percent points) and CSAT (share of answers 4-5) per tier
    (``kpi_satisfaction_by_tier``).
``tier_transitions``
    from/to matrices of tier and lifecycle stage for the latest month with transitions
    (``kpi_tier_transitions_monthly``); an explicit "no transitions yet" panel when the table is empty.
``revenue_by_tier``
    monthly net revenue stacked by the customers' current tier (``kpi_revenue_by_tier_monthly``).

The header shows the as-of date, run id, headline numbers (customers, 365-day net revenue, churn rate, overall NPS)
and the latest ``publication_log`` rows. A table that is missing from the database gives an empty panel with a note
instead of an error, so a report can always be written.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

import duckdb

__all__ = ["render_report"]

TIERS: tuple[str, ...] = ("vip", "high", "medium", "low", "none")
STAGES: tuple[str, ...] = ("prospect", "new", "growing", "mature", "reactivated", "declining", "churned")
RISK_LEVELS: tuple[str, ...] = ("low", "medium", "high")

TIER_COLORS: dict[str, str] = {
    "vip": "#1b3a5c",
    "high": "#2f6690",
    "medium": "#5f9cc6",
    "low": "#a8cbe3",
    "none": "#c5cbd3",
}
STAGE_COLORS: dict[str, str] = {
    "prospect": "#b9c1cc",
    "new": "#8ec1de",
    "growing": "#4f95c4",
    "mature": "#2f6690",
    "reactivated": "#5f9f82",
    "declining": "#dca33a",
    "churned": "#bd5340",
}
RISK_COLORS: dict[str, str] = {"low": "#5f9f82", "medium": "#dca33a", "high": "#bd5340"}
FALLBACK_COLOR = "#9aa3ae"
INK = "#1f2933"
MUTED = "#616e7c"
GRID = "#e4e7eb"
AXIS = "#9aa5b1"

HALF_WIDTH = 560
FULL_WIDTH = 1160
LOG_ROWS = 8
NO_TRANSITIONS = "No transitions yet (needs runs in two different months)"


# --------------------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------------------


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
    churn: dict[str, Any] | None = None
    log: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _plain(value: Any) -> Any:
    """DuckDB DECIMAL comes back as ``Decimal``; charts only need floats."""
    return float(value) if isinstance(value, Decimal) else value


class _Reader:
    """Thin query helper that knows which published tables exist."""

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

    def has(self, table: str) -> bool:
        if table in self.tables:
            return True
        if table not in self.missing:
            self.missing.append(table)
        return False

    def columns(self, table: str) -> list[str]:
        return [row[0] for row in self.con.execute(f'describe "{table}"').fetchall()]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.con.execute(sql, list(params))
        names = [d[0] for d in cur.description]
        return [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]

    def latest(self, table: str, select: str, order: str) -> list[dict[str, Any]]:
        """Rows of ``table`` for its latest ``as_of_date`` (KPI tables carry one snapshot per run)."""
        if not self.has(table):
            return []
        return self.rows(
            f'select {select} from "{table}" '
            f'where as_of_date = (select max(as_of_date) from "{table}") order by {order}'
        )


def load_report_data(con: duckdb.DuckDBPyConnection) -> ReportData:
    """Read all report inputs from an open connection to the published database."""
    r = _Reader(con)
    data = ReportData()
    data.tiers = r.latest(
        "kpi_customers_by_tier",
        "as_of_date, value_tier, tier_order, customers, customer_share, net_revenue_365d, revenue_share, "
        "avg_value_score",
        "tier_order, value_tier",
    )
    data.stages = r.latest(
        "kpi_stage_counts", "lifecycle_stage, stage_order, customers, customer_share", "stage_order"
    )
    data.satisfaction = r.latest(
        "kpi_satisfaction_by_tier",
        "value_tier, tier_order, nps_responses, promoters, detractors, nps, csat_answers, csat_share",
        "tier_order, value_tier",
    )
    data.revenue = r.latest(
        "kpi_revenue_by_tier_monthly", "month, value_tier, orders, net_revenue", "month, value_tier"
    )
    if r.has("kpi_churn_rate"):
        churn = r.rows("select * from kpi_churn_rate order by as_of_date desc limit 1")
        data.churn = churn[0] if churn else None
    if r.has("customer_value_tier") and r.has("customer_churn_indicators"):
        data.risk = r.rows(
            "select v.value_tier, coalesce(c.churn_risk_level, 'unknown') as churn_risk_level, "
            "count(*) as customers, avg(c.churn_risk_score) as avg_risk_score "
            "from customer_value_tier v join customer_churn_indicators c using (customer_id) "
            "group by all order by all"
        )
    if r.has("kpi_tier_transitions_monthly"):
        data.transitions = r.rows(
            "select month, dimension, from_value, to_value, customers from kpi_tier_transitions_monthly "
            "order by month, dimension, from_value, to_value"
        )
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
        cols = ", ".join(f'"{c}"' for c in wanted if c in present) or "*"
        order = "logged_at desc nulls last" if "logged_at" in present else "1"
        data.log = r.rows(f"select {cols} from publication_log order by {order} limit {LOG_ROWS}")
    data.missing = r.missing

    candidates = [row["as_of_date"] for row in data.tiers[:1]]
    if data.churn:
        candidates.append(data.churn.get("as_of_date"))
    candidates += [row.get("as_of_date") for row in data.log if row.get("status") == "published"]
    data.as_of = next((c for c in candidates if isinstance(c, date)), None)
    return data


# --------------------------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------------------------


def _num(value: float) -> str:
    """A coordinate for an SVG attribute: short, no trailing zeros."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _int(value: Any) -> str:
    return f"{int(value or 0):,}"


def _pct(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{float(value) * 100:.{digits}f}%"


def _compact(value: float) -> str:
    """1234567 -> 1.23M, 83456 -> 83.5k, 950 -> 950."""
    v = abs(value)
    sign = "-" if value < 0 else ""
    if v >= 1e6:
        return f"{sign}{v / 1e6:.3g}M"
    if v >= 1e3:
        return f"{sign}{v / 1e3:.3g}k"
    return f"{sign}{v:.0f}"


def _signed(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    text = f"{float(value):+.{digits}f}"
    return text[1:] if float(text) == 0 else text


def _month_label(value: Any) -> str:
    return value.strftime("%b %y") if isinstance(value, date) else str(value)


def _label(value: Any) -> str:
    return "(none)" if value is None else str(value)


def _nice_step(raw: float) -> float:
    exponent = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw / exponent <= mult + 1e-9:
            return mult * exponent
    return 10 * exponent


def _ticks(vmax: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``vmax``."""
    vmax = vmax if vmax > 0 else 1
    step = _nice_step(vmax / count)
    n = math.ceil(vmax / step - 1e-9)
    return [i * step for i in range(n + 1)]


def _ordered(values: Iterable[str], preferred: Sequence[str]) -> list[str]:
    seen = list(dict.fromkeys(values))
    first = [v for v in dict.fromkeys(preferred) if v in seen]
    return first + sorted(v for v in seen if v not in first)


# --------------------------------------------------------------------------------------------------------------
# SVG primitives
# --------------------------------------------------------------------------------------------------------------


def _attrs(attrs: dict[str, Any]) -> str:
    parts = []
    for key, value in attrs.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        text = _num(value) if isinstance(value, float) else str(value)
        parts.append(f'{name}="{escape(text)}"')
    return " ".join(parts)


def _text(x: float, y: float, content: str, *, anchor: str = "start", cls: str = "", **attrs: Any) -> str:
    return (
        f"<text {_attrs({'x': float(x), 'y': float(y), 'text_anchor': anchor, 'class': cls or None, **attrs})}>"
        f"{escape(content)}</text>"
    )


def _rect(
    x: float, y: float, w: float, h: float, fill: str, *, title: str | None = None, **attrs: Any
) -> str:
    a = _attrs(
        {
            "x": float(x),
            "y": float(y),
            "width": float(max(w, 0)),
            "height": float(max(h, 0)),
            "fill": fill,
            **attrs,
        }
    )
    if title:
        return f"<rect {a}><title>{escape(title)}</title></rect>"
    return f"<rect {a}/>"


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str = GRID, **attrs: Any) -> str:
    return f"<line {_attrs({'x1': float(x1), 'y1': float(y1), 'x2': float(x2), 'y2': float(y2), 'stroke': stroke, **attrs})}/>"


def _svg(width: int, height: float, label: str, body: Iterable[str]) -> str:
    h = _num(float(height))
    return (
        f'<svg viewBox="0 0 {width} {h}" width="{width}" height="{h}" role="img" aria-label="{escape(label)}">'
        + "".join(body)
        + "</svg>"
    )


def _legend(x: float, y: float, items: Sequence[tuple[str, str]]) -> list[str]:
    """A horizontal legend of colour swatches."""
    out: list[str] = []
    for name, color in items:
        out.append(_rect(x, y - 9, 11, 11, color, rx=2))
        out.append(_text(x + 16, y, name, cls="legend"))
        x += 30 + 7 * len(name)
    return out


def _placeholder(width: int, height: float, message: str, *, x: float = 0, y: float = 0) -> list[str]:
    """A dashed box with a centred message: drawn instead of a chart that has no data."""
    return [
        _rect(x + 1, y + 1, width - 2, height - 2, "#f8f9fa", rx=6, stroke=AXIS, stroke_dasharray="5 4"),
        _text(x + width / 2, y + height / 2 + 4, message, anchor="middle", cls="empty"),
    ]


@dataclass
class _Bar:
    label: str
    value: float | None
    color: str
    text: str
    title: str


def _hbar_panel(
    bars: Sequence[_Bar],
    *,
    x0: float,
    width: float,
    top: float,
    row_h: float,
    domain: tuple[float, float],
    ticks: Sequence[float],
    tick_fmt: Any,
    axis_label: str,
    bar_h: float = 18,
) -> list[str]:
    """Horizontal bars in one panel, with grid, tick labels, value labels and an axis label below."""
    lo, hi = domain
    span = hi - lo or 1.0

    def sx(v: float) -> float:
        return x0 + (v - lo) / span * width

    bottom = top + row_h * len(bars)
    out = []
    for t in ticks:
        out.append(_line(sx(t), top - 4, sx(t), bottom, GRID))
        out.append(_text(sx(t), bottom + 14, tick_fmt(t), anchor="middle", cls="tick"))
    zero = sx(max(lo, 0.0))
    out.append(_line(zero, top - 4, zero, bottom, AXIS))
    out.append(_text(x0 + width / 2, bottom + 32, axis_label, anchor="middle", cls="axis"))
    for i, bar in enumerate(bars):
        y = top + i * row_h + (row_h - bar_h) / 2
        mid = y + bar_h / 2 + 4
        if bar.value is None:
            out.append(_text(zero + 6, mid, bar.text, cls="note"))
            continue
        end = sx(bar.value)
        left, right = min(zero, end), max(zero, end)
        out.append(_rect(left, y, right - left, bar_h, bar.color, title=bar.title, rx=2))
        if bar.value < 0:
            out.append(_text(left - 5, mid, bar.text, anchor="end", cls="value"))
        else:
            out.append(_text(right + 5, mid, bar.text, cls="value"))
    return out


def _row_labels(
    labels: Sequence[str], *, x: float, top: float, row_h: float, subs: Sequence[str] = ()
) -> list[str]:
    out = []
    for i, label in enumerate(labels):
        mid = top + i * row_h + row_h / 2
        if subs and subs[i]:
            out.append(_text(x, mid - 1, label, anchor="end", cls="label"))
            out.append(_text(x, mid + 11, subs[i], anchor="end", cls="sub"))
        else:
            out.append(_text(x, mid + 4, label, anchor="end", cls="label"))
    return out


# --------------------------------------------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------------------------------------------


def _tier_rows(data: ReportData) -> list[dict[str, Any]]:
    """Tier rows in tier order, with a zero row for every standard tier that has no customers."""
    by_tier = {row["value_tier"]: row for row in data.tiers}
    names = _ordered(
        [*by_tier, *TIERS],
        sorted(by_tier, key=lambda t: (by_tier[t].get("tier_order") or 99, t)) + list(TIERS),
    )
    empty = {"customers": 0, "customer_share": 0.0, "net_revenue_365d": 0.0, "revenue_share": 0.0}
    return [{"value_tier": n, **empty, **by_tier.get(n, {})} for n in names]


def chart_tier_distribution(data: ReportData) -> str:
    """Customers and trailing-365-day net revenue per value tier, side by side."""
    rows = _tier_rows(data)
    labels = [r["value_tier"] for r in rows]
    top, row_h, label_w, gap, reserve = 34, 30, 64, 34, 78
    panel_w = (HALF_WIDTH - label_w - gap - 2 * reserve) / 2
    height = top + row_h * len(rows) + 44
    cust_max = max((r["customers"] or 0) for r in rows)
    rev_max = max((r["net_revenue_365d"] or 0) for r in rows)
    cust_ticks, rev_ticks = _ticks(cust_max, 3), _ticks(rev_max, 3)
    x_cust = label_w + 8
    x_rev = x_cust + panel_w + reserve + gap
    body = [
        _text(x_cust, 16, "Customers", cls="panel"),
        _text(x_rev, 16, "Net revenue, last 365 days", cls="panel"),
        *_row_labels(labels, x=label_w, top=top, row_h=row_h),
    ]
    body += _hbar_panel(
        [
            _Bar(
                r["value_tier"],
                float(r["customers"] or 0),
                TIER_COLORS.get(r["value_tier"], FALLBACK_COLOR),
                f"{_int(r['customers'])} · {_pct(r['customer_share'])}",
                f"{r['value_tier']}: {_int(r['customers'])} customers ({_pct(r['customer_share'])})",
            )
            for r in rows
        ],
        x0=x_cust,
        width=panel_w,
        top=top,
        row_h=row_h,
        domain=(0, cust_ticks[-1]),
        ticks=cust_ticks,
        tick_fmt=lambda t: _compact(t),
        axis_label="customers",
    )
    body += _hbar_panel(
        [
            _Bar(
                r["value_tier"],
                float(r["net_revenue_365d"] or 0),
                TIER_COLORS.get(r["value_tier"], FALLBACK_COLOR),
                f"{_compact(float(r['net_revenue_365d'] or 0))} · {_pct(r['revenue_share'])}",
                f"{r['value_tier']}: net revenue {float(r['net_revenue_365d'] or 0):,.0f} "
                f"({_pct(r['revenue_share'])} of total)",
            )
            for r in rows
        ],
        x0=x_rev,
        width=panel_w,
        top=top,
        row_h=row_h,
        domain=(0, rev_ticks[-1]),
        ticks=rev_ticks,
        tick_fmt=lambda t: _compact(t),
        axis_label="net revenue",
    )
    return _svg(HALF_WIDTH, height, "Customers and 365-day net revenue by value tier", body)


def chart_lifecycle_funnel(data: ReportData) -> str:
    """Customers per lifecycle stage as centred bars, in the order the stage rules are applied."""
    rows = sorted(data.stages, key=lambda r: (r.get("stage_order") or 99, r["lifecycle_stage"]))
    if not rows:
        return _svg(
            HALF_WIDTH, 180, "Lifecycle funnel", _placeholder(HALF_WIDTH, 180, "No lifecycle stage counts")
        )
    top, row_h, label_w, value_w = 14, 30, 92, 112
    area_w = HALF_WIDTH - label_w - value_w - 16
    center = label_w + 8 + area_w / 2
    vmax = max(float(r["customers"] or 0) for r in rows) or 1.0
    height = top + row_h * len(rows) + 34
    body = [_line(center, top - 4, center, top + row_h * len(rows), GRID, stroke_dasharray="2 3")]
    body += _row_labels([r["lifecycle_stage"] for r in rows], x=label_w, top=top, row_h=row_h)
    for i, r in enumerate(rows):
        n = float(r["customers"] or 0)
        w = max(n / vmax * area_w, 2.0 if n else 0.0)
        y = top + i * row_h + 5
        stage = r["lifecycle_stage"]
        body.append(
            _rect(
                center - w / 2,
                y,
                w,
                row_h - 10,
                STAGE_COLORS.get(stage, FALLBACK_COLOR),
                title=f"{stage}: {_int(n)} customers ({_pct(r.get('customer_share'))})",
                rx=3,
            )
        )
        body.append(
            _text(
                HALF_WIDTH - 8,
                y + (row_h - 10) / 2 + 4,
                f"{_int(n)} · {_pct(r.get('customer_share'))}",
                anchor="end",
                cls="value",
            )
        )
    body.append(
        _text(
            center, top + row_h * len(rows) + 24, "customers (bar width ∝ count)", anchor="middle", cls="axis"
        )
    )
    return _svg(HALF_WIDTH, height, "Customers by lifecycle stage", body)


def chart_churn_risk_by_tier(data: ReportData) -> str:
    """100% stacked bars: the share of each churn risk level within each value tier."""
    counts: dict[str, dict[str, int]] = {}
    for row in data.risk:
        counts.setdefault(row["value_tier"], {})[row["churn_risk_level"]] = int(row["customers"] or 0)
    tiers = [r["value_tier"] for r in _tier_rows(data)]
    tiers += [t for t in _ordered(counts, TIERS) if t not in tiers]
    levels = _ordered([lvl for c in counts.values() for lvl in c], RISK_LEVELS)
    for lvl in RISK_LEVELS:
        if lvl not in levels:
            levels.append(lvl)
    levels = _ordered(levels, RISK_LEVELS)
    top, row_h, label_w, right_w, bar_h = 40, 30, 64, 62, 18
    x0 = label_w + 8
    width = HALF_WIDTH - x0 - right_w
    bottom = top + row_h * len(tiers)
    height = bottom + 44
    body = _legend(x0, 16, [(f"{lvl} risk", RISK_COLORS.get(lvl, FALLBACK_COLOR)) for lvl in levels])
    body += _row_labels(tiers, x=label_w, top=top, row_h=row_h)
    for t in (0, 0.25, 0.5, 0.75, 1.0):
        x = x0 + t * width
        body.append(_line(x, top - 4, x, bottom, GRID))
        body.append(_text(x, bottom + 14, f"{t:.0%}", anchor="middle", cls="tick"))
    body.append(
        _text(x0 + width / 2, bottom + 32, "share of the tier's customers", anchor="middle", cls="axis")
    )
    for i, tier in enumerate(tiers):
        y = top + i * row_h + (row_h - bar_h) / 2
        tier_counts = counts.get(tier, {})
        total = sum(tier_counts.values())
        body.append(_text(HALF_WIDTH - 6, y + bar_h / 2 + 4, f"n={total:,}", anchor="end", cls="value"))
        if not total:
            body.append(_rect(x0, y, width, bar_h, "none", stroke=AXIS, stroke_dasharray="4 3", rx=2))
            body.append(_text(x0 + width / 2, y + bar_h / 2 + 4, "no customers", anchor="middle", cls="note"))
            continue
        x = x0
        for lvl in levels:
            n = tier_counts.get(lvl, 0)
            if not n:
                continue
            w = n / total * width
            body.append(
                _rect(
                    x,
                    y,
                    w,
                    bar_h,
                    RISK_COLORS.get(lvl, FALLBACK_COLOR),
                    title=f"{tier}: {n:,} of {total:,} customers at {lvl} risk ({n / total:.1%})",
                )
            )
            if w >= 34:
                cls = "inbar dark" if lvl == "medium" else "inbar"
                body.append(_text(x + w / 2, y + bar_h / 2 + 4, f"{n / total:.0%}", anchor="middle", cls=cls))
            x += w
    return _svg(HALF_WIDTH, height, "Churn risk level by value tier", body)


def chart_satisfaction_by_tier(data: ReportData) -> str:
    """NPS (diverging around zero) and CSAT share per tier, side by side."""
    by_tier = {r["value_tier"]: r for r in data.satisfaction}
    tiers = [r["value_tier"] for r in _tier_rows(data)]
    tiers += [t for t in _ordered(by_tier, TIERS) if t not in tiers]
    top, row_h, label_w, gap = 34, 30, 78, 30
    nps_reserve, csat_reserve = 34, 42
    panel_w = (HALF_WIDTH - label_w - 8 - gap - 2 * nps_reserve - csat_reserve) / 2
    x_nps = label_w + 8 + nps_reserve
    x_csat = x_nps + panel_w + nps_reserve + gap
    height = top + row_h * len(tiers) + 44
    subs = []
    nps_bars, csat_bars = [], []
    for tier in tiers:
        r = by_tier.get(tier, {})
        n_resp, n_csat = int(r.get("nps_responses") or 0), int(r.get("csat_answers") or 0)
        subs.append(f"{n_resp:,} NPS resp.")
        color = TIER_COLORS.get(tier, FALLBACK_COLOR)
        nps = r.get("nps") if n_resp else None
        csat = r.get("csat_share") if n_csat else None
        nps_bars.append(
            _Bar(
                tier,
                None if nps is None else float(nps),
                color,
                "no responses" if nps is None else _signed(nps, 0),
                f"{tier}: NPS {_signed(nps)} from {n_resp:,} responses "
                f"({int(r.get('promoters') or 0):,} promoters, {int(r.get('detractors') or 0):,} detractors)",
            )
        )
        csat_bars.append(
            _Bar(
                tier,
                None if csat is None else float(csat) * 100,
                color,
                "no answers" if csat is None else _pct(csat, 0),
                f"{tier}: CSAT {_pct(csat)} of {n_csat:,} answers scored 4-5",
            )
        )
    body = [
        _text(x_nps - nps_reserve, 16, "NPS (promoters − detractors)", cls="panel"),
        _text(x_csat, 16, "CSAT (share 4–5)", cls="panel"),
        *_row_labels(tiers, x=label_w, top=top, row_h=row_h, subs=subs),
    ]
    body += _hbar_panel(
        nps_bars,
        x0=x_nps,
        width=panel_w,
        top=top,
        row_h=row_h,
        domain=(-100, 100),
        ticks=(-100, -50, 0, 50, 100),
        tick_fmt=lambda t: f"{t:+.0f}" if t else "0",
        axis_label="NPS, percent points",
    )
    body += _hbar_panel(
        csat_bars,
        x0=x_csat,
        width=panel_w,
        top=top,
        row_h=row_h,
        domain=(0, 100),
        ticks=(0, 50, 100),
        tick_fmt=lambda t: f"{t:.0f}%",
        axis_label="CSAT, % of answers",
    )
    return _svg(HALF_WIDTH, height, "NPS and CSAT by value tier", body)


def _matrix(
    rows: list[dict[str, Any]],
    order: Sequence[str],
    *,
    x: float,
    y: float,
    cell_w: float,
    cell_h: float,
    title: str,
) -> tuple[list[str], float, float]:
    """One from/to heat map. Returns the SVG parts, its width and height."""
    values = _ordered([_label(r["from_value"]) for r in rows] + [_label(r["to_value"]) for r in rows], order)
    counts = {(_label(r["from_value"]), _label(r["to_value"])): int(r["customers"] or 0) for r in rows}
    row_totals = {v: sum(n for (f, _), n in counts.items() if f == v) for v in values}
    label_w, head = 96, 48
    gx, gy = x + label_w + 18, y + head
    grid_w, grid_h = cell_w * len(values), cell_h * len(values)
    out = [
        _text(x, y + 12, title, cls="panel"),
        _text(gx + grid_w / 2, y + 28, "to (this month) →", anchor="middle", cls="axis"),
        _text(
            x + 8,
            gy + grid_h / 2,
            "from (previous month) →",
            anchor="middle",
            cls="axis",
            transform=f"rotate(-90 {_num(x + 8)} {_num(gy + grid_h / 2)})",
        ),
    ]
    for j, to in enumerate(values):
        out.append(_text(gx + j * cell_w + cell_w / 2, gy - 7, to, anchor="middle", cls="label small"))
    for i, frm in enumerate(values):
        out.append(_text(gx - 6, gy + i * cell_h + cell_h / 2 + 4, frm, anchor="end", cls="label small"))
        for j, to in enumerate(values):
            n = counts.get((frm, to), 0)
            share = n / row_totals[frm] if row_totals[frm] else 0.0
            fill = "#f4f5f7" if not n else _blend("#e8f0f7", "#1b3a5c", 0.12 + 0.88 * share)
            cx, cy = gx + j * cell_w, gy + i * cell_h
            out.append(
                _rect(
                    cx + 1,
                    cy + 1,
                    cell_w - 2,
                    cell_h - 2,
                    fill,
                    title=f"{frm} → {to}: {n:,} customers ({share:.1%} of {frm})",
                    rx=3,
                    stroke=INK if frm == to else None,
                    stroke_width="1.2" if frm == to else None,
                )
            )
            if n:
                cls = "cell light" if share > 0.45 else "cell"
                out.append(_text(cx + cell_w / 2, cy + cell_h / 2 + 4, f"{n:,}", anchor="middle", cls=cls))
    return out, label_w + 18 + grid_w, head + grid_h


def _blend(c1: str, c2: str, t: float) -> str:
    a = [int(c1[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(c2[i : i + 2], 16) for i in (1, 3, 5)]
    t = min(max(t, 0.0), 1.0)
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def _latest_month(rows: list[dict[str, Any]], dimension: str) -> tuple[Any, list[dict[str, Any]]]:
    dim_rows = [r for r in rows if r["dimension"] == dimension]
    if not dim_rows:
        return None, []
    month = max(r["month"] for r in dim_rows)
    return month, [r for r in dim_rows if r["month"] == month]


def chart_tier_transitions(data: ReportData) -> str:
    """From/to matrices of value tier and lifecycle stage for the latest month with transitions."""
    if not data.transitions:
        return _svg(FULL_WIDTH, 120, NO_TRANSITIONS, _placeholder(FULL_WIDTH, 120, NO_TRANSITIONS))
    body: list[str] = []
    x, height = 0.0, 0.0
    for dimension, order, cell_w, name in (
        ("tier", TIERS, 64, "Value tier"),
        ("stage", STAGES, 78, "Lifecycle stage"),
    ):
        month, rows = _latest_month(data.transitions, dimension)
        if not rows:
            parts = _placeholder(420, 160, f"No {dimension} transitions yet", x=x, y=0)
            w, h = 420.0, 160.0
        else:
            parts, w, h = _matrix(
                rows, order, x=x, y=0, cell_w=cell_w, cell_h=40, title=f"{name} · {_month_label(month)}"
            )
        body += parts
        x += w + 60
        height = max(height, h)
    return _svg(FULL_WIDTH, height + 8, "Tier and stage transitions, latest month", body)


def chart_revenue_by_tier(data: ReportData) -> str:
    """Monthly net revenue as stacked bars by the customers' current value tier."""
    if not data.revenue:
        return _svg(
            FULL_WIDTH, 160, "Revenue by tier", _placeholder(FULL_WIDTH, 160, "No monthly revenue yet")
        )
    months = sorted({r["month"] for r in data.revenue})
    tiers = _ordered({r["value_tier"] for r in data.revenue}, [r["value_tier"] for r in _tier_rows(data)])
    values: dict[tuple[Any, str], float] = {}
    for r in data.revenue:
        key = (r["month"], r["value_tier"])
        values[key] = values.get(key, 0.0) + float(r["net_revenue"] or 0)
    totals = {m: sum(values.get((m, t), 0.0) for t in tiers) for m in months}
    ticks = _ticks(max(max(totals.values()), 0.0), 4)
    left, right, top, bottom_pad = 70, 12, 40, 48
    height = 360
    plot_h = height - top - bottom_pad
    plot_w = FULL_WIDTH - left - right
    base = top + plot_h

    def sy(v: float) -> float:
        return base - v / ticks[-1] * plot_h

    body = _legend(left, 16, [(t, TIER_COLORS.get(t, FALLBACK_COLOR)) for t in tiers])
    for t in ticks:
        body.append(_line(left, sy(t), left + plot_w, sy(t), GRID))
        body.append(_text(left - 8, sy(t) + 4, _compact(t), anchor="end", cls="tick"))
    body.append(_line(left, base, left + plot_w, base, AXIS))
    body.append(
        _text(
            16,
            top + plot_h / 2,
            "net revenue per month",
            anchor="middle",
            cls="axis",
            transform=f"rotate(-90 16 {_num(top + plot_h / 2)})",
        )
    )
    band = plot_w / len(months)
    bar_w = min(band * 0.72, 60)
    every = max(1, math.ceil(42 / band))
    for i, month in enumerate(months):
        x = left + i * band + (band - bar_w) / 2
        acc = 0.0
        for tier in tiers:
            v = values.get((month, tier), 0.0)
            if v <= 0:
                continue
            y1, y2 = sy(acc + v), sy(acc)
            body.append(
                _rect(
                    x,
                    y1,
                    bar_w,
                    y2 - y1,
                    TIER_COLORS.get(tier, FALLBACK_COLOR),
                    title=f"{_month_label(month)} · {tier}: {v:,.0f} ({v / totals[month]:.1%} of the month)",
                )
            )
            acc += v
        if i % every == 0:
            body.append(_text(x + bar_w / 2, base + 16, _month_label(month), anchor="middle", cls="tick"))
            if band * every >= 40 and totals[month] > 0:
                body.append(
                    _text(
                        x + bar_w / 2,
                        sy(totals[month]) - 5,
                        _compact(totals[month]),
                        anchor="middle",
                        cls="total",
                    )
                )
    body.append(_text(left + plot_w / 2, height - 8, "month", anchor="middle", cls="axis"))
    return _svg(FULL_WIDTH, height, "Monthly net revenue by current value tier", body)


# --------------------------------------------------------------------------------------------------------------
# Page
# --------------------------------------------------------------------------------------------------------------

STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f5f7; color: #1f2933;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
main { max-width: 1220px; margin: 0 auto; padding: 28px 24px 40px; }
header.top { display: flex; justify-content: space-between; align-items: flex-end; gap: 16px; flex-wrap: wrap;
  border-bottom: 1px solid #d9dde3; padding-bottom: 14px; margin-bottom: 18px; }
h1 { font-size: 22px; margin: 0 0 4px; font-weight: 650; letter-spacing: -0.01em; }
h2 { font-size: 15px; margin: 26px 0 10px; font-weight: 650; }
.meta { color: #616e7c; font-size: 13px; }
.meta b { color: #1f2933; font-weight: 600; }
.mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12px; }
.status { display: inline-block; padding: 2px 9px; border-radius: 10px; font-size: 12px; font-weight: 600;
  background: #e3efe8; color: #2d6a4f; }
.status.held_back, .status.failed { background: #f8e1dc; color: #9b2c1f; }
.banner { background: #fff4e0; border: 1px solid #f0c97a; border-radius: 8px; padding: 10px 14px; margin: 0 0 16px; }
.cards { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 14px; }
.card { background: #fff; border: 1px solid #e1e4e8; border-radius: 10px; padding: 14px 16px; }
.card .k { color: #616e7c; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .v { font-size: 26px; font-weight: 650; margin-top: 2px; font-variant-numeric: tabular-nums; }
.card .s { color: #616e7c; font-size: 12px; }
.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; margin-top: 18px; }
figure.chart { margin: 0; background: #fff; border: 1px solid #e1e4e8; border-radius: 10px; padding: 14px 16px 12px;
  break-inside: avoid; }
figure.chart.wide { grid-column: 1 / -1; }
figcaption { margin-bottom: 10px; }
figcaption .title { display: block; font-weight: 650; font-size: 15px; }
figcaption .note { display: block; color: #616e7c; font-size: 12.5px; }
figure svg { display: block; width: 100%; height: auto; max-width: 100%; overflow: visible; }
svg text { font-family: inherit; fill: #1f2933; font-size: 12px; }
svg text.tick { fill: #616e7c; font-size: 11px; font-variant-numeric: tabular-nums; }
svg text.axis { fill: #616e7c; font-size: 11px; font-style: italic; }
svg text.panel { font-size: 12px; font-weight: 600; }
svg text.label { font-size: 12.5px; font-weight: 500; }
svg text.label.small { font-size: 11.5px; }
svg text.sub { fill: #7b8794; font-size: 10px; }
svg text.value { font-size: 11.5px; font-variant-numeric: tabular-nums; }
svg text.total { fill: #3e4c59; font-size: 10px; font-variant-numeric: tabular-nums; }
svg text.note { fill: #7b8794; font-size: 11px; font-style: italic; }
svg text.legend { fill: #3e4c59; font-size: 11.5px; }
svg text.inbar { fill: #fff; font-size: 11px; font-weight: 600; }
svg text.inbar.dark { fill: #1f2933; }
svg text.cell { fill: #1f2933; font-size: 12px; font-variant-numeric: tabular-nums; }
svg text.cell.light { fill: #fff; font-weight: 600; }
svg text.empty { fill: #616e7c; font-size: 14px; }
p.empty { color: #616e7c; margin: 6px 0 0; font-size: 12.5px; }
table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid #e1e4e8; border-radius: 10px;
  overflow: hidden; font-size: 12.5px; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid #edf0f2; vertical-align: top; }
th { background: #f8f9fa; color: #616e7c; font-weight: 600; font-size: 12px; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.nowrap { white-space: nowrap; }
tr:last-child td { border-bottom: 0; }
footer { color: #7b8794; font-size: 12px; margin-top: 22px; }
@media (max-width: 900px) { .charts, .cards { grid-template-columns: 1fr; } }
@media print { body { background: #fff; } main { padding: 0; } .card, figure.chart, table { border-color: #ccc; } }
"""


def _figure(key: str, title: str, note: str, svg: str, *, wide: bool = False) -> str:
    cls = "chart wide" if wide else "chart"
    return (
        f'<figure class="{cls}" data-chart="{escape(key)}"><figcaption><span class="title">{escape(title)}</span>'
        f'<span class="note">{escape(note)}</span></figcaption>{svg}</figure>'
    )


def _headline(data: ReportData) -> list[tuple[str, str, str]]:
    customers = sum(int(r["customers"] or 0) for r in data.tiers)
    active = sum(int(r["customers"] or 0) for r in data.tiers if r["value_tier"] != "none")
    revenue = sum(float(r["net_revenue_365d"] or 0) for r in data.tiers)
    responses = sum(int(r.get("nps_responses") or 0) for r in data.satisfaction)
    promoters = sum(int(r.get("promoters") or 0) for r in data.satisfaction)
    detractors = sum(int(r.get("detractors") or 0) for r in data.satisfaction)
    nps = (promoters - detractors) / responses * 100 if responses else None
    csat_n = sum(int(r.get("csat_answers") or 0) for r in data.satisfaction)
    csat = (
        sum(float(r.get("csat_share") or 0) * int(r.get("csat_answers") or 0) for r in data.satisfaction)
        / csat_n
        if csat_n
        else None
    )
    top = data.tiers[0] if data.tiers else None
    top_share = (
        f"{_pct(top.get('revenue_share'))} from {top['value_tier']} customers"
        if top and top.get("revenue_share") is not None
        else "all tiers"
    )
    churn = data.churn or {}
    return [
        ("Customers", _int(customers), f"{active:,} bought in the last 365 days"),
        ("Net revenue, 365 days", f"{revenue:,.0f}", top_share),
        (
            "Churn rate",
            _pct(churn.get("churn_rate")),
            f"{_int(churn.get('churned_customers'))} of {_int(churn.get('active_customers_at_start'))} active on "
            f"{churn.get('window_start_date', '–')}"
            if churn
            else "no churn rate published",
        ),
        (
            "NPS overall",
            _signed(nps),
            f"{responses:,} responses · CSAT {_pct(csat, 0)}" if responses else "no survey responses",
        ),
    ]


def _log_table(rows: list[dict[str, Any]], run_id: str | None) -> str:
    if not rows:
        return '<p class="empty">No publication log entries.</p>'
    columns = [
        ("run_id", "Run id", False),
        ("as_of_date", "As of", False),
        ("status", "Status", False),
        ("logged_at", "Logged at (UTC)", False),
        ("tables_published", "Tables", True),
        ("checks_passed", "Checks passed", True),
        ("checks_failed", "Failed", True),
        ("warnings", "Warnings", True),
        ("message", "Message", False),
    ]
    columns = [c for c in columns if c[0] in rows[0]]
    head = "".join(f"<th>{escape(label)}</th>" for _, label, _ in columns)
    body = []
    for row in rows:
        cells = []
        for key, _, numeric in columns:
            value = row.get(key)
            if value is None:
                text = "–"
            elif isinstance(value, datetime):
                text = value.strftime("%Y-%m-%d %H:%M:%S")
            else:
                text = str(value)
            if key == "message" and len(text) > 140:
                text = text[:139] + "…"
            if key == "status":
                cells.append(f'<td><span class="status {escape(text)}">{escape(text)}</span></td>')
            elif key == "run_id":
                mark = " ◀" if run_id and text == run_id else ""
                cells.append(f'<td class="mono nowrap">{escape(text)}{escape(mark)}</td>')
            elif numeric:
                cells.append(f'<td class="n">{escape(text)}</td>')
            elif key in ("as_of_date", "logged_at"):
                cells.append(f'<td class="nowrap">{escape(text)}</td>')
            else:
                cells.append(f"<td>{escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def build_html(data: ReportData, *, run_id: str | None, generated_at: datetime) -> str:
    """The complete report page as a string."""
    as_of = data.as_of.isoformat() if data.as_of else "unknown"
    latest = data.log[0] if data.log else None
    if run_id is None:
        published = [r for r in data.log if r.get("status") == "published"]
        run_id = (published[0] if published else latest or {}).get("run_id")
    run_row = next((r for r in data.log if run_id and r.get("run_id") == run_id), None)
    status = (run_row or {}).get("status", "")

    banner = ""
    if run_row and status != "published":
        banner = (
            f'<div class="banner"><b>Run {escape(str(run_id))} was {escape(status.replace("_", " "))}.</b> '
            f"The figures below are from the last published data (as of {escape(as_of)}). "
            f"{escape(str(run_row.get('message') or ''))}</div>"
        )
    elif latest and latest.get("status") != "published" and latest.get("run_id") != run_id:
        banner = (
            f'<div class="banner"><b>The latest run ({escape(str(latest.get("run_id")))}) was '
            f"{escape(str(latest.get('status')).replace('_', ' '))}.</b> The figures below are from the last "
            f"published data (as of {escape(as_of)}).</div>"
        )
    if data.missing:
        banner += (
            '<div class="banner">Tables missing from the published database: '
            f"{escape(', '.join(data.missing))}. Their charts are empty.</div>"
        )

    cards = "".join(
        f'<div class="card"><div class="k">{escape(k)}</div><div class="v">{escape(v)}</div>'
        f'<div class="s">{escape(s)}</div></div>'
        for k, v, s in _headline(data)
    )
    months = sorted({r["month"] for r in data.revenue})
    revenue_note = (
        f"Net revenue of completed orders per calendar month, {_month_label(months[0])} – {_month_label(months[-1])}, "
        "stacked by each customer's tier at the as-of date; the last month may be partial."
        if months
        else "Net revenue per calendar month by current tier."
    )
    transition_months = sorted({r["month"] for r in data.transitions})
    if data.transitions:
        transitions_note = (
            "Customers by state at the last run of the latest month versus the previous month with a run "
            f"({len(transition_months)} month{'s' if len(transition_months) != 1 else ''} with transitions). Shade: share of the from-row; outlined diagonal: "
            "unchanged."
        )
    else:
        transitions_note = (
            "Tier and lifecycle-stage changes month over month: the first matrix appears once the pipeline has "
            "published runs in two different months."
        )

    figures = [
        _figure(
            "tier_distribution",
            "Tier distribution",
            "Customers per value tier and their net revenue over the last 365 days (share of total after the dot).",
            chart_tier_distribution(data),
        ),
        _figure(
            "lifecycle_funnel",
            "Lifecycle funnel",
            "Customers per lifecycle stage, in the order the stage rules are applied.",
            chart_lifecycle_funnel(data),
        ),
        _figure(
            "churn_risk_by_tier",
            "Churn risk by tier",
            "Share of each tier's customers at low, medium and high churn risk (flags combined with P(alive)).",
            chart_churn_risk_by_tier(data),
        ),
        _figure(
            "satisfaction_by_tier",
            "NPS and CSAT by tier",
            "NPS = % promoters (9–10) − % detractors (0–6); CSAT = share of answers scored 4–5.",
            chart_satisfaction_by_tier(data),
        ),
        _figure(
            "revenue_by_tier",
            "Revenue by tier over time",
            revenue_note,
            chart_revenue_by_tier(data),
            wide=True,
        ),
        _figure(
            "tier_transitions",
            "Tier transitions",
            transitions_note,
            chart_tier_transitions(data),
            wide=True,
        ),
    ]
    status_badge = f' <span class="status {escape(status)}">{escape(status)}</span>' if status else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>c360 run report · as of {escape(as_of)}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<header class="top">
<div><h1>Customer 360 · run report</h1>
<div class="meta">As of <b>{escape(as_of)}</b> · run <span class="mono">{escape(str(run_id or "–"))}</span>{status_badge}</div></div>
<div class="meta">Generated {escape(generated_at.strftime("%Y-%m-%d %H:%M UTC"))} from the published database</div>
</header>
{banner}
<section class="cards">{cards}</section>
<section class="charts">{"".join(figures)}</section>
<h2>Publication log (latest {LOG_ROWS})</h2>
{_log_table(data.log, run_id)}
<footer>c360 · self-contained report: no scripts, fonts or external resources.</footer>
</main>
</body>
</html>
"""


def _write_atomic(path: Path, content: str) -> None:
    """Write ``content`` to a temporary file next to ``path`` and move it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_report(published_db: Path, out_dir: Path, *, run_id: str | None = None) -> Path:
    """Render the run report for the published database.

    Opens ``published_db`` read-only, writes ``out_dir/report-<as_of>.html`` and ``out_dir/latest.html`` (each
    written to a temporary file and moved into place with ``os.replace``) and returns the dated path.

    ``run_id`` labels the report; without it the latest published run in ``publication_log`` is shown. Raises
    ``FileNotFoundError`` when the database does not exist and ``ValueError`` when no as-of date can be found in it.
    """
    published_db = Path(published_db)
    out_dir = Path(out_dir)
    if not published_db.exists():
        raise FileNotFoundError(f"published database not found: {published_db}")
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        try:
            con.execute("set TimeZone = 'UTC'")
        except duckdb.Error:  # pragma: no cover - only without the ICU extension
            pass
        data = load_report_data(con)
    finally:
        con.close()
    if data.as_of is None:
        raise ValueError(f"no as-of date in {published_db}: is it a published c360 database?")

    html = build_html(data, run_id=run_id, generated_at=datetime.now(UTC))
    out_dir.mkdir(parents=True, exist_ok=True)
    dated = out_dir / f"report-{data.as_of.isoformat()}.html"
    _write_atomic(dated, html)
    _write_atomic(out_dir / "latest.html", html)
    return dated
