"""Idempotent, incremental loads through the whole pipeline (issue 5): re-runs load nothing new, a corrected
file changes exactly the keys it corrects."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from e2e_helpers import AS_OF, c360_env, generate, run

pytestmark = pytest.mark.e2e


def _build(home: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True)


def test_rerun_loads_nothing_and_a_corrected_file_changes_only_its_keys(tmp_path: Path):
    home = tmp_path / "c360"
    with c360_env(home):
        generate(home, orders=3_000, seed=13)
        assert run() == 0
        con = _build(home)
        raw_before = {
            t: con.sql(f"select count(*) from raw.{t}").fetchone()[0]
            for t in ("orders", "contacts", "survey_responses")
        }
        orders_before = dict(
            con.sql(
                "select order_id, order_status || '|' || net_revenue from staging.stg_shop__orders"
            ).fetchall()
        )
        targets = con.sql(
            "select order_id, customer_id, ordered_at, currency, gross_amount, updated_at from staging.stg_shop__orders "
            "where order_status = 'completed' order by order_id limit 3"
        ).fetchall()
        last_file_id = con.sql("select max(file_id) from raw.ingestion_log").fetchone()[0]
        con.close()

        # the same landing zone again: every file skipped, nothing new in raw
        assert run() == 0
        con = _build(home)
        assert {t: con.sql(f"select count(*) from raw.{t}").fetchone()[0] for t in raw_before} == raw_before
        statuses = con.sql(
            f"select status, count(*) from raw.ingestion_log where file_id > {last_file_id} group by 1"
        ).fetchall()
        con.close()
        assert statuses and all(status == "skipped" for status, _ in statuses), statuses

        # a corrected delivery: the three orders were refunded later (newer updated_at)
        lines = ["order_id,customer_id,order_ts,status,currency,gross_amount,updated_at"]
        for order_id, customer_id, ordered_at, currency, gross, _updated_at in targets:
            lines.append(
                f"{order_id},{customer_id},{ordered_at.isoformat()}Z,refunded,{currency},{gross},{AS_OF}T12:00:00Z"
            )
        (home / "landing" / "orders" / "orders_correction.csv").write_text("\n".join(lines) + "\n")
        assert run() == 0

    con = _build(home)
    orders_after = dict(
        con.sql(
            "select order_id, order_status || '|' || net_revenue from staging.stg_shop__orders"
        ).fetchall()
    )
    con.close()
    changed = {k for k in orders_before if orders_after.get(k) != orders_before[k]}
    assert changed == {t[0] for t in targets}
    assert set(orders_after) == set(orders_before)
    assert all(orders_after[t[0]].startswith("refunded|") for t in targets)
