"""The report page: stylesheet, captions, headline cards, publication log and the files written.

The page is one HTML file with an inline stylesheet and the inline SVG charts of ``reporting.charts``: no scripts,
fonts or external resources, so it opens offline, in mail clients and prints well. Every text that comes from the
database is escaped.

Figures (each a ``<figure data-chart="...">`` holding one ``<svg>`` and a ``<figcaption>``), with their sources:

``tier_distribution``
    customers and trailing-365-day net revenue per value tier (``kpi_customers_by_tier``).
``lifecycle_funnel``
    customers per lifecycle stage in rule order (``kpi_stage_counts``).
``churn_risk_by_tier``
    share of each churn risk level (n/a, low, medium, high, churned) within each value tier
    (``customer_value_tier`` joined to ``customer_churn_indicators`` on ``customer_id``).
``satisfaction_by_tier``
    NPS and CSAT per tier (``kpi_satisfaction_by_tier``).
``backtest_by_frequency``
    predicted against actual repeat purchases in the holdout per calibration-frequency bucket, newest backtest
    (``model_backtest``); a placeholder until the backtest is published.
``clv_by_tier``
    spread of customer lifetime value per tier, only when ``customer_360`` has a ``clv`` column.
``revenue_by_tier``
    monthly net revenue stacked by the customers' current tier (``kpi_revenue_by_tier_monthly``).
``cohort_retention``
    retention heat map of the latest 24 first-order cohorts (``kpi_cohort_retention``).
``tier_transitions``
    from/to matrices of tier and lifecycle stage for the latest month (``kpi_tier_transitions_monthly``).

Amounts carry the reporting currency (``render_report(currency=...)``, else a ``reporting_currency`` column of a
published table, else no unit). The header shows the as-of date, run id, headline numbers and the latest
``publication_log`` rows. A missing table gives an empty panel with a note instead of an error, so a report can
always be written.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from reporting import charts
from reporting.data import LOG_ROWS, ReportData, read_published
from reporting.svg import integer, money, month_label, pct, signed

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
svg text.cell.small { font-size: 10.5px; }
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


def _headline(data: ReportData, currency: str | None) -> list[tuple[str, str, str]]:
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
        f"{pct(top.get('revenue_share'))} from {top['value_tier']} customers"
        if top and top.get("revenue_share") is not None
        else "all tiers"
    )
    churn = data.churn or {}
    return [
        ("Customers", integer(customers), f"{active:,} bought in the last 365 days"),
        ("Net revenue, 365 days", money(revenue, currency, short=False), top_share),
        (
            "Churn rate",
            pct(churn.get("churn_rate")),
            f"{integer(churn.get('churned_customers'))} of {integer(churn.get('active_customers_at_start'))} "
            f"active on {churn.get('window_start_date', '–')}"
            if churn
            else "no churn rate published",
        ),
        (
            "NPS overall",
            signed(nps),
            f"{responses:,} responses · CSAT {pct(csat, 0)}" if responses else "no survey responses",
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


def _revenue_note(data: ReportData) -> str:
    months = sorted({r["month"] for r in data.revenue})
    if not months:
        return "Net revenue per calendar month by current tier."
    return (
        f"Net revenue of completed orders per calendar month, {month_label(months[0])} – "
        f"{month_label(months[-1])}, stacked by each customer's tier at the as-of date; the last month may be partial."
    )


def _transitions_note(data: ReportData) -> str:
    if not data.transitions:
        return (
            "Tier and lifecycle-stage changes month over month: the first matrix appears once the pipeline has "
            "published runs in two different months."
        )
    n = len({r["month"] for r in data.transitions})
    return (
        "Customers by state at the last run of the latest month versus the previous month with a run "
        f"({n} month{'s' if n != 1 else ''} with transitions). Shade: share of the from-row; outlined diagonal: "
        "unchanged."
    )


def _cohort_note(data: ReportData) -> str:
    if not data.cohorts:
        return "Share of each first-order cohort ordering again N months later, once the cohort KPI is published."
    shown = min(len({r["cohort_month"] for r in data.cohorts}), charts.MAX_COHORTS)
    return (
        f"Share of each first-order cohort with a completed order N months after its first month (latest {shown} "
        "cohorts). Colour scale up to the highest later-month retention; month 0 is 100% by definition; the as-of "
        "month is partial; blank cells lie after the as-of date."
    )


def _backtest_note(data: ReportData, currency: str | None) -> str:
    if not data.backtest:
        return (
            "Predicted against actual repeat purchases per calibration-frequency bucket: not published yet. It "
            "appears once the pipeline publishes the daily model backtest (model_backtest)."
        )
    first = data.backtest[0]
    period = (
        f"Fitted on data up to {first['calibration_end_date']}, predicting the next {first['holdout_days']} days. "
        if first.get("calibration_end_date") is not None and first.get("holdout_days") is not None
        else ""
    )
    total = charts.backtest_total(data.backtest)
    if total is None:
        error = "No total row: the overall error is not published."
    else:
        parts = []
        if total.get("purchases_mae") is not None:
            parts.append(f"{float(total['purchases_mae']):.2f} purchases")
        if total.get("spend_mae") is not None:
            parts.append(f"average spend {money(total['spend_mae'], currency, short=False, digits=2)}")
        error = (
            f"Mean absolute error per customer over all {integer(total.get('customers'))} customers: "
            + (", ".join(parts) if parts else "not published")
            + "."
        )
    return f"{period}{error}"


# Title and, where it does not depend on the data, caption of every figure, in page order.
FIGURES: dict[str, tuple[str, str]] = {
    "tier_distribution": (
        "Tier distribution",
        "Customers per value tier and their net revenue over the last 365 days (share of total after the dot).",
    ),
    "lifecycle_funnel": (
        "Lifecycle funnel",
        "Customers per lifecycle stage, in the order the stage rules are applied.",
    ),
    "churn_risk_by_tier": (
        "Churn risk by tier",
        "Share of each tier's customers per churn risk level: n/a for prospects (no score), low, medium and high "
        "from the churn flags and P(alive), churned for customers past the warning.",
    ),
    "satisfaction_by_tier": (
        "NPS and CSAT by tier",
        "NPS = % promoters (9–10) − % detractors (0–6); CSAT = share of answers scored 4–5.",
    ),
    "backtest_by_frequency": ("Predicted against actual purchases", ""),
    "clv_by_tier": (
        "Customer lifetime value by tier",
        "Per tier: 10th–90th percentile (line), 25th–75th (box) and median (bar) of the customers' CLV.",
    ),
    "revenue_by_tier": ("Revenue by tier over time", ""),
    "cohort_retention": ("Cohort retention", ""),
    "tier_transitions": ("Tier transitions", ""),
}
WIDE = {"revenue_by_tier", "cohort_retention", "tier_transitions"}


def _figures(data: ReportData, currency: str | None) -> list[str]:
    # The backtest shares its row with the CLV chart; without CLV it takes the whole row.
    backtest_wide = data.clv is None
    svgs = {
        "tier_distribution": charts.tier_distribution(data.tiers, currency),
        "lifecycle_funnel": charts.lifecycle_funnel(data.stages),
        "churn_risk_by_tier": charts.churn_risk_by_tier(data.risk, data.tiers),
        "satisfaction_by_tier": charts.satisfaction_by_tier(data.satisfaction, data.tiers),
        "backtest_by_frequency": charts.backtest_by_frequency(
            data.backtest, currency, width=charts.FULL_WIDTH if backtest_wide else charts.HALF_WIDTH
        ),
        "revenue_by_tier": charts.revenue_by_tier(data.revenue, data.tiers, currency),
        "cohort_retention": charts.cohort_retention(data.cohorts),
        "tier_transitions": charts.tier_transitions(data.transitions),
    }
    if data.clv is not None:
        svgs["clv_by_tier"] = charts.clv_by_tier(data.clv, data.tiers, currency)
    notes = {
        "backtest_by_frequency": _backtest_note(data, currency),
        "revenue_by_tier": _revenue_note(data),
        "cohort_retention": _cohort_note(data),
        "tier_transitions": _transitions_note(data),
    }
    wide = WIDE | ({"backtest_by_frequency"} if backtest_wide else set())
    return [
        _figure(key, title, notes.get(key, note), svgs[key], wide=key in wide)
        for key, (title, note) in FIGURES.items()
        if key in svgs
    ]


def build_html(
    data: ReportData, *, run_id: str | None, generated_at: datetime, currency: str | None = None
) -> str:
    """The complete report page as a string; ``currency`` (or none) is put on every amount."""
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
        for k, v, s in _headline(data, currency)
    )
    unit = f" · amounts in {escape(currency)}" if currency else ""
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
<div class="meta">As of <b>{escape(as_of)}</b> · run <span class="mono">{escape(str(run_id or "–"))}</span>{status_badge}{unit}</div></div>
<div class="meta">Generated {escape(generated_at.strftime("%Y-%m-%d %H:%M UTC"))} from the published database</div>
</header>
{banner}
<section class="cards">{cards}</section>
<section class="charts">{"".join(_figures(data, currency))}</section>
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


def render_report(
    published_db: Path,
    out_dir: Path,
    *,
    run_id: str | None = None,
    currency: str | None = None,
    log_rows: list[dict[str, Any]] | None = None,
) -> Path:
    """Render the run report for the published database.

    Opens ``published_db`` read-only, writes ``out_dir/report-<as_of>.html`` and ``out_dir/latest.html`` (each
    written to a temporary file and moved into place with ``os.replace``) and returns the dated path.

    ``run_id`` labels the report; without it the latest published run in ``publication_log`` is shown.
    ``log_rows`` (publication log entries, oldest first) replace the published ``publication_log`` table, which
    only lists runs up to its own publication: with them the report shows a held-back run at once.
    ``currency`` is the reporting currency put on every amount (the dbt var ``reporting_currency``); without it the
    report uses a ``reporting_currency`` column of a published table if there is one, else shows amounts without a
    unit. Raises ``FileNotFoundError`` when the database does not exist and ``ValueError`` when no as-of date can be
    found in it.
    """
    published_db = Path(published_db)
    out_dir = Path(out_dir)
    if not published_db.exists():
        raise FileNotFoundError(f"published database not found: {published_db}")
    data = read_published(published_db)
    if log_rows is not None:
        data.log = list(reversed(log_rows))[:LOG_ROWS]
    if data.as_of is None:
        raise ValueError(f"no as-of date in {published_db}: is it a published c360 database?")
    unit = (currency if currency is not None else data.currency or "").strip() or None

    html = build_html(data, run_id=run_id, generated_at=datetime.now(UTC), currency=unit)
    out_dir.mkdir(parents=True, exist_ok=True)
    dated = out_dir / f"report-{data.as_of.isoformat()}.html"
    _write_atomic(dated, html)
    _write_atomic(out_dir / "latest.html", html)
    return dated
