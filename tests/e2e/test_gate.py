"""The gate holds whatever happens between runs: held-back runs, older dates, lost or damaged databases, kills,
locks and model errors (issue 13). Each test drives the real pipeline on small demo data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from e2e_helpers import AS_OF, c360_env, generate, published, published_fingerprints, run

pytestmark = pytest.mark.e2e

C360 = str(Path(sys.executable).with_name("c360"))
D1, D2, D3 = AS_OF - timedelta(days=2), AS_OF - timedelta(days=1), AS_OF


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("C360_")}
    env.update(
        C360_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster"),
        C360_LANDING_SETTLE_SECONDS="0",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def _cli(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([C360, *args], env=_env(home, **extra), capture_output=True, text=True, timeout=900)


def _log(home: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((home / "state" / "log").glob("*.json"))]


def _all_tables(home: Path) -> dict[str, tuple]:
    tables = published_fingerprints(home)
    assert "customer_tier_history" in tables and "bgnbd_fit_history" in tables
    return tables


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The landing zone the tests copy: 5,000 demo orders."""
    home = tmp_path_factory.mktemp("landing") / "c360"
    generate(home, orders=5_000, seed=31)
    return home


def _home_from(small_data: Path, tmp_path: Path, name: str = "c360") -> Path:
    import shutil

    home = tmp_path / name
    shutil.copytree(small_data / "landing", home / "landing")
    (home / ".c360-demo-home").write_text("demo\n")
    return home


@pytest.fixture(scope="module")
def published_d3(small_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home of `small_data` after one published run for D3, which most tests start from; each test gets a copy
    (`_copy`), so the run is paid once per module instead of once per test."""
    home = _home_from(small_data, tmp_path_factory.mktemp("d3"))
    with c360_env(home):
        assert run(D3) == 0
    return home


def _copy(home: Path, tmp_path: Path, name: str = "c360") -> Path:
    """A copy of a whole home with `cp -a`: the publication's hard links (published.duckdb and its version's file)
    and the relative `published` symlink stay what they are in the original."""
    copy = tmp_path / name
    subprocess.run(["cp", "-a", str(home), str(copy)], check=True)
    return copy


def test_nothing_a_held_back_run_computed_is_published_later(small_data: Path, tmp_path: Path):
    """Held back on D2 (the vip share band fails with a var override), then D3 publishes: every published table
    equals that of a home that never ran D2. The held-back run's fit and states never reach the state store."""
    seen = _home_from(small_data, tmp_path, "seen")
    with c360_env(seen):
        assert run(D1) == 0
    never = _copy(seen, tmp_path, "never")  # the same D1 run, without running it twice
    with c360_env(seen):
        assert run(D2, tier_vip_top_share=0.3, tier_high_top_share=0.4, tier_medium_top_share=0.6) == 1
        assert run(D3) == 0
    with c360_env(never):
        assert run(D3) == 0
    assert _all_tables(seen) == _all_tables(never)
    con = published(seen)
    assert [str(d) for (d,) in con.sql("select as_of_date from bgnbd_fit_history order by 1").fetchall()] == [
        str(D1),
        str(D3),
    ]
    assert [row["status"] for row in _log(seen)] == ["published", "held_back", "published"]


def test_an_older_as_of_date_updates_only_the_history(published_d3: Path, tmp_path: Path):
    """A backfill of D2 after D3: the current tables stay at D3; history, transitions, the fit histories and the
    backtest gain D2."""
    home = _copy(published_d3, tmp_path)
    with c360_env(home):
        before = _all_tables(home)
        report_before = (home / "reports" / "latest.html").read_text()
        assert run(D2) == 0
    after = _all_tables(home)
    from orchestration.defs.dbt import manifest_json

    history = {  # the models declared history (config meta c360_history): keyed by as-of date
        n["name"]
        for n in manifest_json()["nodes"].values()
        if n["resource_type"] == "model"
        and ({**(n.get("meta") or {}), **((n.get("config") or {}).get("meta") or {})}).get("c360_history")
    }
    assert {
        "customer_tier_history",
        "kpi_tier_transitions_monthly",
        "bgnbd_fit_history",
        "gamma_gamma_fit_history",
        "model_backtest",
    } <= history
    for table in set(before) - history:
        assert after[table] == before[table], f"{table} moved back in time"
    con = published(home)
    assert con.sql("select min(valid_from) from customer_tier_history").fetchone()[0] == D2
    assert con.sql("select max(as_of_date) from customer_360").fetchone()[0] == D3
    for table in ("bgnbd_fit_history", "gamma_gamma_fit_history"):
        fits = con.sql(f"select count(distinct as_of_date), count(*) from {table}").fetchone()
        assert fits == (2, 2), table
    backtested = con.sql("select distinct as_of_date from model_backtest order by 1").fetchall()
    assert backtested == [(D2,), (D3,)]
    entries = _log(home)
    assert [e["status"] for e in entries] == ["published", "published_history"]
    assert str(D3) in (home / "reports" / "latest.html").read_text()
    assert report_before.count(str(D3)) > 0


def test_losing_the_build_database_keeps_the_history(small_data: Path, tmp_path: Path):
    home = _home_from(small_data, tmp_path)
    with c360_env(home):
        assert run(D2) == 0
        assert run(D3) == 0
    before = _all_tables(home)
    (home / "warehouse" / "build.duckdb").unlink()
    result = _cli(home, "run", "--as-of", str(D3))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "history of earlier publications from the state store" in result.stdout
    assert _all_tables(home) == before


def test_damaged_databases_exit_2_saying_what_to_do(published_d3: Path, tmp_path: Path):
    home = _copy(published_d3, tmp_path)
    build = home / "warehouse" / "build.duckdb"
    with open(build, "r+b") as handle:
        handle.truncate(5000)
    result = _cli(home, "run", "--as-of", str(D3))
    assert result.returncode == 2, result.stdout[-3000:]
    assert f"mv {build} {build}.broken" in result.stdout
    build.rename(build.with_suffix(".broken"))
    assert _cli(home, "run", "--as-of", str(D3)).returncode == 0

    published_db = home / "warehouse" / "published.duckdb"
    published_db.unlink()  # a damaged file: a different inode than the version's
    published_db.write_bytes(b"not a database" * 100)
    status = _cli(home, "status")
    assert status.returncode == 2 and "cannot be read" in status.stderr, status.stderr
    assert _cli(home, "run", "--as-of", str(D3)).returncode == 0
    assert _cli(home, "status").returncode == 0


def test_a_model_error_is_the_root_cause_everywhere(published_d3: Path, tmp_path: Path):
    """A model that fails is reported as a failure (exit 2) with dbt's error first, in the summary, the
    publication log and the alert; the checks it prevented are 'not run', never 'failed'."""
    home = _copy(published_d3, tmp_path)
    build = duckdb.connect(str(home / "warehouse" / "build.duckdb"))
    build.execute("alter table raw.orders rename column currency to currency_code")
    build.close()
    result = _cli(home, "run", "--as-of", str(D3), "--full-refresh")
    out = result.stdout
    assert result.returncode == 2, out[-3000:]
    assert "HELD BACK" not in out
    summary = out[out.index("=" * 78) :]
    causes = [line for line in summary.splitlines() if line.lstrip().startswith("cause:")]
    assert (
        causes == [causes[0]] and "cause: c360_dbt_upstream: dbt model stg_shop__orders failed" in causes[0]
    )
    assert "not run because of it" in summary and "0 failed (blocking)" in summary
    entry = _log(home)[-1]
    assert entry["status"] == "failed" and "stg_shop__orders failed" in entry["message"]
    assert "stg_shop__orders failed" in (home / "logs" / "alerts.log").read_text()


def test_a_reader_holding_the_build_database_is_named(published_d3: Path, tmp_path: Path):
    home = _copy(published_d3, tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(120)",
            str(home / "warehouse" / "build.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = _cli(home, "run", "--as-of", str(D3))
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2
    assert f"is open in process {holder.pid}" in result.stdout, result.stdout[-3000:]


def test_unexpected_errors_and_usage_errors_exit_2(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = _cli(blocker, "run", "--as-of", str(D3))
    assert result.returncode == 2, result.stderr
    assert _cli(tmp_path, "run", "--as-of", str(D3), "--var", "foo").returncode == 2
    assert _cli(tmp_path, "backfill", "--from", str(D3), "--to", str(D1)).returncode == 2
    assert _cli(tmp_path, "run", "--as-of", "2026-13-01").returncode == 2


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_killed_runs_never_block_later_runs(published_d3: Path, tmp_path: Path):
    """SIGKILL a run, then SIGKILL the next one while it marks the first failed (dead-run recovery): a third run
    completes normally. A run waiting for the build database sleeps (no busy loop), says who holds it, and
    stops on SIGTERM."""
    home = _copy(published_d3, tmp_path)
    first = subprocess.Popen(
        [C360, "run", "--as-of", str(D3)],
        env=_env(home, C360_DBT_REUSE="0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in first.stdout:
        if "dbt [" in line or "dbt model" in line:
            break
    first.send_signal(signal.SIGKILL)
    first.wait()

    second = subprocess.Popen(
        [C360, "run", "--as-of", str(D3)],
        env=_env(home, C360_TEST_PAUSE_AT="recovery"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    for line in second.stdout:
        lines.append(line)
        if "c360-test-paused-at recovery" in line:
            break
    assert any("marked run" in line and "failed" in line for line in lines), lines
    second.send_signal(signal.SIGKILL)
    second.wait()

    # a process holding the build database: the next run waits for it without burning a core, and stops on TERM
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
            "print('locked', flush=True); time.sleep(120)",
            str(home / "warehouse" / ".build.duckdb.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    waiting = subprocess.Popen(
        [C360, "run", "--as-of", str(D3)],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for line in waiting.stdout:
            if "waiting for the build database" in line:
                break
        cpu = _cpu_seconds(waiting.pid)
        time.sleep(5)
        assert _cpu_seconds(waiting.pid) - cpu < 0.5, "the waiting run burns CPU"
        waiting.send_signal(signal.SIGTERM)
        waiting.wait(timeout=30)
    finally:
        holder.kill()
        holder.wait()
        if waiting.poll() is None:
            waiting.kill()

    third = _cli(home, "run", "--as-of", str(D3))
    assert third.returncode == 0, third.stdout[-3000:]
    statuses = _dagster_statuses(home)
    assert "STARTED" not in statuses.values(), statuses


def _dagster_statuses(home: Path) -> dict[str, str]:
    import dagster as dg

    with c360_env(home):
        instance = dg.DagsterInstance.get()
        try:
            return {run.run_id: run.status.value for run in instance.get_runs()}
        finally:
            instance.dispose()


def test_a_held_back_run_does_not_touch_the_published_files(published_d3: Path, tmp_path: Path):
    home = _copy(published_d3, tmp_path)
    with c360_env(home):
        version = (home / "published").resolve()
        db = home / "warehouse" / "published.duckdb"
        stamp = (db.stat().st_ino, db.stat().st_mtime_ns)
        assert run(D3, tier_vip_top_share=0.3, tier_high_top_share=0.4, tier_medium_top_share=0.6) == 1
    assert (home / "published").resolve() == version
    assert (db.stat().st_ino, db.stat().st_mtime_ns) == stamp
    held_back = _log(home)[-1]
    assert held_back["status"] == "held_back"
    status = _cli(home, "status")
    assert "held_back" in status.stdout
    report = (home / "reports" / "latest.html").read_text()
    assert f"Run {held_back['run_id']} was held back" in report  # the report says so at once
