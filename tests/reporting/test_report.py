"""The HTML run report: content from a small fixture database, no external resources, and charts that really draw
in headless Chromium."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from reporting import render_report
from reporting.report import NO_TRANSITIONS

CHARTS = (
    "tier_distribution",
    "lifecycle_funnel",
    "churn_risk_by_tier",
    "satisfaction_by_tier",
    "tier_transitions",
    "revenue_by_tier",
)
CHROMIUM = "/usr/bin/chromium"
SHAPES = ("rect", "path", "circle", "line", "polygon", "polyline")

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

create table customer_churn_indicators as
select printf('C%07d', i) as customer_id, date '2026-06-30' as as_of_date,
       (i * 37 % 100)::double as churn_risk_score,
       case when i * 37 % 100 >= 70 then 'high' when i * 37 % 100 >= 40 then 'medium' else 'low' end
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


@pytest.fixture
def published_db(tmp_path: Path) -> Path:
    """A small published database: one tier without customers, no tier transitions yet."""
    path = tmp_path / "published.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.execute(FIXTURE_SQL)
    finally:
        con.close()
    return path


@pytest.fixture
def report(published_db: Path, tmp_path: Path) -> Path:
    return render_report(published_db, tmp_path / "reports")


class _Figures(HTMLParser):
    """Collects, per ``figure[data-chart]``, how many svg elements and drawn shapes it holds, plus all URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, dict[str, int]] = {}
        self.current: str | None = None
        self.depth = 0
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("src", "href", "xlink:href", "action", "poster", "data"):
            if a.get(key):
                self.urls.append(a[key] or "")
        if tag == "figure" and a.get("data-chart"):
            self.current, self.depth = a["data-chart"], 0
            self.figures[self.current] = {"svg": 0, "shapes": 0, "text": 0}
        elif self.current:
            if tag == "figure":
                self.depth += 1
            counts = self.figures[self.current]
            if tag == "svg":
                counts["svg"] += 1
            elif tag in SHAPES:
                counts["shapes"] += 1
            elif tag == "text":
                counts["text"] += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure" and self.current:
            if self.depth:
                self.depth -= 1
            else:
                self.current = None


def _parse(html: str) -> _Figures:
    parser = _Figures()
    parser.feed(html)
    return parser


def test_report_files_and_paths(report: Path, tmp_path: Path) -> None:
    assert report == tmp_path / "reports" / "report-2026-06-30.html"
    latest = tmp_path / "reports" / "latest.html"
    assert latest.read_bytes() == report.read_bytes()
    assert sorted(p.name for p in report.parent.iterdir()) == ["latest.html", "report-2026-06-30.html"]


def test_report_has_every_chart_drawn(report: Path) -> None:
    parsed = _parse(report.read_text(encoding="utf-8"))
    assert set(parsed.figures) == set(CHARTS)
    for name, counts in parsed.figures.items():
        assert counts["svg"] == 1, name
        assert counts["shapes"] > 0, name
        assert counts["text"] > 0, name


def test_report_is_self_contained(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    assert not re.search(r"https?://", html, re.IGNORECASE)
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert "@import" not in html and "url(" not in html
    assert _parse(html).urls == []


def test_report_shows_the_numbers(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    figure = {
        m.group(1): m.group(2) for m in re.finditer(r'data-chart="(\w+)".*?>(.*?)</figure>', html, re.S)
    }
    # Tier distribution: vip customer count and share, revenue, the zero-customer tier drawn with 0.
    assert "4 · 4.0%" in figure["tier_distribution"]
    assert "400k · 50.0%" in figure["tier_distribution"]
    assert "0 · 0.0%" in figure["tier_distribution"]
    # Funnel in stage order.
    stages = re.findall(
        r">(prospect|new|growing|mature|reactivated|declining|churned)<", figure["lifecycle_funnel"]
    )
    assert stages == ["prospect", "new", "growing", "mature", "reactivated", "declining", "churned"]
    assert "40 · 40.0%" in figure["lifecycle_funnel"]
    # Churn risk by tier: the tier without customers is explicit, vip has all of its 4 customers.
    assert "no customers" in figure["churn_risk_by_tier"]
    assert "n=4<" in figure["churn_risk_by_tier"]
    # Satisfaction: negative NPS drawn, the tier without answers says so.
    assert ">-15<" in figure["satisfaction_by_tier"]
    assert "no responses" in figure["satisfaction_by_tier"]
    assert ">75%<" in figure["satisfaction_by_tier"]
    # Empty transitions table: an explicit panel, not a broken chart.
    assert NO_TRANSITIONS in figure["tier_transitions"]
    # Revenue over time: 12 months with labels.
    assert "Jul 25" in figure["revenue_by_tier"] and "Jun 26" in figure["revenue_by_tier"]
    # Header: as-of, run id (escaped), headline numbers.
    assert "2026-06-30" in html
    assert "run-&lt;b&gt;7&lt;/b&gt;" in html and "run-<b>7</b>" not in html
    assert ">100<" in html  # customers
    assert "800,000" in html  # 365-day net revenue
    assert "7.5%" in html  # churn rate
    nps = (3 + 6 + 12 + 1 - (1 + 9 + 6 + 1)) / (5 + 20 + 30 + 2) * 100
    assert f"{nps:+.1f}" in html
    # Publication log: latest entries, newest first, text escaped.
    assert html.index("run-&lt;b&gt;7") < html.index("run-older")
    assert "15 tables &amp; more" in html


def test_report_with_transitions_and_explicit_run_id(published_db: Path, tmp_path: Path) -> None:
    con = duckdb.connect(str(published_db))
    con.execute(
        "insert into kpi_tier_transitions_monthly values "
        "(date '2026-05-01', 'tier', 'low', 'low', 50), "
        "(date '2026-06-01', 'tier', 'low', 'medium', 7), (date '2026-06-01', 'tier', 'medium', 'medium', 20), "
        "(date '2026-06-01', 'tier', 'medium', 'vip', 2), (date '2026-06-01', 'stage', 'new', 'mature', 3)"
    )
    con.execute(
        "insert into publication_log values ('run-held', date '2026-07-31', 'held_back', "
        "timestamp '2026-07-31 06:00:00', 0, '{}', 90, 1, 0, 'freshness', '[]', 'held back: stale orders')"
    )
    con.close()
    html = render_report(published_db, tmp_path / "out", run_id="run-held").read_text(encoding="utf-8")
    figure = re.search(r'data-chart="tier_transitions".*?</figure>', html, re.S)
    assert figure is not None
    assert NO_TRANSITIONS not in figure.group(0)
    assert "Value tier · Jun 26" in figure.group(0)
    assert "low → medium: 7 customers" in figure.group(0)
    assert ">20<" in figure.group(0)
    # The report says that this run was held back and that the data is the last published one.
    assert "run-held" in html and "was held back" in html


def test_report_needs_a_database(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        render_report(tmp_path / "missing.duckdb", tmp_path / "out")


# ------------------------------------------------------------------------------------------------------------
# Headless browser
# ------------------------------------------------------------------------------------------------------------


def _chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)


def _png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """A minimal PNG decoder (8-bit RGB/RGBA, non-interlaced, as Chromium writes them): width, height, rows."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and color_type in (2, 6)
            channels = 3 if color_type == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line) if channels == 3 else bytes(v for i, v in enumerate(line) if i % 4 != 3))
        prev = line
    return width, height, rows


@pytest.mark.browser
def test_report_renders_in_chromium(report: Path, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.skip("chromium not installed: apt-get install chromium (.ci/run installs it)")
    url = report.resolve().as_uri()

    # The DOM after layout: every figure holds an svg with drawn shapes.
    dom = _chromium(["--dump-dom", url], tmp_path).stdout
    parsed = _parse(dom)
    assert set(parsed.figures) == set(CHARTS)
    for name, counts in parsed.figures.items():
        assert counts["svg"] >= 1, name
        assert counts["shapes"] > 0, name

    # The screenshot is not blank: many distinct colours, and the chart colours are on it.
    png = tmp_path / "report.png"
    _chromium([f"--screenshot={png}", "--window-size=1280,2400", url], tmp_path)
    width, height, rows = _png_pixels(png)
    assert (width, height) == (1280, 2400)
    sample = [row[x * 3 : x * 3 + 3] for row in rows[::8] for x in range(0, width, 4)]
    colours = set(sample)
    assert len(colours) > 50
    background = max(colours, key=sample.count)
    assert sum(1 for px in sample if px != background) / len(sample) > 0.2
    vip_blue, low_risk_green = bytes.fromhex("1b3a5c"), bytes.fromhex("5f9f82")
    assert vip_blue in colours and low_risk_green in colours
