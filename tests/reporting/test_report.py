"""The HTML run report as a whole: files, content from the fixture database, currency on every amount, no external
resources, and every chart really drawn in headless Chromium (with a screenshot)."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pytest
from report_helpers import money_gaps, parse_page

from reporting.charts import (
    ACTUAL_COLOR,
    NO_BACKTEST,
    NO_TRANSITIONS,
    PREDICTED_COLOR,
    RETENTION_RAMP,
    RISK_COLORS,
    TIER_COLORS,
)
from reporting.page import render_report

CHARTS = (
    "tier_distribution",
    "lifecycle_funnel",
    "churn_risk_by_tier",
    "satisfaction_by_tier",
    "backtest_by_frequency",
    "clv_by_tier",
    "revenue_by_tier",
    "cohort_retention",
    "tier_transitions",
)
# Texts each chart must show once drawn: the labels a reader looks for first.
EXPECTED_LABELS = {
    "tier_distribution": ["vip", "none", "XTS 400k · 50.0%"],
    "lifecycle_funnel": ["prospect", "churned"],
    "churn_risk_by_tier": ["n/a", "low", "medium", "high", "churned", "no customers"],
    "satisfaction_by_tier": ["no responses"],
    "backtest_by_frequency": ["predicted", "actual", "0", "7+", "no row"],
    "clv_by_tier": ["median XTS 5.25k", "no CLV"],
    "revenue_by_tier": ["Jul 25", "Jun 26"],
    "cohort_retention": ["Jul 25", "Jun 26", "months since first order →", "100%", "n/a", "0%"],
    "tier_transitions": [NO_TRANSITIONS],
}
CURRENCY = "XTS"  # the ISO 4217 code reserved for testing: it cannot be mistaken for a real default
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def report(published_db: Path, tmp_path: Path) -> Path:
    return render_report(published_db, tmp_path / "reports", currency=CURRENCY)


def _figures_html(html: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r'data-chart="(\w+)".*?>(.*?)</figure>', html, re.S)}


def _assert_every_chart_drawn(html: str) -> None:
    """Every chart is there, in page order, as one svg with drawn shapes and the labels a reader looks for."""
    page = parse_page(html)
    assert list(page.figures) == list(CHARTS)
    for name, fig in page.figures.items():
        assert fig.svg == 1, name
        assert fig.shapes > 0, name
        texts = [content for _, content in fig.texts]
        for label in EXPECTED_LABELS[name]:
            assert label in texts, (name, label)


def test_report_files_and_paths(report: Path, tmp_path: Path) -> None:
    assert report == tmp_path / "reports" / "report-2026-06-30.html"
    latest = tmp_path / "reports" / "latest.html"
    assert latest.read_bytes() == report.read_bytes()
    assert sorted(p.name for p in report.parent.iterdir()) == ["latest.html", "report-2026-06-30.html"]


def test_render_report_is_exported_by_the_package(
    fresh_python: Callable[..., subprocess.CompletedProcess],
) -> None:
    done = fresh_python(
        "import inspect, reporting; print(sorted(inspect.signature(reporting.render_report).parameters))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['currency', 'log_rows', 'out_dir', 'published_db', 'run_id']"


def test_report_has_every_chart_drawn(report: Path) -> None:
    _assert_every_chart_drawn(report.read_text(encoding="utf-8"))


def test_report_is_self_contained(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    assert not re.search(r"https?://", html, re.IGNORECASE)
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert "@import" not in html and "url(" not in html and "@font-face" not in html
    assert parse_page(html).urls == []


def test_report_shows_the_numbers(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    figure = _figures_html(html)
    # Tier distribution: vip customer count and share, revenue, the zero-customer tier drawn with 0.
    assert "4 · 4.0%" in figure["tier_distribution"]
    assert "XTS 400k · 50.0%" in figure["tier_distribution"]
    assert "0 · 0.0%" in figure["tier_distribution"]
    # Funnel in stage order.
    stages = re.findall(
        r">(prospect|new|growing|mature|reactivated|declining|churned)<", figure["lifecycle_funnel"]
    )
    assert stages == ["prospect", "new", "growing", "mature", "reactivated", "declining", "churned"]
    assert "40 · 40.0%" in figure["lifecycle_funnel"]
    # Churn risk by tier: the tier without customers is explicit, vip has all of its 4 customers, the none tier
    # is half prospects without a score and half churned.
    assert "no customers" in figure["churn_risk_by_tier"]
    assert "n=4<" in figure["churn_risk_by_tier"]
    assert "none: 5 of 10 customers without a risk score (prospects) (50.0%)" in figure["churn_risk_by_tier"]
    assert "none: 5 of 10 customers at risk level churned (50.0%)" in figure["churn_risk_by_tier"]
    # Satisfaction: negative NPS drawn, the tier without answers says so.
    assert ">-15<" in figure["satisfaction_by_tier"]
    assert "no responses" in figure["satisfaction_by_tier"]
    assert ">75%<" in figure["satisfaction_by_tier"]
    # Backtest: the newest run only (the older one has 999 customers in bucket 0).
    assert "n=400" in figure["backtest_by_frequency"] and "999" not in figure["backtest_by_frequency"]
    # Cohorts: the older snapshot's 2019 cohort is not drawn.
    assert "Jan 19" not in figure["cohort_retention"]
    # Empty transitions table: an explicit panel, not a broken chart.
    assert NO_TRANSITIONS in figure["tier_transitions"]
    # Revenue over time: 12 months with labels.
    assert "Jul 25" in figure["revenue_by_tier"] and "Jun 26" in figure["revenue_by_tier"]
    # Header: as-of, run id (escaped), headline numbers.
    assert "2026-06-30" in html
    assert "run-&lt;b&gt;7&lt;/b&gt;" in html and "run-<b>7</b>" not in html
    assert ">100<" in html  # customers
    assert ">XTS 800,000<" in html  # 365-day net revenue
    assert "7.5%" in html  # churn rate
    nps = (3 + 6 + 12 + 1 - (1 + 9 + 6 + 1)) / (5 + 20 + 30 + 2) * 100
    assert f"{nps:+.1f}" in html
    # Publication log: latest entries, newest first, text escaped.
    assert html.index("run-&lt;b&gt;7") < html.index("run-older")
    assert "15 tables &amp; more" in html
    # No table is missing from the fixture.
    assert "Tables missing" not in html


def test_backtest_caption_states_the_total_error(report: Path) -> None:
    caption = parse_page(report.read_text(encoding="utf-8")).figures["backtest_by_frequency"].caption
    assert "Fitted on data up to 2026-04-01, predicting the next 90 days." in caption
    assert "over all 752 customers: 0.43 purchases, average spend XTS 10.25." in caption


def test_every_amount_carries_the_currency(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    assert money_gaps(html, CURRENCY) == []
    page = parse_page(html)
    # The check has something to check: amount labels in every chart that draws amounts.
    for name, at_least in (("tier_distribution", 5), ("revenue_by_tier", 6), ("clv_by_tier", 6)):
        labels = [c for cls, c in page.figures[name].texts if "money" in cls.split()]
        assert len(labels) >= at_least, name
    assert page.cards["Net revenue, 365 days"] == "XTS 800,000"
    assert "amounts in XTS" in html


def test_without_a_currency_amounts_have_no_unit(published_db: Path, tmp_path: Path) -> None:
    html = render_report(published_db, tmp_path / "out").read_text(encoding="utf-8")
    page = parse_page(html)
    assert page.cards["Net revenue, 365 days"] == "800,000"
    assert "400k · 50.0%" in _figures_html(html)["tier_distribution"]
    assert "None" not in html and "amounts in" not in html
    # The currency check is not vacuous: here it finds the bare amounts.
    gaps = money_gaps(html, CURRENCY)
    assert any(g.startswith("headline card") for g in gaps)
    assert any(g.startswith("tier_distribution label") for g in gaps)
    assert any(g.startswith("revenue_by_tier:") for g in gaps)


def test_currency_read_from_the_published_data(variant_db: Callable[..., Path], tmp_path: Path) -> None:
    db = variant_db(
        "alter table publication_log add column reporting_currency varchar",
        "update publication_log set reporting_currency = case when run_id = 'run-older' then 'GBP' else 'EUR' end",
    )
    html = render_report(db, tmp_path / "from-data").read_text(encoding="utf-8")
    assert money_gaps(html, "EUR") == []
    # An explicit currency wins over the data's.
    html = render_report(db, tmp_path / "explicit", currency="USD").read_text(encoding="utf-8")
    assert money_gaps(html, "USD") == [] and "EUR " not in html


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
    figure = _figures_html(html)["tier_transitions"]
    assert NO_TRANSITIONS not in figure
    assert "Value tier · Jun 26" in figure
    assert "low → medium: 7 customers" in figure
    assert ">20<" in figure
    # The report says that this run was held back and that the data is the last published one.
    assert "run-held" in html and "was held back" in html


def test_older_publication_still_renders(variant_db: Callable[..., Path], tmp_path: Path) -> None:
    """A publication from before the cohort chart, the backtest and CLV: three risk levels, fewer columns."""
    db = variant_db(
        "drop table kpi_cohort_retention",
        "drop table model_backtest",
        "drop table customer_360",
        "update customer_churn_indicators set churn_risk_level = 'low', churn_risk_score = 0 "
        "where churn_risk_level in ('n/a', 'churned')",
        "alter table kpi_customers_by_tier drop column avg_value_score",
        "alter table kpi_customers_by_tier drop column revenue_share",
    )
    html = render_report(db, tmp_path / "out", currency="USD").read_text(encoding="utf-8")
    page = parse_page(html)
    assert "clv_by_tier" not in page.figures  # no CLV published: the chart is left out, silently
    assert set(page.figures) == set(CHARTS) - {"clv_by_tier"}
    # The missing cohort table is named; the backtest, not published yet by older pipelines, is not.
    assert "Tables missing from the published database: kpi_cohort_retention." in html
    assert "No cohort retention published yet" in _figures_html(html)["cohort_retention"]
    backtest = page.figures["backtest_by_frequency"]
    assert NO_BACKTEST in [c for _, c in backtest.texts] and "not published yet" in backtest.caption
    assert 'class="chart wide" data-chart="backtest_by_frequency"' in html  # alone in its row, so full width
    risk_texts = [c for _, c in page.figures["churn_risk_by_tier"].texts]
    assert {"low", "medium", "high"} <= set(risk_texts) and not {"n/a", "churned"} & set(risk_texts)
    # A missing column reads as unknown: the revenue share shows a dash, the amounts are still there.
    assert "USD 400k · –" in _figures_html(html)["tier_distribution"]
    assert money_gaps(html, "USD") == []


def test_report_needs_a_database(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        render_report(tmp_path / "missing.duckdb", tmp_path / "out")


def test_report_needs_an_as_of_date(tmp_path: Path) -> None:
    db = tmp_path / "unrelated.duckdb"
    duckdb.connect(str(db)).close()
    with pytest.raises(ValueError, match="no as-of date"):
        render_report(db, tmp_path / "out")


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


def _png_pixels(path: Path) -> np.ndarray:
    """A minimal PNG decoder (8-bit RGB/RGBA, non-interlaced, as Chromium writes them): RGB pixels, rows first."""
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
    stride = width * channels
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, stride + 1)
    out = np.empty((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        ftype, line = raw[y, 0], raw[y, 1:]
        if ftype == 0:
            cur = line.copy()
        elif ftype == 1:  # Sub: a running sum along the row, per channel, modulo 256
            cur = np.cumsum(line.reshape(width, channels), axis=0, dtype=np.uint8).reshape(stride)
        elif ftype == 2:  # Up
            cur = line + prev
        else:  # Average and Paeth depend on the decoded byte to the left: byte by byte
            row, up = bytearray(line.tobytes()), prev.tolist()
            for i in range(stride):
                a = row[i - channels] if i >= channels else 0
                b = up[i]
                if ftype == 3:
                    row[i] = (row[i] + (a + b) // 2) & 0xFF
                else:
                    c = up[i - channels] if i >= channels else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
            cur = np.frombuffer(bytes(row), dtype=np.uint8)
        out[y] = cur
        prev = cur
    return out.reshape(height, width, channels)[:, :, :3]


@pytest.mark.browser
def test_report_renders_in_chromium(report: Path, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.skip("chromium not installed: apt-get install chromium (.ci/run installs it)")
    url = report.resolve().as_uri()

    # The DOM after layout: every figure holds an svg with drawn shapes and the labels a reader looks for, and no
    # amount lost its currency on the way.
    dom = _chromium(["--dump-dom", url], tmp_path).stdout
    _assert_every_chart_drawn(dom)
    assert money_gaps(dom, CURRENCY) == []

    # The screenshot is a plausible picture of the whole page: its size, many distinct colours, not mostly
    # background, and the colours of the charts on it (tier blue, risk levels, backtest bars, cohort cells).
    png = tmp_path / "report.png"
    _chromium([f"--screenshot={png}", "--window-size=1280,3000", url], tmp_path)
    assert 100_000 < png.stat().st_size < 20_000_000
    pixels = _png_pixels(png)
    assert pixels.shape == (3000, 1280, 3)
    sample = pixels[::4, ::2].reshape(-1, 3)
    colours, counts = np.unique(sample, axis=0, return_counts=True)
    assert len(colours) > 50
    assert 1 - counts.max() / len(sample) > 0.2  # not mostly background
    present = {bytes(c) for c in colours}
    expected = {
        "vip tier": TIER_COLORS["vip"],
        "low risk": RISK_COLORS["low"],
        "churned": RISK_COLORS["churned"],
        "predicted": PREDICTED_COLOR,
        "actual": ACTUAL_COLOR,
        "cohort month 0": RETENTION_RAMP[-1],
    }
    for what, colour in expected.items():
        assert bytes.fromhex(colour[1:]) in present, what
