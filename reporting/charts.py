"""The report's charts: one pure function per chart, rows in, one ``<svg>`` string out.

Each function takes the rows ``reporting.data`` reads (lists of dicts) and, where it draws amounts, the reporting
currency, which it puts on every amount label, tooltip and axis title (tick labels take their unit from the axis
title). A chart without data draws a placeholder that says why, never an error. Amount labels carry the class
``money`` so a test can find every one of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Any

from c360.enums import CHURN_RISK_LEVELS, LIFECYCLE_STAGES, VALUE_TIERS, enum_values
from reporting.svg import (
    AXIS,
    FALLBACK_COLOR,
    GRID,
    INK,
    Bar,
    Plot,
    blend,
    compact,
    empty_chart,
    hbar_panel,
    integer,
    is_dark,
    legend,
    line,
    money,
    month_label,
    num,
    ordered,
    pct,
    placeholder,
    ramp,
    rect,
    row_labels,
    signed,
    svg,
    text,
    text_width,
    ticks,
    with_unit,
)

# The categories in display order, as declared once for dbt and Python (var c360_enums, c360/enums.py).
TIERS: tuple[str, ...] = enum_values(VALUE_TIERS)
STAGES: tuple[str, ...] = enum_values(LIFECYCLE_STAGES)
# Risk levels in reading order, as declared: no score (prospects; a null level in older publications), the warning
# levels, past the warning (churned).
RISK_LEVELS: tuple[str, ...] = enum_values(CHURN_RISK_LEVELS)
# Always in the legend: the warning levels. n/a and churned only when the data has them (older publications have
# the three warning levels only).
CORE_RISK_LEVELS: tuple[str, ...] = tuple(level for level in RISK_LEVELS if level not in ("n/a", "churned"))
FREQUENCY_BUCKETS: tuple[str, ...] = ("0", "1", "2", "3", "4", "5", "6", "7+")
TOTAL_BUCKET = "total"

# Colours in the order of the names above (a name beyond its palette is drawn in FALLBACK_COLOR): tiers dark to
# light, stages from the first order to churn, risk levels from grey (no score) through green, amber and red to dark
# (past the warning).
TIER_COLORS: dict[str, str] = dict(
    zip(TIERS, ("#1b3a5c", "#2f6690", "#5f9cc6", "#a8cbe3", "#c5cbd3"), strict=False)
)
STAGE_COLORS: dict[str, str] = dict(
    zip(STAGES, ("#b9c1cc", "#8ec1de", "#4f95c4", "#2f6690", "#5f9f82", "#dca33a", "#bd5340"), strict=False)
)
RISK_COLORS: dict[str, str] = dict(
    zip(RISK_LEVELS, ("#d5dae1", "#5f9f82", "#dca33a", "#bd5340", "#5b2333"), strict=False)
)
PREDICTED_COLOR = "#e8853d"
ACTUAL_COLOR = "#2f6690"
# Sequential scale of the retention heat map, light to dark, through the tier blue.
RETENTION_RAMP: tuple[str, ...] = ("#edf4fa", "#8ec1de", "#2f6690", "#0f3057")

HALF_WIDTH = 560
FULL_WIDTH = 1160
MAX_COHORTS = 24
MAX_COHORT_COLUMNS = 36

NO_TRANSITIONS = "No transitions yet (needs runs in two different months)"
NO_COHORTS = "No cohort retention published yet"
NO_BACKTEST = "Backtest not published yet"


def tier_rows(tiers: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tier rows in tier order, with a zero row for every standard tier that has no customers."""
    by_tier = {row["value_tier"]: row for row in tiers}
    names = ordered(
        [*by_tier, *TIERS],
        sorted(by_tier, key=lambda t: (by_tier[t].get("tier_order") or 99, t)) + list(TIERS),
    )
    empty = {"customers": 0, "customer_share": 0.0, "net_revenue_365d": 0.0, "revenue_share": 0.0}
    return [{"value_tier": n, **empty, **by_tier.get(n, {})} for n in names]


def _tier_order(tiers: Sequence[dict[str, Any]], extra: Sequence[str]) -> list[str]:
    """The tiers of ``kpi_customers_by_tier`` (plus the standard ones), then any other tier the chart's rows name."""
    names = [r["value_tier"] for r in tier_rows(tiers)]
    return names + [t for t in ordered(extra, TIERS) if t not in names]


# --------------------------------------------------------------------------------------------------------------
# Tiers, stages, risk, satisfaction
# --------------------------------------------------------------------------------------------------------------


def tier_distribution(tiers: Sequence[dict[str, Any]], currency: str | None) -> str:
    """Customers and trailing-365-day net revenue per value tier, side by side."""
    rows = tier_rows(tiers)
    colors = [TIER_COLORS.get(r["value_tier"], FALLBACK_COLOR) for r in rows]
    customers = [float(r["customers"] or 0) for r in rows]
    revenue = [float(r["net_revenue_365d"] or 0) for r in rows]
    panels = [
        (
            "Customers",
            "customers",
            customers,
            [f"{integer(n)} · {pct(r['customer_share'])}" for n, r in zip(customers, rows, strict=True)],
            [
                f"{r['value_tier']}: {integer(n)} customers ({pct(r['customer_share'])})"
                for n, r in zip(customers, rows, strict=True)
            ],
            "value",
        ),
        (
            with_unit("Net revenue, last 365 days", currency),
            with_unit("net revenue", currency),
            revenue,
            [f"{money(v, currency)} · {pct(r['revenue_share'])}" for v, r in zip(revenue, rows, strict=True)],
            [
                f"{r['value_tier']}: net revenue {money(v, currency, short=False)} ({pct(r['revenue_share'])} of total)"
                for v, r in zip(revenue, rows, strict=True)
            ],
            "value money",
        ),
    ]
    top, row_h, label_w, gap = 34, 30, 64, 30
    # Each panel keeps room on its right for its longest value label.
    reserves = [max(text_width(s) for s in labels) + 10 for _, _, _, labels, _, _ in panels]
    panel_w = (HALF_WIDTH - label_w - 8 - gap - sum(reserves)) / 2
    body = row_labels([r["value_tier"] for r in rows], x=label_w, top=top, row_h=row_h)
    x = label_w + 8
    for (title, axis_label, values, labels, titles, label_cls), reserve in zip(panels, reserves, strict=True):
        tick_values = ticks(max(values), 3)
        body.append(text(x, 16, title, cls="panel"))
        body += hbar_panel(
            [
                Bar(r["value_tier"], v, c, label, tip, label_cls)
                for r, v, c, label, tip in zip(rows, values, colors, labels, titles, strict=True)
            ],
            x0=x,
            width=panel_w,
            top=top,
            row_h=row_h,
            domain=(0, tick_values[-1]),
            tick_values=tick_values,
            tick_fmt=compact,
            axis_label=axis_label,
        )
        x += panel_w + reserve + gap
    height = top + row_h * len(rows) + 44
    return svg(HALF_WIDTH, height, "Customers and 365-day net revenue by value tier", body)


def lifecycle_funnel(stages: Sequence[dict[str, Any]]) -> str:
    """Customers per lifecycle stage as centred bars, in the order the stage rules are applied."""
    rows = sorted(stages, key=lambda r: (r.get("stage_order") or 99, r["lifecycle_stage"]))
    if not rows:
        return empty_chart(HALF_WIDTH, 180, "No lifecycle stage counts")
    top, row_h, label_w, value_w = 14, 30, 92, 112
    area_w = HALF_WIDTH - label_w - value_w - 16
    center = label_w + 8 + area_w / 2
    vmax = max(float(r["customers"] or 0) for r in rows) or 1.0
    height = top + row_h * len(rows) + 34
    body = [line(center, top - 4, center, top + row_h * len(rows), GRID, stroke_dasharray="2 3")]
    body += row_labels([r["lifecycle_stage"] for r in rows], x=label_w, top=top, row_h=row_h)
    for i, r in enumerate(rows):
        n = float(r["customers"] or 0)
        w = max(n / vmax * area_w, 2.0 if n else 0.0)
        y = top + i * row_h + 5
        stage = r["lifecycle_stage"]
        share = pct(r.get("customer_share"))
        color = STAGE_COLORS.get(stage, FALLBACK_COLOR)
        body.append(
            rect(
                center - w / 2,
                y,
                w,
                row_h - 10,
                color,
                title=f"{stage}: {integer(n)} customers ({share})",
                rx=3,
            )
        )
        body.append(
            text(
                HALF_WIDTH - 8, y + (row_h - 10) / 2 + 4, f"{integer(n)} · {share}", anchor="end", cls="value"
            )
        )
    body.append(
        text(
            center, top + row_h * len(rows) + 24, "customers (bar width ∝ count)", anchor="middle", cls="axis"
        )
    )
    return svg(HALF_WIDTH, height, "Customers by lifecycle stage", body)


def churn_risk_by_tier(risk: Sequence[dict[str, Any]], tiers: Sequence[dict[str, Any]]) -> str:
    """100% stacked bars: the share of each churn risk level within each value tier.

    Levels are drawn in the order no score (n/a) - low - medium - high - churned; data with only the three older
    levels draws those three, and any other level is appended in grey.
    """
    counts: dict[str, dict[str, int]] = {}
    for row in risk:
        level = row["churn_risk_level"] if row["churn_risk_level"] is not None else "n/a"
        tier_counts = counts.setdefault(row["value_tier"], {})
        tier_counts[level] = tier_counts.get(level, 0) + int(row["customers"] or 0)
    names = _tier_order(tiers, list(counts))
    present = [lvl for c in counts.values() for lvl, n in c.items() if n]
    levels = ordered([*present, *CORE_RISK_LEVELS], RISK_LEVELS)
    top, row_h, label_w, right_w, bar_h = 40, 30, 64, 62, 18
    x0 = label_w + 8
    width = HALF_WIDTH - x0 - right_w
    bottom = top + row_h * len(names)
    height = bottom + 44
    body = [text(x0, 16, "risk:", cls="legend")]
    body += legend(x0 + 34, 16, [(lvl, RISK_COLORS.get(lvl, FALLBACK_COLOR)) for lvl in levels])
    body += row_labels(names, x=label_w, top=top, row_h=row_h)
    for t in (0, 0.25, 0.5, 0.75, 1.0):
        x = x0 + t * width
        body.append(line(x, top - 4, x, bottom, GRID))
        body.append(text(x, bottom + 14, f"{t:.0%}", anchor="middle", cls="tick"))
    body.append(
        text(x0 + width / 2, bottom + 32, "share of the tier's customers", anchor="middle", cls="axis")
    )
    for i, tier in enumerate(names):
        y = top + i * row_h + (row_h - bar_h) / 2
        tier_counts = counts.get(tier, {})
        total = sum(tier_counts.values())
        body.append(text(HALF_WIDTH - 6, y + bar_h / 2 + 4, f"n={total:,}", anchor="end", cls="value"))
        if not total:
            body.append(rect(x0, y, width, bar_h, "none", stroke=AXIS, stroke_dasharray="4 3", rx=2))
            body.append(text(x0 + width / 2, y + bar_h / 2 + 4, "no customers", anchor="middle", cls="note"))
            continue
        x = x0
        for lvl in levels:
            n = tier_counts.get(lvl, 0)
            if not n:
                continue
            w = n / total * width
            color = RISK_COLORS.get(lvl, FALLBACK_COLOR)
            what = "without a risk score (prospects)" if lvl == "n/a" else f"at risk level {lvl}"
            title = f"{tier}: {n:,} of {total:,} customers {what} ({n / total:.1%})"
            body.append(rect(x, y, w, bar_h, color, title=title))
            if w >= 34:
                cls = "inbar" if is_dark(color) else "inbar dark"
                body.append(text(x + w / 2, y + bar_h / 2 + 4, f"{n / total:.0%}", anchor="middle", cls=cls))
            x += w
    return svg(HALF_WIDTH, height, "Churn risk level by value tier", body)


def satisfaction_by_tier(satisfaction: Sequence[dict[str, Any]], tiers: Sequence[dict[str, Any]]) -> str:
    """NPS (diverging around zero) and CSAT share per tier, side by side."""
    by_tier = {r["value_tier"]: r for r in satisfaction}
    names = _tier_order(tiers, list(by_tier))
    top, row_h, label_w, gap = 34, 30, 78, 30
    nps_reserve, csat_reserve = 34, 42
    panel_w = (HALF_WIDTH - label_w - 8 - gap - 2 * nps_reserve - csat_reserve) / 2
    x_nps = label_w + 8 + nps_reserve
    x_csat = x_nps + panel_w + nps_reserve + gap
    height = top + row_h * len(names) + 44
    subs = []
    nps_bars, csat_bars = [], []
    for tier in names:
        r = by_tier.get(tier, {})
        n_resp, n_csat = int(r.get("nps_responses") or 0), int(r.get("csat_answers") or 0)
        subs.append(f"{n_resp:,} NPS resp.")
        color = TIER_COLORS.get(tier, FALLBACK_COLOR)
        nps = r.get("nps") if n_resp else None
        csat = r.get("csat_share") if n_csat else None
        nps_bars.append(
            Bar(
                tier,
                None if nps is None else float(nps),
                color,
                "no responses" if nps is None else signed(nps, 0),
                f"{tier}: NPS {signed(nps)} from {n_resp:,} responses "
                f"({int(r.get('promoters') or 0):,} promoters, {int(r.get('detractors') or 0):,} detractors)",
            )
        )
        csat_bars.append(
            Bar(
                tier,
                None if csat is None else float(csat) * 100,
                color,
                "no answers" if csat is None else pct(csat, 0),
                f"{tier}: CSAT {pct(csat)} of {n_csat:,} answers scored 4-5",
            )
        )
    body = [
        text(x_nps - nps_reserve, 16, "NPS (promoters − detractors)", cls="panel"),
        text(x_csat, 16, "CSAT (share 4–5)", cls="panel"),
        *row_labels(names, x=label_w, top=top, row_h=row_h, subs=subs),
    ]
    body += hbar_panel(
        nps_bars,
        x0=x_nps,
        width=panel_w,
        top=top,
        row_h=row_h,
        domain=(-100, 100),
        tick_values=(-100, -50, 0, 50, 100),
        tick_fmt=lambda t: f"{t:+.0f}" if t else "0",
        axis_label="NPS, percent points",
    )
    body += hbar_panel(
        csat_bars,
        x0=x_csat,
        width=panel_w,
        top=top,
        row_h=row_h,
        domain=(0, 100),
        tick_values=(0, 50, 100),
        tick_fmt=lambda t: f"{t:.0f}%",
        axis_label="CSAT, % of answers",
    )
    return svg(HALF_WIDTH, height, "NPS and CSAT by value tier", body)


# --------------------------------------------------------------------------------------------------------------
# Transitions
# --------------------------------------------------------------------------------------------------------------


def _label(value: Any) -> str:
    return "(none)" if value is None else str(value)


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
    values = ordered([_label(r["from_value"]) for r in rows] + [_label(r["to_value"]) for r in rows], order)
    counts = {(_label(r["from_value"]), _label(r["to_value"])): int(r["customers"] or 0) for r in rows}
    row_totals = {v: sum(n for (f, _), n in counts.items() if f == v) for v in values}
    label_w, head = 96, 48
    gx, gy = x + label_w + 18, y + head
    grid_w, grid_h = cell_w * len(values), cell_h * len(values)
    out = [
        text(x, y + 12, title, cls="panel"),
        text(gx + grid_w / 2, y + 28, "to (this month) →", anchor="middle", cls="axis"),
        text(
            x + 8,
            gy + grid_h / 2,
            "from (previous month) →",
            anchor="middle",
            cls="axis",
            transform=f"rotate(-90 {num(x + 8)} {num(gy + grid_h / 2)})",
        ),
    ]
    for j, to in enumerate(values):
        out.append(text(gx + j * cell_w + cell_w / 2, gy - 7, to, anchor="middle", cls="label small"))
    for i, frm in enumerate(values):
        out.append(text(gx - 6, gy + i * cell_h + cell_h / 2 + 4, frm, anchor="end", cls="label small"))
        for j, to in enumerate(values):
            n = counts.get((frm, to), 0)
            share = n / row_totals[frm] if row_totals[frm] else 0.0
            fill = "#f4f5f7" if not n else blend("#e8f0f7", "#1b3a5c", 0.12 + 0.88 * share)
            cx, cy = gx + j * cell_w, gy + i * cell_h
            out.append(
                rect(
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
                out.append(text(cx + cell_w / 2, cy + cell_h / 2 + 4, f"{n:,}", anchor="middle", cls=cls))
    return out, label_w + 18 + grid_w, head + grid_h


def tier_transitions(transitions: Sequence[dict[str, Any]]) -> str:
    """From/to matrices of value tier and lifecycle stage for the latest month with transitions."""
    if not transitions:
        return empty_chart(FULL_WIDTH, 120, NO_TRANSITIONS)
    body: list[str] = []
    x, height = 0.0, 0.0
    for dimension, order, cell_w, name in (
        ("tier", TIERS, 64, "Value tier"),
        ("stage", STAGES, 78, "Lifecycle stage"),
    ):
        dim_rows = [r for r in transitions if r["dimension"] == dimension]
        month = max((r["month"] for r in dim_rows), default=None)
        rows = [r for r in dim_rows if r["month"] == month]
        if not rows:
            parts = placeholder(420, 160, f"No {dimension} transitions yet", x=x, y=0)
            w, h = 420.0, 160.0
        else:
            parts, w, h = _matrix(
                rows, order, x=x, y=0, cell_w=cell_w, cell_h=40, title=f"{name} · {month_label(month)}"
            )
        body += parts
        x += w + 60
        height = max(height, h)
    return svg(FULL_WIDTH, height + 8, "Tier and stage transitions, latest month", body)


# --------------------------------------------------------------------------------------------------------------
# Revenue over time
# --------------------------------------------------------------------------------------------------------------


def revenue_by_tier(
    revenue: Sequence[dict[str, Any]], tiers: Sequence[dict[str, Any]], currency: str | None
) -> str:
    """Monthly net revenue as stacked bars by the customers' current value tier, with the month's total on top."""
    if not revenue:
        return empty_chart(FULL_WIDTH, 160, "No monthly revenue yet")
    months = sorted({r["month"] for r in revenue})
    names = ordered({r["value_tier"] for r in revenue}, [r["value_tier"] for r in tier_rows(tiers)])
    values: dict[tuple[Any, str], float] = {}
    for r in revenue:
        key = (r["month"], r["value_tier"])
        values[key] = values.get(key, 0.0) + float(r["net_revenue"] or 0)
    totals = {m: sum(values.get((m, t), 0.0) for t in names) for m in months}
    tick_values = ticks(max(max(totals.values()), 0.0), 4)
    height = 360
    plot = Plot(70, 40, FULL_WIDTH - 82, height - 88, tick_values)
    body = legend(plot.left, 16, [(t, TIER_COLORS.get(t, FALLBACK_COLOR)) for t in names])
    body += plot.axis(compact, with_unit("net revenue per month", currency))
    band = plot.width / len(months)
    bar_w = min(band * 0.72, 60)
    every = max(1, math.ceil(42 / band))
    total_labels = {m: money(totals[m], currency) for m in months}
    # Month totals where they fit without touching their neighbours, always the latest month.
    total_every = max(1, math.ceil((max(text_width(s, "total") for s in total_labels.values()) + 6) / band))
    for i, month in enumerate(months):
        x = plot.left + i * band + (band - bar_w) / 2
        acc = 0.0
        for tier in names:
            v = values.get((month, tier), 0.0)
            if v <= 0:
                continue
            y1, y2 = plot.y(acc + v), plot.y(acc)
            share = v / totals[month] if totals[month] else 0.0
            title = (
                f"{month_label(month)} · {tier}: net revenue {money(v, currency, short=False)} "
                f"({share:.1%} of the month)"
            )
            body.append(rect(x, y1, bar_w, y2 - y1, TIER_COLORS.get(tier, FALLBACK_COLOR), title=title))
            acc += v
        if i % every == 0:
            body.append(text(x + bar_w / 2, plot.base + 16, month_label(month), anchor="middle", cls="tick"))
        if totals[month] > 0 and (len(months) - 1 - i) % total_every == 0:
            body.append(
                text(
                    x + bar_w / 2,
                    plot.y(totals[month]) - 5,
                    total_labels[month],
                    anchor="middle",
                    cls="total money",
                )
            )
    body.append(text(plot.left + plot.width / 2, height - 8, "month", anchor="middle", cls="axis"))
    return svg(FULL_WIDTH, height, "Monthly net revenue by current value tier", body)


# --------------------------------------------------------------------------------------------------------------
# Cohort retention
# --------------------------------------------------------------------------------------------------------------


def _months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def _retention_text(rate: float) -> str:
    return "<1%" if 0 < rate < 0.005 else f"{rate:.0%}"


def cohort_retention(cohorts: Sequence[dict[str, Any]]) -> str:
    """Heat map of the share of each first-order cohort that ordered again N months later.

    Rows are the latest cohorts (at most 24), columns the months since the first order. A cohort-month without a
    row had no ordering customer (0%); months after the as-of date are left blank; a row without a rate is drawn
    grey and labelled "n/a". The colour scale runs from 0 to the highest retention after month 0 (month 0 is 100%
    by definition and would wash out every other cell), so month 0 is drawn in the darkest colour.
    """
    if not cohorts:
        return empty_chart(FULL_WIDTH, 140, NO_COHORTS)
    by_cohort: dict[Any, dict[int, dict[str, Any]]] = {}
    sizes: dict[Any, int] = {}
    for r in cohorts:
        month = int(r["months_since_first_order"] or 0)
        by_cohort.setdefault(r["cohort_month"], {})[month] = r
        if r.get("cohort_customers") is not None:
            sizes[r["cohort_month"]] = int(r["cohort_customers"])
    names = sorted(by_cohort)[-MAX_COHORTS:]
    as_of = max((r["as_of_date"] for r in cohorts if isinstance(r.get("as_of_date"), date)), default=None)

    def observable(cohort: Any) -> int:
        if isinstance(cohort, date) and as_of is not None:
            return max(_months_between(cohort, as_of), 0)
        return max(by_cohort[cohort])

    ncols = min(max(observable(c) for c in names) + 1, MAX_COHORT_COLUMNS)
    later = [
        float(r["retention_rate"])
        for c in names
        for m, r in by_cohort[c].items()
        if m > 0 and r.get("retention_rate") is not None
    ]
    steps = [t for t in ticks(max(later, default=0.0) or 1.0, 5) if t <= 1.0]
    scale = steps[-1]

    label_w, size_w, top, cell_h = 58, 66, 46, 22
    gx = label_w + size_w + 10
    cell_w = min(46.0, (FULL_WIDTH - gx - 8) / ncols)
    grid_h = cell_h * len(names)
    body = [
        text(gx + cell_w * ncols / 2, 14, "months since first order →", anchor="middle", cls="axis"),
        text(label_w, top - 8, "cohort", anchor="end", cls="axis"),
        text(label_w + size_w, top - 8, "customers", anchor="end", cls="axis"),
    ]
    for j in range(ncols):
        body.append(text(gx + j * cell_w + cell_w / 2, top - 8, str(j), anchor="middle", cls="tick"))
    for i, cohort in enumerate(names):
        y = top + i * cell_h
        size = sizes.get(cohort)
        body.append(text(label_w, y + cell_h / 2 + 4, month_label(cohort), anchor="end", cls="label small"))
        body.append(
            text(
                label_w + size_w,
                y + cell_h / 2 + 4,
                "–" if size is None else f"{size:,}",
                anchor="end",
                cls="value",
            )
        )
        head = f"{month_label(cohort)} cohort ({'unknown size' if size is None else f'{size:,} customers'})"
        for j in range(min(observable(cohort) + 1, ncols)):
            row = by_cohort[cohort].get(j)
            cx = gx + j * cell_w
            outline: dict[str, Any] = {}
            if row is not None and row.get("retention_rate") is None:
                fill, label, what = "#ffffff", "n/a", "no retention rate published"
                outline = {"stroke": AXIS, "stroke_dasharray": "3 2"}
            else:
                rate = float(row["retention_rate"]) if row is not None else 0.0
                active = int(row.get("active_customers") or 0) if row is not None else 0
                fill, label, what = (
                    ramp(RETENTION_RAMP, rate / scale),
                    _retention_text(rate),
                    f"{active:,} ordering ({rate:.1%})",
                )
            title = f"{head}, month {j}: {what}"
            body.append(rect(cx + 1, y + 1, cell_w - 2, cell_h - 2, fill, title=title, **outline))
            if cell_w >= 28:
                cls = "cell small light" if is_dark(fill) else "cell small"
                body.append(text(cx + cell_w / 2, y + cell_h / 2 + 4, label, anchor="middle", cls=cls))
    # Legend: swatches at round steps of the scale; the last one holds everything above it.
    ly = top + grid_h + 26
    body.append(text(gx, ly, "retention:", cls="legend"))
    x = gx + 70
    for k, s in enumerate(steps):
        name = f"≥{s:.0%}" if k == len(steps) - 1 and scale < 1 else f"{s:.0%}"
        body.append(rect(x, ly - 10, 26, 13, ramp(RETENTION_RAMP, s / scale), rx=2))
        body.append(text(x + 31, ly, name, cls="legend"))
        x += 31 + text_width(name, "legend") + 14
    body.append(rect(x, ly - 10, 26, 13, "#ffffff", stroke=AXIS, stroke_dasharray="3 2", rx=2))
    body.append(text(x + 31, ly, "n/a: no rate", cls="legend"))
    return svg(FULL_WIDTH, ly + 10, "Cohort retention by months since first order", body)


# --------------------------------------------------------------------------------------------------------------
# Backtest
# --------------------------------------------------------------------------------------------------------------


def _bucket_key(row: dict[str, Any]) -> tuple[float, str]:
    name = str(row["frequency_bucket"])
    order = row.get("bucket_order")
    if order is None:
        order = FREQUENCY_BUCKETS.index(name) if name in FREQUENCY_BUCKETS else len(FREQUENCY_BUCKETS)
    return float(order), name


def backtest_by_frequency(
    backtest: Sequence[dict[str, Any]], currency: str | None, *, width: float = HALF_WIDTH
) -> str:
    """Grouped bars: predicted against actual repeat purchases in the holdout, per calibration-frequency bucket.

    The ``total`` row is not drawn (its error goes in the caption). Every standard bucket keeps its place on the
    axis; one the backtest has no row for says "no row" instead of drawing a zero that was never measured.
    """
    buckets = {str(r["frequency_bucket"]): r for r in backtest if str(r["frequency_bucket"]) != TOTAL_BUCKET}
    if not buckets:
        message = NO_BACKTEST if not backtest else "The backtest has no frequency buckets"
        return empty_chart(width, 220 if width <= HALF_WIDTH else 140, message)
    keys = {name: _bucket_key({"frequency_bucket": name}) for name in FREQUENCY_BUCKETS}
    keys.update({name: _bucket_key(r) for name, r in buckets.items()})
    names = sorted(keys, key=keys.__getitem__)
    holdout = next((r.get("holdout_days") for r in backtest if r.get("holdout_days") is not None), None)
    vmax = max(
        float(r.get(k) or 0) for r in buckets.values() for k in ("predicted_purchases", "actual_purchases")
    )
    tick_values = ticks(vmax, 4)
    height = 310
    plot = Plot(64, 40, width - 72, height - 110, tick_values)
    body = legend(plot.left, 16, [("predicted", PREDICTED_COLOR), ("actual", ACTUAL_COLOR)])
    holdout_text = "" if holdout is None else f" ({holdout} days)"
    body += plot.axis(compact, f"repeat purchases in the holdout{holdout_text}")
    band = plot.width / len(names)
    bar_w = min(band * 0.36, 40)
    for i, name in enumerate(names):
        cx = plot.left + i * band + band / 2
        row = buckets.get(name)
        body.append(text(cx, plot.base + 16, name, anchor="middle", cls="label small"))
        if row is None:
            body.append(text(cx, plot.base - 8, "no row", anchor="middle", cls="note"))
            body.append(text(cx, plot.base + 30, "–", anchor="middle", cls="sub"))
            continue
        customers = int(row.get("customers") or 0)
        body.append(text(cx, plot.base + 30, f"n={customers:,}", anchor="middle", cls="sub"))
        spend = (
            f"; average spend {money(row.get('predicted_avg_spend'), currency, short=False, digits=2)} predicted, "
            f"{money(row.get('actual_avg_spend'), currency, short=False, digits=2)} actual"
            if row.get("predicted_avg_spend") is not None or row.get("actual_avg_spend") is not None
            else ""
        )
        mae = row.get("purchases_mae")
        title = (
            f"{name} repeat purchases in calibration ({customers:,} customers): predicted "
            f"{float(row.get('predicted_purchases') or 0):,.1f}, actual {float(row.get('actual_purchases') or 0):,.1f} "
            f"purchases{'' if mae is None else f'; MAE {float(mae):.2f} per customer'}{spend}"
        )
        for k, (key, color) in enumerate(
            (("predicted_purchases", PREDICTED_COLOR), ("actual_purchases", ACTUAL_COLOR))
        ):
            value = row.get(key)
            x = cx - bar_w + k * bar_w
            if value is None:
                body.append(text(x + bar_w / 2, plot.base - 8, "–", anchor="middle", cls="note"))
                continue
            y = plot.y(float(value))
            body.append(rect(x, y, bar_w, plot.base - y, color, title=title))
            label = compact(float(value)) if float(value) >= 1000 else f"{float(value):.3g}"
            if text_width(label, "total") <= bar_w + 4:
                body.append(text(x + bar_w / 2, y - 4, label, anchor="middle", cls="total"))
    body.append(
        text(
            plot.left + plot.width / 2,
            height - 6,
            "repeat purchases in the calibration period",
            anchor="middle",
            cls="axis",
        )
    )
    return svg(width, height, "Backtest: predicted against actual purchases by frequency bucket", body)


def backtest_total(backtest: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The ``total`` row of the backtest, if it has one."""
    return next((r for r in backtest if str(r["frequency_bucket"]) == TOTAL_BUCKET), None)


# --------------------------------------------------------------------------------------------------------------
# CLV
# --------------------------------------------------------------------------------------------------------------


def clv_by_tier(clv: Sequence[dict[str, Any]], tiers: Sequence[dict[str, Any]], currency: str | None) -> str:
    """Per tier, the spread of customer lifetime value: 10th-90th percentile whisker, quartile box, median line."""
    by_tier = {r["value_tier"]: r for r in clv}
    names = _tier_order(tiers, list(by_tier))
    quantiles = {t: r["q"] for t, r in by_tier.items() if r.get("q") and None not in r["q"]}
    if not quantiles:
        return empty_chart(HALF_WIDTH, 180, "No CLV values published")
    lo = min(0.0, min(q[0] for q in quantiles.values()))
    hi_ticks = ticks(max(q[-1] for q in quantiles.values()), 3)
    low_ticks = [-t for t in ticks(-lo, 2)][:0:-1] if lo < 0 else []
    tick_values = [*low_ticks, *hi_ticks]
    lo = tick_values[0]
    hi = hi_ticks[-1]
    medians = {t: money(q[2], currency) for t, q in quantiles.items()}
    top, row_h, label_w = 10, 34, 64
    reserve = max(text_width(f"median {m}") for m in medians.values()) + 10
    x0 = label_w + 8
    width = HALF_WIDTH - x0 - reserve

    def sx(v: float) -> float:
        return x0 + (v - lo) / ((hi - lo) or 1.0) * width

    subs = []
    for t in names:
        r = by_tier.get(t, {})
        subs.append(f"total {money(r['total_clv'], currency)}" if r.get("total_clv") is not None else "")
    bottom = top + row_h * len(names)
    body = row_labels(names, x=label_w, top=top, row_h=row_h)
    for t in tick_values:
        body.append(line(sx(t), top - 4, sx(t), bottom, GRID))
        body.append(text(sx(t), bottom + 14, compact(t), anchor="middle", cls="tick"))
    body.append(line(sx(0.0), top - 4, sx(0.0), bottom, AXIS))
    body.append(
        text(
            x0 + width / 2, bottom + 32, with_unit("CLV per customer", currency), anchor="middle", cls="axis"
        )
    )
    for i, tier in enumerate(names):
        mid = top + i * row_h + row_h / 2
        q = quantiles.get(tier)
        if q is None:
            body.append(text(x0 + 6, mid + 4, "no CLV", cls="note"))
            continue
        r = by_tier[tier]
        color = TIER_COLORS.get(tier, FALLBACK_COLOR)
        title = (
            f"{tier}: CLV of {int(r.get('with_clv') or 0):,} customers - 10th percentile "
            f"{money(q[0], currency, short=False)}, median {money(q[2], currency, short=False)}, 90th percentile "
            f"{money(q[4], currency, short=False)}; total {money(r.get('total_clv'), currency, short=False)}"
        )
        body.append(line(sx(q[0]), mid, sx(q[4]), mid, AXIS, stroke_width="1.5"))
        body.append(rect(sx(q[1]), mid - 8, sx(q[3]) - sx(q[1]), 16, color, title=title, rx=2))
        body.append(line(sx(q[2]), mid - 9, sx(q[2]), mid + 9, INK, stroke_width="2"))
        body.append(text(x0 + width + 8, mid - 1, f"median {medians[tier]}", cls="value money"))
        if subs[i]:
            body.append(text(x0 + width + 8, mid + 11, subs[i], cls="sub money"))
    return svg(HALF_WIDTH, bottom + 44, "Customer lifetime value by value tier", body)
