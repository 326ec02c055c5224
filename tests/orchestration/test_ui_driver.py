"""The UI driver's idle wait counts the CPU of every process in the UI's session (webserver, daemon, code server)."""

from __future__ import annotations

import subprocess
import sys
import time

from orchestration.ui_driver import session_cpu_ticks


def test_session_cpu_ticks_count_a_busy_child_of_the_session_and_nothing_else():
    busy_parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; "
            "subprocess.Popen([sys.executable, '-c', 'import time\\nt = time.time()\\nwhile time.time() - t < 3: pass']); "
            "time.sleep(4)",
        ],
        start_new_session=True,
    )
    try:
        time.sleep(0.5)
        before = session_cpu_ticks(busy_parent.pid)
        time.sleep(1.5)
        after = session_cpu_ticks(busy_parent.pid)
        # the child spins in the session: about 1.5 s of CPU (at least a third of it on a loaded machine)
        assert after - before >= 50
        assert session_cpu_ticks(-1) == 0  # no process has that session
    finally:
        busy_parent.wait(timeout=30)
