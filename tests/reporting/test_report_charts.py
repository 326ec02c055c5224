"""The charts one by one, as pure functions of their rows: edge cases of the new ones (cohort retention, risk levels,
backtest, CLV) and the currency on the amounts."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from report_helpers import svg_root, svg_texts, svg_texts_of_class, svg_titles, titled_rects

from reporting import charts
from reporting.charts import (
    FALLBACK_COLOR,
    NO_BACKTEST,
    NO_COHORTS,
    RETENTION_RAMP,
    RISK_COLORS,
)
from reporting.svg import money, ramp, ticks, with_unit

AS_OF = date(2026, 6, 30)
TIERS = [
    {"value_tier": "vip", "tier_order": 1, "customers": 4},
    {"value_tier": "high", "tier_order": 2, "customers": 0},
    {"value_tier": "medium", "tier_order": 3, "customers": 30},
    {"value_tier": "low", "tier_order": 4, "customers": 56},
    {"value_tier": "none", "tier_order": 5, "customers": 10},
]


def _cell(cohort: date, month: int, size: int, active: int, rate: float | None, as_of: Any = AS_OF) -> dict:
    return {
        "as_of_date": as_of,
        "cohort_month": cohort,
        "months_since_first_order": month,
        "cohort_customers": size,
        "active_customers": active,
        "retention_rate": rate,
    }


def _cohort_cells(svg: str, cohort: str) -> list[tuple[str, str]]:
    return [(fill, title) for fill, title in titled_rects(svg) if title.startswith(f"{cohort} cohort")]


# ------------------------------------------------------------------------------------------------------------
# Cohort retention
# ------------------------------------------------------------------------------------------------------------


def test_cohort_retention_without_rows_is_a_placeholder() -> None:
    svg = charts.cohort_retention([])
    assert svg_texts(svg) == [NO_COHORTS]
    assert titled_rects(svg) == []


def test_cohort_retention_of_one_cohort() -> None:
    svg = charts.cohort_retention([_cell(date(2026, 6, 1), 0, 12, 12, 1.0)])
    assert _cohort_cells(svg, "Jun 26") == [
        (RETENTION_RAMP[-1], "Jun 26 cohort (12 customers), month 0: 12 ordering (100.0%)")
    ]
    texts = svg_texts(svg)
    assert "Jun 26" in texts and "12" in texts and "100%" in texts
    assert svg_texts_of_class(svg, "tick") == ["0"]  # one column: the cohort's own month


def test_cohort_retention_cells_zero_future_and_scale() -> None:
    april, june = date(2026, 4, 1), date(2026, 6, 1)
    svg = charts.cohort_retention(
        [
            _cell(april, 0, 40, 40, 1.0),
            # no row for April + 1: nobody of the cohort ordered, a measured 0%
            _cell(april, 2, 40, 10, 0.25),
            _cell(june, 0, 8, 8, 1.0),
        ]
    )
    cells = _cohort_cells(svg, "Apr 26")
    assert [title.split(": ", 1)[1] for _, title in cells] == [
        "40 ordering (100.0%)",
        "0 ordering (0.0%)",
        "10 ordering (25.0%)",
    ]
    # Colours: the scale ends at the highest later-month rate (25%), so it and month 0 are the darkest; 0% the lightest.
    assert [fill for fill, _ in cells] == [RETENTION_RAMP[-1], RETENTION_RAMP[0], RETENTION_RAMP[-1]]
    # June has only its own month: the two months after the as-of date are blank, not 0%.
    assert len(_cohort_cells(svg, "Jun 26")) == 1
    assert svg_texts_of_class(svg, "tick") == ["0", "1", "2"]
    legend = svg_texts_of_class(svg, "legend")
    assert legend[0] == "retention:" and legend[-2] == "≥25%" and legend[-1] == "n/a: no rate"


def test_cohort_retention_null_rate_is_not_a_zero() -> None:
    may = date(2026, 5, 1)
    svg = charts.cohort_retention([_cell(may, 0, 20, 20, 1.0), _cell(may, 1, 20, 3, None)])
    cells = _cohort_cells(svg, "May 26")
    assert cells[1] == ("#ffffff", "May 26 cohort (20 customers), month 1: no retention rate published")
    assert svg_texts_of_class(svg, "cell") == ["100%", "n/a"]
    # The NULL does not set the scale: with no later rate, the scale runs to 100%.
    assert svg_texts_of_class(svg, "legend")[-2] == "100%"


def test_cohort_retention_shows_the_latest_24_cohorts() -> None:
    cohorts = [date(2024 + (m - 1) // 12, (m - 1) % 12 + 1, 1) for m in range(1, 31)]  # Jan 24 .. Jun 26
    svg = charts.cohort_retention([_cell(c, 0, 5, 5, 1.0) for c in cohorts])
    labels = svg_texts_of_class(svg, "label")
    assert labels[0] == "Jul 24" and labels[-1] == "Jun 26" and len(labels) == 24
    assert "Jun 24" not in labels
    # The oldest shown cohort can be followed for 24 months (0..23); each later cohort one month less.
    assert len(svg_texts_of_class(svg, "tick")) == 24
    assert len(_cohort_cells(svg, "Jul 24")) == 24 and len(_cohort_cells(svg, "May 26")) == 2


def test_cohort_retention_without_an_as_of_date_uses_the_months_it_has() -> None:
    march = date(2026, 3, 1)
    svg = charts.cohort_retention([_cell(march, 0, 9, 9, 1.0, None), _cell(march, 2, 9, 3, 0.3333, None)])
    assert len(_cohort_cells(svg, "Mar 26")) == 3


# ------------------------------------------------------------------------------------------------------------
# Churn risk
# ------------------------------------------------------------------------------------------------------------


def _risk(*rows: tuple[str, str | None, int]) -> list[dict[str, Any]]:
    return [{"value_tier": t, "churn_risk_level": lvl, "customers": n} for t, lvl, n in rows]


def test_churn_risk_draws_the_five_coherent_levels_in_order() -> None:
    svg = charts.churn_risk_by_tier(
        _risk(
            ("none", "churned", 6),
            ("none", None, 2),  # a prospect published without a level counts as n/a
            ("none", "n/a", 2),
            ("low", "high", 1),
            ("low", "medium", 1),
            ("low", "low", 2),
        ),
        TIERS,
    )
    assert svg_texts_of_class(svg, "legend") == ["risk:", "n/a", "low", "medium", "high", "churned"]
    none = [(fill, title) for fill, title in titled_rects(svg) if title.startswith("none:")]
    assert none == [
        (RISK_COLORS["n/a"], "none: 4 of 10 customers without a risk score (prospects) (40.0%)"),
        (RISK_COLORS["churned"], "none: 6 of 10 customers at risk level churned (60.0%)"),
    ]
    low = [title for _, title in titled_rects(svg) if title.startswith("low:")]
    assert [t.split(" at risk level ")[1] for t in low] == ["low (50.0%)", "medium (25.0%)", "high (25.0%)"]


def test_churn_risk_accepts_the_three_older_levels() -> None:
    svg = charts.churn_risk_by_tier(
        _risk(("vip", "low", 3), ("vip", "high", 1), ("none", "medium", 5)), TIERS
    )
    assert svg_texts_of_class(svg, "legend") == ["risk:", "low", "medium", "high"]
    assert {fill for fill, _ in titled_rects(svg)} == {RISK_COLORS[lvl] for lvl in ("low", "medium", "high")}


def test_churn_risk_tier_without_customers_and_unknown_level() -> None:
    svg = charts.churn_risk_by_tier(_risk(("vip", "low", 3), ("vip", "severe", 1)), TIERS)
    texts = svg_texts(svg)
    # high, medium, low and none have no rows: each says so, with n=0.
    assert texts.count("no customers") == 4 and texts.count("n=0") == 4 and "n=4" in texts
    assert svg_texts_of_class(svg, "legend")[-1] == "severe"
    assert (FALLBACK_COLOR, "vip: 1 of 4 customers at risk level severe (25.0%)") in titled_rects(svg)


# ------------------------------------------------------------------------------------------------------------
# Backtest
# ------------------------------------------------------------------------------------------------------------


def _bucket(
    name: str, order: int, predicted: float | None, actual: float | None, **extra: Any
) -> dict[str, Any]:
    return {
        "as_of_date": AS_OF,
        "calibration_end_date": date(2026, 4, 1),
        "holdout_days": 90,
        "frequency_bucket": name,
        "bucket_order": order,
        "customers": 10,
        "predicted_purchases": predicted,
        "actual_purchases": actual,
        "purchases_mae": 0.5,
        "predicted_avg_spend": None,
        "actual_avg_spend": None,
        "spend_mae": None,
        **extra,
    }


def test_backtest_not_published_is_a_placeholder() -> None:
    svg = charts.backtest_by_frequency([], "USD")
    assert svg_texts(svg) == [NO_BACKTEST] and titled_rects(svg) == []


def test_backtest_with_only_the_total() -> None:
    svg = charts.backtest_by_frequency([_bucket("total", 8, 10.0, 9.0)], "USD")
    assert svg_texts(svg) == ["The backtest has no frequency buckets"]


def test_backtest_keeps_a_place_for_missing_buckets_and_leaves_out_the_total() -> None:
    rows = [
        _bucket("0", 0, 50.0, 100.0),
        _bucket("2", 2, 20.0, 25.0),
        _bucket("7+", 7, 30.0, 28.0, predicted_avg_spend=41.5, actual_avg_spend=40.0),
        _bucket("total", 8, 100.0, 153.0),
    ]
    svg = charts.backtest_by_frequency(rows, "XTS")
    assert svg_texts_of_class(svg, "label") == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert svg_texts(svg).count("no row") == 5
    bars = titled_rects(svg)
    assert len(bars) == 6  # predicted and actual for the three buckets; nothing for the total
    assert not any("total" in title for _, title in bars)
    assert "repeat purchases in the holdout (90 days)" in svg_texts(svg)
    titles = svg_titles(svg)
    assert titles[-1].endswith("; average spend XTS 41.50 predicted, XTS 40.00 actual")
    assert "average spend" not in titles[0]


def test_backtest_bar_heights_follow_the_values() -> None:
    svg = charts.backtest_by_frequency([_bucket("1", 1, 50.0, 100.0), _bucket("2", 2, None, 30.0)], None)
    heights = [float(el.get("height")) for el in svg_root(svg).iter("rect") if el.find("title") is not None]
    assert heights[1] == pytest.approx(2 * heights[0])
    assert len(heights) == 3  # bucket 2 has no prediction: no bar for it, a dash instead
    assert "–" in svg_texts(svg)


# ------------------------------------------------------------------------------------------------------------
# CLV
# ------------------------------------------------------------------------------------------------------------


def _clv(tier: str, q: list[float] | None, total: float | None) -> dict[str, Any]:
    return {"value_tier": tier, "customers": 5, "with_clv": 0 if q is None else 5, "total_clv": total, "q": q}


def test_clv_by_tier_spread_currency_and_missing_tiers() -> None:
    svg = charts.clv_by_tier(
        [
            _clv("vip", [1000.0, 2000.0, 3000.0, 4500.0, 6000.0], 15000.0),
            _clv("low", [-50.0, 0.0, 20.0, 40.0, 90.0], 100.0),
            _clv("none", None, None),
        ],
        TIERS,
        "XTS",
    )
    money_labels = svg_texts_of_class(svg, "money")
    assert money_labels == ["median XTS 3k", "total XTS 15k", "median XTS 20", "total XTS 100"]
    assert svg_texts(svg).count("no CLV") == 3  # high and medium have no rows, none has no values
    assert "-50" in svg_texts_of_class(svg, "tick")  # a negative CLV widens the axis below zero
    assert "CLV per customer, XTS" in svg_texts(svg)


def test_clv_by_tier_without_values() -> None:
    svg = charts.clv_by_tier([_clv("none", None, None)], TIERS, "USD")
    assert svg_texts(svg) == ["No CLV values published"]


# ------------------------------------------------------------------------------------------------------------
# Amounts
# ------------------------------------------------------------------------------------------------------------


def test_revenue_totals_carry_the_currency_and_never_crowd() -> None:
    months = [date(2024 + (m - 1) // 12, (m - 1) % 12 + 1, 1) for m in range(7, 31)]  # 24 months
    revenue = [{"month": m, "value_tier": "vip", "orders": 1, "net_revenue": 12345.0} for m in months]
    svg = charts.revenue_by_tier(revenue, TIERS, "XTS")
    totals = svg_texts_of_class(svg, "total")
    # 24 bars are too narrow for a label each: every other month, counted back from the latest.
    assert totals == ["XTS 12.3k"] * 12
    assert "net revenue per month, XTS" in svg_texts(svg)
    assert all(t.startswith("Jun 26 · vip: net revenue XTS 12,345") for t in svg_titles(svg)[-1:])
    bare = charts.revenue_by_tier(revenue[-6:], TIERS, None)
    assert svg_texts_of_class(bare, "total") == ["12.3k"] * 6


def test_tier_distribution_amounts_and_empty_tier() -> None:
    tiers = [
        {**TIERS[0], "customer_share": 0.4, "net_revenue_365d": 1_500_000.0, "revenue_share": 0.75},
        {**TIERS[2], "customer_share": 0.6, "net_revenue_365d": 500_000.0, "revenue_share": 0.25},
    ]
    svg = charts.tier_distribution(tiers, "XTS")
    assert svg_texts_of_class(svg, "money") == [
        "XTS 1.5M · 75.0%",
        "XTS 500k · 25.0%",
        "XTS 0 · 0.0%",  # the tiers without a row follow, drawn as zero
        "XTS 0 · 0.0%",
        "XTS 0 · 0.0%",
    ]
    assert "vip: net revenue XTS 1,500,000 (75.0% of total)" in svg_titles(svg)


@pytest.mark.parametrize(
    ("value", "currency", "kwargs", "expected"),
    [
        (1_234_567, "USD", {}, "USD 1.23M"),
        (83_456, "EUR", {}, "EUR 83.5k"),
        (-950, "USD", {}, "USD -950"),
        (800_000, "USD", {"short": False}, "USD 800,000"),
        (10.254, "USD", {"short": False, "digits": 2}, "USD 10.25"),
        (800_000, None, {"short": False}, "800,000"),
        (None, "USD", {}, "–"),
    ],
)
def test_money(value: float | None, currency: str | None, kwargs: dict[str, Any], expected: str) -> None:
    assert money(value, currency, **kwargs) == expected


def test_units_ticks_and_ramp() -> None:
    assert (
        with_unit("net revenue", "USD") == "net revenue, USD"
        and with_unit("net revenue", None) == "net revenue"
    )
    assert ticks(0.41, 5) == pytest.approx([0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert ticks(0, 4) == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    stops = ("#000000", "#808080", "#ffffff")
    assert [ramp(stops, t) for t in (-1, 0, 0.25, 0.5, 1, 2)] == [
        "#000000",
        "#000000",
        "#404040",
        "#808080",
        "#ffffff",
        "#ffffff",
    ]
