"""History across runs (customer_tier_history, by as-of date): replaying consecutive as-of dates records exactly the tier/stage changes."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from e2e_helpers import c360_env, generate, published, run

pytestmark = pytest.mark.e2e

DAYS = [date(2026, 6, 28), date(2026, 6, 29), date(2026, 6, 30)]


def test_three_consecutive_dates_record_only_real_changes(tmp_path: Path):
    home = tmp_path / "c360"
    with c360_env(home):
        generate(home, orders=8_000, seed=5, as_of=DAYS[-1])
        for day in DAYS:
            assert run(day) == 0, day

    # what each run decided, read from the state store of the publication in place (one row per customer and run)
    stored = (home / "published").resolve().parent / "state" / "customer_states_daily"
    assert sorted(p.stem for p in stored.glob("*.parquet")) == [str(d) for d in DAYS]
    states = duckdb.sql(
        "select customer_id, as_of_date, value_tier, lifecycle_stage "
        f"from read_parquet('{stored}/*.parquet') order by 1, 2"
    ).fetchall()
    per_customer: dict[str, list[tuple]] = defaultdict(list)
    for customer_id, as_of, tier, stage in states:
        per_customer[customer_id].append((as_of, tier, stage))
    assert {len(v) for v in per_customer.values()} == {3}

    expected_rows = {}
    for customer_id, runs in per_customer.items():
        changes = sum(1 for a, b in zip(runs, runs[1:], strict=False) if a[1:] != b[1:])
        expected_rows[customer_id] = 1 + changes

    con = published(home)
    history = con.sql(
        "select customer_id, count(*), min(valid_from), count(*) filter (where valid_to is null) "
        "from customer_tier_history group by 1"
    ).fetchall()
    got_rows = {customer_id: rows for customer_id, rows, _, _ in history}
    assert got_rows == expected_rows
    assert any(rows > 1 for rows in got_rows.values()), "no customer changed tier or stage over three days"
    assert all(first == DAYS[0] and open_periods == 1 for _, _, first, open_periods in history)

    # a change row says what it changed from, and the periods chain without gaps
    rows = con.sql(
        "select customer_id, valid_from, valid_to, value_tier, lifecycle_stage, previous_value_tier, "
        "previous_lifecycle_stage, change_type from customer_tier_history order by 1, 2"
    ).fetchall()
    by_customer: dict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        by_customer[row[0]].append(row)
    for periods in by_customer.values():
        for before, after in zip(periods, periods[1:], strict=False):
            assert before[2] == after[1]  # valid_to of a period = valid_from of the next
            assert after[5] == before[3] and after[6] == before[4]
            assert after[7] in ("tier", "stage", "tier_and_stage")


def test_replaying_a_date_replaces_its_snapshot(tmp_path: Path):
    """Running an earlier date again (a backfill) neither duplicates history nor changes later periods."""
    home = tmp_path / "c360"
    with c360_env(home):
        generate(home, orders=4_000, seed=9, as_of=DAYS[-1])
        assert run(DAYS[-1] - timedelta(days=1)) == 0
        assert run(DAYS[-1]) == 0
        first = published(home).sql("select * from customer_tier_history order by all").fetchall()
        assert run(DAYS[-1] - timedelta(days=1)) == 0  # replay the earlier date
        assert run(DAYS[-1]) == 0
        again = published(home).sql("select * from customer_tier_history order by all").fetchall()
    assert first == again
