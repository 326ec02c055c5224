"""The data home on disk: folders with the right permissions, and the lock that gives one run the build database.

Nothing here runs at import time; `prepare_home` is called when a run or a command starts.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from c360.settings import Settings
from ingestion.contracts import SOURCES

# Folders readable by others (BI tools read the published area) and owner-only ones (personal data, run history).
_SHARED = ("landing", "publications", "reports", "state")
_PRIVATE_MODE = 0o700
_SHARED_MODE = 0o755


def prepare_home(settings: Settings) -> None:
    """Create the folders of the data home. The build database, logs and Dagster storage are owner-only: the
    process umask becomes 077, so everything a run creates is private unless publication makes it readable
    (C360_PUBLISHED_FILE_MODE)."""
    os.umask(0o077)
    _mkdir(settings.home, _SHARED_MODE)
    for name in _SHARED:
        _mkdir(settings.home / name, _SHARED_MODE)
    for source in SOURCES:
        _mkdir(settings.landing_dir / source, _SHARED_MODE)
    _mkdir(settings.published_db.parent, _SHARED_MODE)
    _mkdir(settings.build_db.parent, _SHARED_MODE)
    for path in (settings.logs_dir, settings.dagster_home):
        _mkdir(path, _PRIVATE_MODE)


def _mkdir(path: Path, mode: int) -> None:
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(mode)


def lock_path(settings: Settings) -> Path:
    return settings.build_db.with_name(f".{settings.build_db.name}.lock")


@contextlib.contextmanager
def build_database_lock(
    settings: Settings,
    *,
    run_id: str,
    log: Callable[[str], None],
    poll_seconds: float = 0.5,
    report_every: float = 15.0,
) -> Iterator[None]:
    """Hold the build database for one run: other runs wait here, in turn.

    An OS file lock (flock), so the kernel releases it when the holding process ends, however it ends (SIGKILL
    included): a killed run can never leave a lock behind. Waiting runs sleep between attempts (no busy loop),
    say every `report_every` seconds who holds the database, and stop on SIGTERM like any other process.
    """
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        waited_since = None
        next_report = 0.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                now = time.monotonic()
                if waited_since is None:
                    waited_since = now
                if now >= next_report:
                    log(f"waiting for the build database {settings.build_db}: {_holder(path)}")
                    next_report = now + report_every
                time.sleep(poll_seconds)
        if waited_since is not None:
            log(f"got the build database after waiting {time.monotonic() - waited_since:.0f} s")
        holder = {
            "run_id": run_id,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        holder = {}
    if not holder:
        return "another run holds it"
    return f"run {holder.get('run_id')} (pid {holder.get('pid')} on {holder.get('host')}) holds it since {holder.get('since')}"
