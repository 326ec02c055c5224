"""Publication never disturbs readers, survives being killed anywhere, and serializes concurrent runs (issue 4, 7)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from e2e_helpers import AS_OF, c360_env, generate, published, published_fingerprints, run

pytestmark = pytest.mark.e2e

C360 = str(Path(sys.executable).with_name("c360"))


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("C360_")}
    env.update(C360_HOME=str(home), DAGSTER_HOME=str(home / "dagster"), PYTHONUNBUFFERED="1")
    return env


@pytest.fixture(scope="module")
def published_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("safety") / "c360"
    with c360_env(home):
        generate(home, orders=20_000, seed=21)
        assert run(AS_OF - timedelta(days=1)) == 0
    return home


def test_reader_sees_one_consistent_publication_throughout_a_run(published_home: Path, tmp_path: Path):
    out, stop = tmp_path / "reader.json", tmp_path / "stop"
    reader = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("reader_probe.py")),
            str(published_home / "warehouse" / "published.duckdb"),
            str(out),
            str(stop),
        ]
    )
    try:
        deadline = time.monotonic() + 60
        while not Path(str(out) + ".ready").exists():
            assert time.monotonic() < deadline and reader.poll() is None, "reader did not start"
            time.sleep(0.05)
        with c360_env(published_home):
            assert run(AS_OF) == 0  # a full run and a publication while the reader holds the file open
        time.sleep(0.5)
    finally:
        stop.write_text("stop")
        reader.wait(timeout=60)
    summary = json.loads(out.read_text())
    assert summary["errors"] == []
    assert summary["inconsistent"] == []
    assert summary["rounds"] > 20
    assert summary["as_of_seen_long"] == [
        str(AS_OF - timedelta(days=1))
    ]  # the open connection keeps its version
    assert str(AS_OF) in summary["as_of_seen_new"]  # new connections get the new publication


PHASES = {
    "ingestion": re.compile(r"raw_(orders|contacts|survey_responses)"),
    "dbt": re.compile(r"dbt (\[\d+/\d+\] )?model "),
    "checks": re.compile(r"gx_suite on "),
}


def _read_until(process: subprocess.Popen, phase: str) -> None:
    for line in process.stdout:
        if PHASES[phase].search(line):
            return
    raise AssertionError(f"the run ended before reaching {phase}")


def _kill_at(home: Path, phase: str) -> None:
    # the same day again would reuse every dbt model (orchestration/dbt_reuse.py): rebuild them, so that there is
    # a dbt phase to kill; the re-run after the kill has reuse on and must not reuse what the kill interrupted
    process = subprocess.Popen(
        [C360, "run", "--as-of", str(AS_OF)],
        env={**_env(home), "C360_DBT_REUSE": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # the checks come just before the publication: read the output up to them in every case
        _read_until(process, "checks" if phase == "publication" else phase)
        if phase == "publication":
            # a publication is written into a hidden version folder, then switched in by one rename: kill while
            # the staged folder exists. From the checks on, look for it as often as possible (and keep reading
            # the output, so that the run never waits on a full pipe).
            threading.Thread(target=process.stdout.read, daemon=True).start()
            versions = home / "publications"
            deadline = time.monotonic() + 300
            while not any(versions.glob(".2*")):
                assert process.poll() is None, "the run ended before publication started"
                assert time.monotonic() < deadline
                time.sleep(0.001)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


def _published_as_of(home: Path) -> date:
    """The as-of date of the latest publication of the home."""
    con = published(home)
    try:
        return con.sql(
            "select as_of_date from publication_log where status = 'published' order by logged_at desc limit 1"
        ).fetchone()[0]
    finally:
        con.close()


@pytest.mark.parametrize("phase", ["ingestion", "dbt", "checks", "publication"])
def test_sigkill_leaves_the_previous_publication_intact(published_home: Path, phase: str):
    # each case ends with AS_OF published: only a home that is not there yet needs a run first
    if _published_as_of(published_home) != AS_OF:
        with c360_env(published_home):
            assert run(AS_OF) == 0
    before = published_fingerprints(published_home)
    _kill_at(published_home, phase)
    # readable right away, without recovery, and unchanged
    con = published(published_home)
    assert con.sql("select count(*) from customer_360").fetchone()[0] > 0
    con.close()
    assert published_fingerprints(published_home) == before
    assert not list((published_home / "warehouse").glob(".published.duckdb.*.tmp.wal"))
    # a re-run converges to the same tables (and first marks the killed run failed, freeing its pool slot)
    with c360_env(published_home):
        assert run(AS_OF) == 0
    assert published_fingerprints(published_home) == before


def test_scheduled_and_manual_runs_at_the_same_moment_are_serialized(published_home: Path):
    import dagster as dg

    with c360_env(published_home):
        from orchestration.definitions import build_definitions

        defs = build_definitions()

        schedule = defs.resolve_schedule_def("c360_daily")
        import datetime as dt

        context = dg.build_schedule_context(
            scheduled_execution_time=dt.datetime.combine(
                AS_OF + timedelta(days=1), dt.time(2), tzinfo=dt.UTC
            ),
            repository_def=defs.get_repository_def(),
        )
        scheduled_key = schedule.evaluate_tick(context).run_requests[0].partition_key
    assert scheduled_key == str(AS_OF)
    runs = [
        subprocess.Popen(
            [C360, "run", "--as-of", scheduled_key, "--quiet"],
            env=_env(published_home),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ),
        subprocess.Popen(
            [C360, "run", "--as-of", str(AS_OF - timedelta(days=1)), "--quiet"],
            env=_env(published_home),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ),
    ]
    outputs = [p.communicate(timeout=600)[0] for p in runs]
    for process, output in zip(runs, outputs, strict=True):
        assert "Conflicting lock" not in output, output[-3000:]
        assert process.returncode == 0, output[-3000:]
