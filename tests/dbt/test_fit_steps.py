"""The fit step between the two dbt selections (orchestration/fits.py), on a DuckDB warehouse: what it reads from the
grouped histories and what it writes to the source tables `analytics.*`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from analytics import (
    discounted_expected_purchases,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    simulate_bgnbd,
    simulate_gamma_gamma,
)
from orchestration.fits import (
    BACKTEST_FIT_SCHEMA,
    FIT_SCHEMA,
    SCORES_SCHEMA,
    SPEND_FIT_SCHEMA,
    FitSettings,
    run_backtest_fit,
    run_bgnbd_fit,
    run_fit_steps,
    run_gamma_gamma_fit,
)
from warehouse import DuckDBWarehouse

CLV = {"clv_horizon_months": 12, "clv_annual_discount_rate": 0.1}


def _write(wh: DuckDBWarehouse, table: str, columns: dict[str, list]) -> None:
    wh.write_table(
        "intermediate",
        table,
        pa.table(
            {
                name: pa.array(values, pa.decimal128(18, 2) if "revenue" in name else pa.int64())
                for name, values in columns.items()
            }
        ),
    )


def _triples(
    wh: DuckDBWarehouse, frequency, recency, age, customers, *, table="int_purchase_histories_grouped"
):
    prefix = "bgnbd_" if table == "int_purchase_histories_grouped" else "calibration_"
    _write(
        wh,
        table,
        {
            f"{prefix}frequency": list(frequency),
            f"{prefix}recency_days": list(recency),
            f"{prefix}age_days": list(age),
            "customers": list(customers),
        },
    )


def _pairs(wh: DuckDBWarehouse, frequency, revenue, customers, *, table="int_spend_histories_grouped"):
    if table == "int_spend_histories_grouped":
        names = ("frequency", "repeat_net_revenue")
    else:
        names = ("calibration_frequency", "calibration_repeat_net_revenue")
    _write(
        wh,
        table,
        {
            names[0]: list(frequency),
            names[1]: [Decimal(f"{float(v):.2f}") for v in revenue],
            "customers": list(customers),
        },
    )


@pytest.fixture
def wh(tmp_path: Path):
    wh = DuckDBWarehouse(tmp_path / "fit.duckdb")
    yield wh
    wh.close()


def _simulated_triples(seed: int, n: int = 3000) -> tuple[np.ndarray, ...]:
    sim = simulate_bgnbd(
        n, 0.8, 60.0, 0.7, 2.5, T=np.random.default_rng(seed).integers(30, 730, n), seed=seed
    )
    frame = sim.assign(recency=np.floor(sim["recency"]).astype(int), T=sim["T"].astype(int))
    grouped = frame.groupby(["frequency", "recency", "T"]).size().reset_index(name="customers")
    return tuple(grouped[c].to_numpy() for c in ("frequency", "recency", "T", "customers"))


def _simulated_pairs(seed: int, n: int = 3000) -> tuple[np.ndarray, ...]:
    """Repeat buyers' (frequency, total repeat revenue in cents) with counts, as int_spend_histories_grouped has them."""
    frequency = np.random.default_rng(seed).integers(1, 8, n)
    sim = simulate_gamma_gamma(frequency, 6.25, 3.74, 15.44, seed=seed)
    sim["revenue"] = (sim["mean_spend"] * sim["frequency"]).round(2)
    grouped = sim.groupby(["frequency", "revenue"]).size().reset_index(name="customers")
    return tuple(grouped[c].to_numpy() for c in ("frequency", "revenue", "customers"))


def test_the_bgnbd_fit_is_the_weighted_fit_of_the_triples_and_scores_every_triple(
    wh: DuckDBWarehouse,
) -> None:
    x, tx, age, n = _simulated_triples(1)
    _triples(wh, x, tx, age, n)
    row = run_bgnbd_fit(wh, as_of_date="2026-06-30", horizon_days=90, **CLV)

    direct = fit_bgnbd(x, tx, age, weights=n)
    fit = wh.query_arrow("select * from analytics.bgnbd_fit")
    assert fit.schema.equals(FIT_SCHEMA)
    assert fit.num_rows == 1
    stored = fit.to_pylist()[0]
    assert stored == row
    assert [stored[k] for k in ("r", "alpha", "a", "b")] == pytest.approx(
        [direct.r, direct.alpha, direct.a, direct.b], rel=1e-9
    )
    assert stored["log_likelihood"] == pytest.approx(direct.log_likelihood, rel=1e-12)
    assert stored["n_customers"] == stored["n_fitted"] == n.sum() and stored["n_triples"] == len(x)
    assert stored["n_excluded"] == 0 and stored["exclusion_reasons"] is None
    assert (stored["horizon_days"], stored["clv_horizon_months"], stored["clv_annual_discount_rate"]) == (
        90,
        12,
        0.1,
    )
    assert str(stored["as_of_date"]) == "2026-06-30"

    scores = wh.query_arrow(
        "select * from analytics.bgnbd_triple_scores order by frequency, recency_days, age_days"
    )
    assert scores.schema.equals(SCORES_SCHEMA)
    assert scores.num_rows == len(x)
    order = np.lexsort((age, tx, x))
    assert scores.column("expected_purchases").to_pylist() == pytest.approx(
        expected_purchases(direct, 90, x[order], tx[order], age[order]), rel=1e-9
    )
    discounted = discounted_expected_purchases(
        direct, x[order], tx[order], age[order], horizon=12, period="month", annual_discount_rate=0.1
    )
    assert scores.column("discounted_expected_purchases").to_pylist() == pytest.approx(discounted, rel=1e-9)
    # discounting costs something, and a year holds more purchases than 90 days
    undiscounted = expected_purchases(direct, 365.25, x[order], tx[order], age[order])
    assert np.all(discounted <= undiscounted + 1e-12) and discounted.sum() > 0.8 * undiscounted.sum()


def test_a_second_run_replaces_both_tables(wh: DuckDBWarehouse) -> None:
    x, tx, age, n = _simulated_triples(2)
    _triples(wh, x, tx, age, n)
    run_bgnbd_fit(wh, as_of_date="2026-06-29", horizon_days=90, **CLV)
    _triples(wh, x[:50], tx[:50], age[:50], n[:50])
    run_bgnbd_fit(wh, as_of_date="2026-06-30", horizon_days=30, **CLV)
    assert wh.row_count("analytics", "bgnbd_fit") == 1
    assert wh.query("select horizon_days, n_triples from analytics.bgnbd_fit").to_dict("records") == [
        {"horizon_days": 30, "n_triples": 50}
    ]
    assert wh.row_count("analytics", "bgnbd_triple_scores") == 50


def test_no_buyers_gives_fit_rows_that_say_so_and_no_scores(wh: DuckDBWarehouse) -> None:
    _triples(wh, [], [], [], [])
    _pairs(wh, [], [], [])
    _triples(wh, [], [], [], [], table="int_calibration_histories_grouped")
    _pairs(wh, [], [], [], table="int_calibration_spend_grouped")
    rows = run_fit_steps(wh, as_of_date="2026-06-30", settings=FitSettings.from_vars())
    bgnbd, spend, backtest = rows["bgnbd_fit"], rows["gamma_gamma_fit"], rows["backtest_fit"]
    assert bgnbd["r"] is None and bgnbd["n_customers"] == 0 and bgnbd["is_converged"] is False
    assert "nothing to fit" in bgnbd["fit_message"]
    assert spend["p"] is None and spend["population_mean_order_value"] is None and spend["n_customers"] == 0
    assert spend["is_informative"] is False and "nothing to fit" in spend["fit_message"]
    assert backtest["r"] is None and backtest["p"] is None and backtest["bgnbd_n_customers"] == 0
    for table in ("bgnbd_fit", "gamma_gamma_fit", "backtest_fit"):
        assert wh.row_count("analytics", table) == 1
    assert wh.row_count("analytics", "bgnbd_triple_scores") == 0
    assert wh.row_count("analytics", "backtest_triple_scores") == 0


def test_a_heavy_buyer_is_fitted_not_excluded(wh: DuckDBWarehouse) -> None:
    """A customer with a purchase almost every day (179 purchase days in 405, as on a real purchase log) is part of
    the fit: nobody is excluded unless a numerical safeguard must, and the log-likelihood covers every customer."""
    x, tx, age, n = _simulated_triples(3)
    _triples(wh, [*x, 178], [*tx, 404], [*age, 405], [*n, 1])
    row = run_bgnbd_fit(wh, as_of_date="2026-06-30", horizon_days=90, **CLV)
    assert row["n_excluded"] == 0 and row["n_fitted"] == row["n_customers"] == n.sum() + 1
    assert row["exclusion_reasons"] is None
    direct = fit_bgnbd([*x, 178], [*tx, 404], [*age, 405], weights=[*n, 1])
    assert row["log_likelihood"] == pytest.approx(direct.log_likelihood, rel=1e-12)


def test_the_gamma_gamma_fit_is_the_weighted_fit_of_the_pairs(wh: DuckDBWarehouse) -> None:
    x, revenue, n = _simulated_pairs(4)
    _pairs(wh, x, revenue, n)
    row = run_gamma_gamma_fit(wh, as_of_date="2026-06-30")
    direct = fit_gamma_gamma(x, revenue / x, weights=n)
    stored = wh.query_arrow("select * from analytics.gamma_gamma_fit")
    assert stored.schema.equals(SPEND_FIT_SCHEMA) and stored.to_pylist() == [row]
    assert [row["p"], row["q"], row["gamma"]] == pytest.approx([direct.p, direct.q, direct.gamma], rel=1e-9)
    assert row["population_mean_order_value"] == pytest.approx(direct.p * direct.gamma / (direct.q - 1))
    assert row["n_customers"] == row["n_fitted"] == n.sum() and row["n_pairs"] == len(x)
    assert row["spend_frequency_correlation"] == pytest.approx(direct.spend_frequency_correlation)
    assert abs(row["spend_frequency_correlation"]) < 0.1  # simulated independent, as the model assumes
    assert row["is_informative"] and row["is_converged"] and row["exclusion_reasons"] is None
    # the paper's parameters come back from 3,000 simulated repeat buyers
    assert [row["p"], row["q"], row["gamma"]] == pytest.approx([6.25, 3.74, 15.44], rel=0.35)


def test_repeat_buyers_without_spend_are_counted_and_named_not_fitted(wh: DuckDBWarehouse) -> None:
    x, revenue, n = _simulated_pairs(5)
    _pairs(wh, [*x, 2, 5], [*revenue, 0, 0], [*n, 3, 1])
    row = run_gamma_gamma_fit(wh, as_of_date="2026-06-30")
    assert row["n_customers"] == n.sum() + 4 and row["n_fitted"] == n.sum() and row["n_excluded"] == 4
    assert row["exclusion_reasons"] == "4 customers: zero spend"
    direct = fit_gamma_gamma(x, revenue / x, weights=n)
    assert row["log_likelihood"] == pytest.approx(
        direct.log_likelihood, rel=1e-9
    )  # over the fitted ones only


def test_too_few_repeat_buyers_give_everyone_their_mean_spend(wh: DuckDBWarehouse) -> None:
    _pairs(wh, [1, 2, 4], [10, 40, 200], [1, 2, 1])
    row = run_gamma_gamma_fit(wh, as_of_date="2026-06-30")
    assert row["is_informative"] is False and row["p"] is None and row["q"] is None
    # mean spend 10, 20, 20, 50 per customer
    assert row["population_mean_order_value"] == pytest.approx(25.0)
    assert "not informative" in row["fit_message"]


def test_the_backtest_fits_both_models_as_of_the_calibration_end(wh: DuckDBWarehouse) -> None:
    x, tx, age, n = _simulated_triples(6)
    _triples(wh, x, tx, age, n, table="int_calibration_histories_grouped")
    px, revenue, pn = _simulated_pairs(7)
    _pairs(wh, px, revenue, pn, table="int_calibration_spend_grouped")
    row = run_backtest_fit(wh, as_of_date="2026-06-30", holdout_days=60)
    stored = wh.query_arrow("select * from analytics.backtest_fit")
    assert stored.schema.equals(BACKTEST_FIT_SCHEMA) and stored.to_pylist() == [row]
    assert row["calibration_end_date"] == date(2026, 5, 1) and row["holdout_days"] == 60
    bgnbd = fit_bgnbd(x, tx, age, weights=n)
    spend = fit_gamma_gamma(px, revenue / px, weights=pn)
    assert [row[k] for k in ("r", "alpha", "a", "b")] == pytest.approx(
        [bgnbd.r, bgnbd.alpha, bgnbd.a, bgnbd.b]
    )
    assert [row[k] for k in ("p", "q", "gamma")] == pytest.approx([spend.p, spend.q, spend.gamma])
    assert row["bgnbd_n_customers"] == n.sum() and row["spend_n_fitted"] == pn.sum()
    scores = wh.query(
        "select * from analytics.backtest_triple_scores order by frequency, recency_days, age_days"
    )
    order = np.lexsort((age, tx, x))
    assert scores["expected_purchases"].to_numpy() == pytest.approx(
        expected_purchases(bgnbd, 60, x[order], tx[order], age[order]), rel=1e-9
    )


def test_settings_come_from_the_project_vars_with_the_run_overrides() -> None:
    assert FitSettings.from_vars() == FitSettings(
        horizon_days=90, clv_horizon_months=12, clv_annual_discount_rate=0.1, backtest_holdout_days=90
    )
    assert (
        FitSettings.from_vars({"backtest_holdout_days": 30, "clv_horizon_months": 24}).backtest_holdout_days
        == 30
    )


def test_bad_settings_are_refused_before_anything_is_written(wh: DuckDBWarehouse) -> None:
    _triples(wh, [1], [5], [10], [1])
    with pytest.raises(ValueError):
        run_bgnbd_fit(wh, as_of_date="30/06/2026", horizon_days=90, **CLV)
    with pytest.raises(ValueError, match="horizon_days"):
        run_bgnbd_fit(wh, as_of_date="2026-06-30", horizon_days=-1, **CLV)
    with pytest.raises(ValueError, match="holdout_days"):
        run_backtest_fit(wh, as_of_date="2026-06-30", holdout_days=0)
    assert not wh.table_exists("analytics", "bgnbd_fit")
    assert not wh.table_exists("analytics", "backtest_fit")
