"""Predictions over runs (issue 17): the fit histories and the daily backtest keep one entry per run, the control
group's assignments of an earlier month come back as kpi_action_uplift once the month and its window have passed,
and the backtest check warns by default and holds the publication back when told to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
from e2e_helpers import c360_env, generate, published, run

pytestmark = pytest.mark.e2e

MAY = date(2026, 5, 15)
JUNE = date(2026, 6, 30)
WINDOW_DAYS = 30  # uplift_window_days


@pytest.fixture(scope="module")
def two_months(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """8,000 demo orders run for a day in May, then for the end of June."""
    home = tmp_path_factory.mktemp("predictions") / "c360"
    with c360_env(home):
        generate(home, orders=8_000, seed=5, as_of=JUNE)
        assert run(MAY) == 0
        assert run(JUNE) == 0
        yield home


def _state(home: Path, table: str) -> Path:
    return (home / "published").resolve().parent / "state" / table


def test_every_run_keeps_its_fits_and_its_backtest(two_months: Path) -> None:
    con = published(two_months)
    for table in ("bgnbd_fit_history", "gamma_gamma_fit_history"):
        rows = con.sql(
            f"select as_of_date, n_customers, n_fitted, n_excluded from {table} order by 1"
        ).fetchall()
        assert [r[0] for r in rows] == [MAY, JUNE], table
        assert all(n == fitted + excluded and fitted > 0 for _, n, fitted, excluded in rows), table
    spend = con.sql(
        "select p, q, gamma, population_mean_order_value, spend_frequency_correlation, is_informative "
        "from gamma_gamma_fit_history where as_of_date = ?",
        params=[JUNE],
    ).fetchone()
    assert all(v is not None for v in spend) and spend[-1] is True
    backtest = con.sql(
        "select as_of_date, calibration_end_date, count(*), sum(customers) filter (where frequency_bucket <> 'total'), "
        "max(customers) filter (where frequency_bucket = 'total') from model_backtest group by 1, 2 order by 1"
    ).fetchall()
    assert [(r[0], r[1], r[2]) for r in backtest] == [
        (MAY, date(2026, 2, 14), 9),
        (JUNE, date(2026, 4, 1), 9),
    ]
    assert all(buckets == total > 0 for *_, buckets, total in backtest)
    # the published customers carry the spend model and CLV of the June run
    clv = con.sql(
        "select count(*) filter (where clv is not null), count(*) filter (where lifetime_orders > 0), "
        "count(*) filter (where clv is not null and expected_avg_order_value is null) from customer_360"
    ).fetchone()
    assert clv[0] == clv[1] > 0 and clv[2] == 0


def test_uplift_compares_the_groups_of_may_after_their_window(two_months: Path) -> None:
    """kpi_action_uplift (as of June) counts each May assignment once, in its group, with the orders of the 30 days
    after it: recomputed here from the stored assignments and the build database's orders."""
    stored = _state(two_months, "customer_actions_daily") / f"{MAY.isoformat()}.parquet"
    assert stored.exists()
    build = duckdb.connect(str(two_months / "warehouse" / "build.duckdb"), read_only=True)
    expected = build.sql(
        f"""
        with assignments as (select * from read_parquet('{stored}')),
        outcomes as (
            select a.action, a.is_control_group, a.customer_id,
                   count(o.order_id) as orders, coalesce(sum(o.net_revenue), 0) as revenue
            from assignments a
            left join staging.stg_shop__orders o
                on o.customer_id = a.customer_id and o.is_completed
                and o.order_date > a.as_of_date and o.order_date <= a.as_of_date + {WINDOW_DAYS}
            group by all
        )
        select action,
               count(*) filter (where not is_control_group), count(*) filter (where is_control_group),
               coalesce(sum(orders) filter (where not is_control_group), 0),
               coalesce(sum(revenue) filter (where not is_control_group), 0)
        from outcomes group by action order by action
        """
    ).fetchall()
    build.close()
    got = (
        published(two_months)
        .sql(
            "select action, treatment_customers, control_customers, treatment_orders, treatment_revenue "
            "from kpi_action_uplift where period_start = date '2026-05-01' order by action"
        )
        .fetchall()
    )
    assert [(a, t, c, o, pytest.approx(float(r))) for a, t, c, o, r in got] == [
        (a, t, c, o, float(r)) for a, t, c, o, r in expected
    ]
    treated, held_out = sum(r[1] for r in got), sum(r[2] for r in got)
    assert treated > 0 and held_out > 0
    assert 0.03 < held_out / (treated + held_out) < 0.2  # control_group_share 10%, drawn at random
    # June's window has not passed: no June row yet
    assert published(two_months).sql(
        "select count(*) from kpi_action_uplift where period_start = date '2026-06-01'"
    ).fetchone() == (0,)


def test_held_out_customers_get_no_action_and_service_recovery_is_never_held_out(two_months: Path) -> None:
    con = published(two_months)
    rows = con.sql(
        "select is_control_group, is_held_out, proposed_action, next_action, has_marketing_consent "
        "from customer_actions"
    ).fetchall()
    assert any(r[1] for r in rows)
    assert all(r[3] == "no_action" and r[0] for r in rows if r[1])
    assert all(r[3] == "service_recovery" for r in rows if r[2] == "service_recovery")
    assert all(r[3] in ("no_action", "service_recovery") for r in rows if r[0])


def _last_log(home: Path) -> tuple[str, list[dict]]:
    """Status and checks of the newest publication log entry (held-back runs included)."""
    from c360.settings import Settings
    from publishing.log import entries

    with c360_env(home):
        last = entries(Settings.from_env())[-1]
    checks = last["checks"] if isinstance(last["checks"], list) else json.loads(last["checks"])
    return last["status"], [c for c in checks if "backtest_error_within_threshold" in c["check"]]


def test_the_backtest_check_warns_by_default_and_blocks_when_asked(two_months: Path) -> None:
    """No model predicts a holdout exactly: with a 0% tolerance the check fires. By default it is a warning (the run
    publishes and records it); with backtest_check_blocking the run is held back, the publication kept."""
    with c360_env(two_months):
        assert run(JUNE, backtest_max_relative_error=0.0) == 0
        status, checks = _last_log(two_months)
        assert status == "published"
        assert {(c["severity"], c["passed"]) for c in checks} == {("WARN", False), ("ERROR", True)}

        assert run(JUNE, backtest_max_relative_error=0.0, backtest_check_blocking=True) == 1
        status, checks = _last_log(two_months)
        assert status == "held_back"
        assert {(c["severity"], c["passed"]) for c in checks} == {("WARN", False), ("ERROR", False)}
