"""Write-audit-publish (issue 4): data corrupted between build and publication never reaches BI tools.

Each case starts from a clean build that was published once, corrupts the build database the way a bug or a bad
delivery would, then re-audits and tries to publish (`c360 publish`). The run must exit 1, name the failing
check, leave every published table exactly as it was and add a held_back entry to the publication log saying why.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from e2e_helpers import AS_OF, c360_env, generate, published_fingerprints, run

pytestmark = pytest.mark.e2e

CORRUPTIONS = {
    "duplicated_customer_key": (
        "insert into main.customer_360 select * from main.customer_360 order by customer_id limit 1",
        ["unique_customer_360_customer_id"],
    ),
    "null_tier": (
        "update main.customer_360 set value_tier = null "
        "where customer_id = (select min(customer_id) from main.customer_360)",
        ["not_null_customer_360_value_tier"],
    ),
    "volume_collapse": (
        "delete from main.customer_360 where customer_id not in "
        "(select customer_id from main.customer_360 order by customer_id limit 20)",
        ["gx_suite"],
    ),
    "out_of_range_score": (
        "update main.customer_churn_indicators set churn_risk_score = 150 "
        "where customer_id = (select min(customer_id) from main.customer_churn_indicators)",
        ["between_customer_churn_indicators_churn_risk_score__100__0"],
    ),
    "raw_email_published": (
        "update main.customer_360 set email_masked = 'jane.doe@example.com' "
        "where customer_id = (select min(customer_id) from main.customer_360)",
        ["gx_suite"],
    ),
    "stale_latest_order": (
        f"delete from staging.stg_shop__orders where order_date > date '{AS_OF}' - interval 10 day",
        ["gx_suite"],
    ),
}


@pytest.fixture(scope="module")
def clean_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("gate") / "c360"
    with c360_env(home):
        generate(home, orders=6_000, seed=11)
        assert run() == 0
        shutil.copyfile(home / "warehouse" / "build.duckdb", home / "clean_build.duckdb")
        yield home


def _log(home: Path) -> list[tuple]:
    """The publication log (one entry per run; published tables carry it as of their publication)."""
    from c360.settings import Settings
    from publishing.log import entries

    with c360_env(home):
        settings = Settings.from_env()
    return [(row["run_id"], row["status"], row["failed_checks"]) for row in entries(settings)]


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupted_build_is_held_back(clean_build: Path, case: str, capsys: pytest.CaptureFixture):
    from c360.cli import main

    sql, expected_checks = CORRUPTIONS[case]
    build = clean_build / "warehouse" / "build.duckdb"
    shutil.copyfile(clean_build / "clean_build.duckdb", build)
    con = duckdb.connect(str(build))
    con.execute(sql)
    con.close()

    before_tables = published_fingerprints(clean_build)
    before_log = _log(clean_build)
    capsys.readouterr()
    with c360_env(clean_build):
        code = main(["publish", "--as-of", str(AS_OF), "--quiet"])
    out = capsys.readouterr().out

    assert code == 1, out
    assert "HELD BACK" in out
    for check in expected_checks:
        assert check in out, f"{check} not named in the output:\n{out}"
    assert published_fingerprints(clean_build) == before_tables  # same rows, same publication
    log = _log(clean_build)
    assert len(log) == len(before_log) + 1
    run_id, status, failed = log[-1]
    assert status == "held_back"
    for check in expected_checks:
        assert check in failed


def test_clean_run_publishes_after_held_back_runs(clean_build: Path):
    shutil.copyfile(clean_build / "clean_build.duckdb", clean_build / "warehouse" / "build.duckdb")
    with c360_env(clean_build):
        assert run() == 0
    assert _log(clean_build)[-1][1] == "published"


def test_held_back_alert_is_written(clean_build: Path):
    alerts = (clean_build / "logs" / "alerts.log").read_text()
    assert "HELD_BACK" in alerts and "gx_suite" in alerts
