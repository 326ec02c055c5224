"""Drive a running `c360 ui` (Dagster webserver + daemon) the way the UI does, through GraphQL.

Used by the end-to-end tests of the daemon paths and by the benchmark of runs launched from the UI; also a
starting point for scripting a deployment (launch a backfill, wait for runs).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from dagster_graphql import DagsterGraphQLClient

C360 = str(Path(sys.executable).with_name("c360"))

BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on PartitionKeysNotFoundError { message }
  }
}
"""

RUNS = """
query($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    ... on Runs { results { runId status tags { key value } startTime endTime creationTime } }
  }
}
"""

START_SCHEDULE = """
mutation($selector: ScheduleSelector!) {
  startSchedule(scheduleSelector: $selector) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message }
  }
}
"""

ASSET_KEYS = """
query { assetNodes { assetKey { path } } }
"""


def session_cpu_ticks(session_id: int) -> int:
    """User + system CPU ticks of the processes in a session (the UI's webserver, daemon, code server)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        # after the command name: state ppid pgrp session ... utime (12th) stime (13th)
        if int(fields[3]) == session_id:
            total += int(fields[11]) + int(fields[12])
    return total


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def env_for(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("C360_") and k != "DAGSTER_HOME"}
    env.update(
        C360_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster"),
        C360_LANDING_SETTLE_SECONDS="0",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


class DagsterUI:
    def __init__(self, port: int, process: subprocess.Popen, log: Path) -> None:
        self.port = port
        self.process = process
        self.log = log
        self.client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=120)

    def query(self, text: str, variables: dict | None = None) -> dict:
        response = requests.post(
            f"http://127.0.0.1:{self.port}/graphql",
            json={"query": text, "variables": variables or {}},
            timeout=120,
        )
        if response.status_code >= 500:  # the webserver's error text says which resolver failed
            raise RuntimeError(f"GraphQL HTTP {response.status_code}: {response.text[:2000]}")
        response.raise_for_status()
        payload = response.json()
        assert "errors" not in payload, payload
        return payload["data"]

    def location(self) -> tuple[str, str]:
        """(code location name, repository name) of the c360 definitions."""
        data = self.query(
            "query { workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError {"
            " ... on RepositoryLocation { repositories { name } } } } } } }"
        )
        entry = data["workspaceOrError"]["locationEntries"][0]
        return entry["name"], entry["locationOrLoadError"]["repositories"][0]["name"]

    def asset_keys(self) -> list[list[str]]:
        return [node["assetKey"]["path"] for node in self.query(ASSET_KEYS)["assetNodes"]]

    def backfill(self, partitions: list[str]) -> str:
        params = {
            "assetSelection": [{"path": path} for path in self.asset_keys()],
            "partitionNames": partitions,
            "fromFailure": False,
        }
        result = self.query(BACKFILL, {"params": params})["launchPartitionBackfill"]
        assert result["__typename"] == "LaunchBackfillSuccess", result
        return result["backfillId"]

    def start_schedule(self, name: str) -> None:
        location, repository = self.location()
        selector = {"repositoryLocationName": location, "repositoryName": repository, "scheduleName": name}
        result = self.query(START_SCHEDULE, {"selector": selector})["startSchedule"]
        assert result["__typename"] == "ScheduleStateResult", result

    def runs(self, tags: dict[str, str] | None = None) -> list[dict]:
        run_filter = {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]} if tags else {}
        return self.query(RUNS, {"filter": run_filter})["runsOrError"]["results"]

    def wait_for_runs(
        self,
        count: int,
        *,
        tags: dict[str, str] | None = None,
        timeout: float = 900,
        more_may_come: bool = False,
    ) -> list[dict]:
        """Wait until the first `count` runs (with `tags`) have finished (and no other is still going, unless
        `more_may_come`); returns the finished ones, oldest first."""
        deadline = time.monotonic() + timeout
        while True:
            runs = sorted(self.runs(tags), key=lambda r: r["creationTime"])
            done = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
            oldest_done = all(r in done for r in runs[:count])
            if len(runs) >= count and oldest_done and (more_may_come or len(done) == len(runs)):
                return done[:count] if more_may_come else done
            if time.monotonic() > deadline:
                raise AssertionError(f"runs did not finish in {timeout} s: {runs}\n{self.log_tail()}")
            time.sleep(2)

    def wait_until_idle(self, *, window: float = 3.0, busy_share: float = 0.1, timeout: float = 180) -> float:
        """Wait until the webserver, the daemon and the code server have settled after their start (together
        below `busy_share` of one core over `window` seconds), as a UI is when a user clicks in it. Linux
        (/proc); returns the seconds waited."""
        started = time.monotonic()
        ticks_per_second = os.sysconf("SC_CLK_TCK")
        last = session_cpu_ticks(self.process.pid)
        while time.monotonic() - started < timeout:
            time.sleep(window)
            now = session_cpu_ticks(self.process.pid)
            if (now - last) / ticks_per_second < busy_share * window:
                break
            last = now
        return time.monotonic() - started

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running_ui(home: Path, log: Path, **extra_env: str) -> Iterator[DagsterUI]:
    """`c360 ui` on a free loopback port, up once its GraphQL answers; stopped (with its daemon) afterwards."""
    port = free_port()
    handle = log.open("w")
    process = subprocess.Popen(
        [C360, "ui", "--port", str(port)],
        env=env_for(home, **extra_env),
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # so the webserver, the daemon and the code server stop together
    )
    ui = DagsterUI(port, process, log)
    try:
        deadline = time.monotonic() + 240
        while True:
            assert process.poll() is None, f"c360 ui exited:\n{ui.log_tail()}"
            try:
                ui.location()
                break
            except (requests.RequestException, AssertionError, KeyError, IndexError, TypeError):
                if time.monotonic() > deadline:
                    raise AssertionError(f"the Dagster UI did not come up:\n{ui.log_tail()}") from None
                time.sleep(1)
        yield ui
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        handle.close()
