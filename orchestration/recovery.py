"""Runs whose process died (killed, crashed, machine rebooted) are marked failed, so nothing waits on them.

Every run records the process that executes it (tags c360/pid and c360/host, set when the run takes the build
database). A run still STARTED whose process is gone on this host is reported failed with the reason. The build
database itself needs no recovery: its lock is an OS file lock the kernel releases with the process. Safe to
run at any moment and to be interrupted at any point: each step is one idempotent update of one run.
"""

from __future__ import annotations

import os
import socket
import sys
import time

import dagster as dg

PID_TAG, HOST_TAG = "c360/pid", "c360/host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def record_run_process(instance: dg.DagsterInstance, run_id: str) -> None:
    instance.add_run_tags(run_id, {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()})


def recover_dead_runs(instance: dg.DagsterInstance, log=None) -> list[str]:
    """Mark failed every STARTED run of this host whose process is gone; returns their run ids."""
    host = socket.gethostname()
    recovered = []
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    for run in runs:
        pid = run.tags.get(PID_TAG)
        if not pid or run.tags.get(HOST_TAG) != host or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        instance.report_run_failed(run, f"the process {pid} that ran it is gone (killed or crashed)")
        recovered.append(run.run_id)
        if log is not None:
            log(f"marked run {run.run_id} failed: its process {pid} is gone")
        _pause_for_tests("recovery")
    return recovered


def _pause_for_tests(point: str) -> None:
    """Tests that kill a process at an exact point set C360_TEST_PAUSE_AT to it (never set in production)."""
    if os.environ.get("C360_TEST_PAUSE_AT") == point:
        sys.stdout.write(f"c360-test-paused-at {point}\n")
        sys.stdout.flush()
        time.sleep(120)
