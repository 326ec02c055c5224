"""The paths most users take: a run launched from the UI, a backfill, and the daily schedule, through a real
Dagster webserver and daemon (`c360 ui`), launched the way the UI launches them (GraphQL). Each must obey the
gate and publish exactly as `c360 run` does (issue 13)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from e2e_helpers import AS_OF, generate, published

from orchestration.defs.automation import run_partition
from orchestration.ui_driver import running_ui

pytestmark = pytest.mark.e2e


def _log(home: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((home / "state" / "log").glob("*.json"))]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("ui") / "c360"
    generate(home, orders=5_000, seed=41)
    return home


def test_ui_launch_and_three_day_backfill_publish_in_date_order(demo_home: Path, tmp_path: Path):
    days = [AS_OF - timedelta(days=2), AS_OF - timedelta(days=1), AS_OF]
    with running_ui(demo_home, tmp_path / "ui.log") as ui:
        # "Materialize" of one partition of the job, as the launchpad does it
        run_id = ui.client.submit_job_execution("c360_pipeline", tags={"dagster/partition": str(days[1])})
        [launched] = ui.wait_for_runs(1)
        assert launched["runId"] == run_id and launched["status"] == "SUCCESS", ui.log_tail()

        # a backfill of every asset over three days
        backfill_id = ui.backfill([str(d) for d in days])
        runs = ui.wait_for_runs(3, tags={"dagster/backfill": backfill_id})
        assert [r["status"] for r in runs] == ["SUCCESS"] * 3, ui.log_tail()
        partitions = [run_partition({t["key"]: t["value"] for t in r["tags"]}) for r in runs]
        assert partitions == [str(d) for d in days]  # queued and run in date order
        starts = [r["startTime"] for r in runs]
        assert starts == sorted(starts)
        # one run at a time: each starts after the previous one ended
        assert all(b["startTime"] >= a["endTime"] for a, b in zip(runs, runs[1:], strict=False))

    entries = _log(demo_home)
    assert [(e["as_of_date"], e["status"]) for e in entries] == [
        (str(days[1]), "published"),
        (str(days[0]), "published_history"),  # older than the publication in place: history only
        (str(days[1]), "published"),
        (str(days[2]), "published"),
    ]
    con = published(demo_home)
    assert con.sql("select max(as_of_date) from customer_360").fetchone()[0] == days[2]
    assert con.sql("select count(*) from bgnbd_fit_history").fetchone()[0] == 3


def test_the_daily_schedule_publishes_yesterday(tmp_path: Path):
    """A real tick of the schedule (every minute here) runs the pipeline for the day before the tick."""
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    home = tmp_path / "c360"
    generate(home, orders=3_000, seed=43, as_of=yesterday)
    (
        home / ".c360-demo-home"
    ).unlink()  # not a demo home: the schedule is on by default, a real key is needed
    with running_ui(
        home, tmp_path / "ui.log", C360_SCHEDULE_CRON="* * * * *", C360_PII_HASH_KEY="a-test-key-0123456789"
    ) as ui:
        runs = ui.wait_for_runs(
            1, tags={"dagster/schedule_name": "c360_daily"}, timeout=600, more_may_come=True
        )
    first = runs[0]
    tags = {t["key"]: t["value"] for t in first["tags"]}
    assert tags["dagster/partition"] == str(yesterday)
    assert first["status"] == "SUCCESS"
    assert _log(home)[0]["status"] == "published"
    con = published(home)
    assert con.sql("select max(as_of_date) from customer_360").fetchone()[0] == yesterday
