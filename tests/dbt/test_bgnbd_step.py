"""The BG/NBD fit step between the two dbt selections (orchestration/bgnbd.py), on a DuckDB warehouse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from analytics.bgnbd import expected_purchases, fit_bgnbd, simulate_bgnbd
from orchestration.bgnbd import FIT_SCHEMA, SCORES_SCHEMA, run_bgnbd_fit
from warehouse import DuckDBWarehouse


def _triples(wh: DuckDBWarehouse, frequency, recency, age, customers) -> None:
    wh.write_table(
        "intermediate",
        "int_purchase_histories_grouped",
        pa.table(
            {
                "bgnbd_frequency": pa.array(frequency, pa.int64()),
                "bgnbd_recency_days": pa.array(recency, pa.int64()),
                "bgnbd_age_days": pa.array(age, pa.int64()),
                "customers": pa.array(customers, pa.int64()),
            }
        ),
    )


@pytest.fixture
def wh(tmp_path: Path):
    wh = DuckDBWarehouse(tmp_path / "fit.duckdb")
    yield wh
    wh.close()


def _simulated_triples(seed: int) -> tuple[np.ndarray, ...]:
    sim = simulate_bgnbd(
        3000, 0.8, 60.0, 0.7, 2.5, T=np.random.default_rng(seed).integers(30, 730, 3000), seed=seed
    )
    frame = sim.assign(recency=np.floor(sim["recency"]).astype(int), T=sim["T"].astype(int))
    grouped = frame.groupby(["frequency", "recency", "T"]).size().reset_index(name="customers")
    return tuple(grouped[c].to_numpy() for c in ("frequency", "recency", "T", "customers"))


def test_the_fit_is_the_weighted_fit_of_the_triples_and_scores_every_triple(wh: DuckDBWarehouse) -> None:
    x, tx, age, n = _simulated_triples(1)
    _triples(wh, x, tx, age, n)
    row = run_bgnbd_fit(wh, as_of_date="2026-06-30", horizon_days=90)

    direct = fit_bgnbd(x, tx, age, weights=n)
    fit = wh.query_arrow("select * from analytics.bgnbd_fit")
    assert fit.schema.equals(FIT_SCHEMA)
    assert fit.num_rows == 1
    stored = fit.to_pylist()[0]
    assert stored == row
    assert [stored[k] for k in ("r", "alpha", "a", "b")] == pytest.approx(
        [direct.r, direct.alpha, direct.a, direct.b], rel=1e-9
    )
    assert stored["n_customers"] == n.sum() and stored["n_triples"] == len(x) and stored["horizon_days"] == 90
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


def test_a_second_run_replaces_both_tables(wh: DuckDBWarehouse) -> None:
    x, tx, age, n = _simulated_triples(2)
    _triples(wh, x, tx, age, n)
    run_bgnbd_fit(wh, as_of_date="2026-06-29", horizon_days=90)
    _triples(wh, x[:50], tx[:50], age[:50], n[:50])
    run_bgnbd_fit(wh, as_of_date="2026-06-30", horizon_days=30)
    assert wh.row_count("analytics", "bgnbd_fit") == 1
    assert wh.query("select horizon_days, n_triples from analytics.bgnbd_fit").to_dict("records") == [
        {"horizon_days": 30, "n_triples": 50}
    ]
    assert wh.row_count("analytics", "bgnbd_triple_scores") == 50


def test_no_buyers_gives_a_fit_row_that_says_so_and_no_scores(wh: DuckDBWarehouse) -> None:
    _triples(wh, [], [], [], [])
    row = run_bgnbd_fit(wh, as_of_date="2026-06-30", horizon_days=90)
    assert row["r"] is None and row["n_customers"] == 0 and row["is_converged"] is False
    assert "nothing to fit" in row["fit_message"]
    assert wh.row_count("analytics", "bgnbd_fit") == 1
    assert wh.row_count("analytics", "bgnbd_triple_scores") == 0


def test_heavy_buyers_are_fitted_not_left_out(wh: DuckDBWarehouse) -> None:
    """The fit covers every customer: a genuine heavy buyer (here two, 390 repeat purchase days in 400 days) is in
    the estimation and counted, nothing is excluded silently."""
    x, tx, age, n = _simulated_triples(3)
    _triples(wh, [*x, 390], [*tx, 399], [*age, 400], [*n, 2])
    row = run_bgnbd_fit(wh, as_of_date="2026-06-30", horizon_days=90)
    assert row["n_excluded"] == 0
    assert row["n_customers"] == n.sum() + 2
    assert row["is_converged"]
    scores = wh.query("select expected_purchases from analytics.bgnbd_triple_scores where frequency = 390")
    assert scores["expected_purchases"].iloc[0] > 50  # the model expects them to keep buying


def test_a_bad_date_or_horizon_is_refused_before_anything_is_written(wh: DuckDBWarehouse) -> None:
    _triples(wh, [1], [5], [10], [1])
    with pytest.raises(ValueError):
        run_bgnbd_fit(wh, as_of_date="30/06/2026", horizon_days=90)
    with pytest.raises(ValueError, match="horizon_days"):
        run_bgnbd_fit(wh, as_of_date="2026-06-30", horizon_days=-1)
    assert not wh.table_exists("analytics", "bgnbd_fit")
