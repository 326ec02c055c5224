"""A held-back or failed run still writes its publication-log entry when the disk is full (a real, tiny filesystem)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from c360.settings import Settings
from publishing import log


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs; skips where mounting is not allowed (not root, no CAP_SYS_ADMIN)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def _fill(folder: Path) -> None:
    with open(folder / "filler", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass


def test_the_log_entry_is_written_from_the_reserve_when_the_disk_is_full(tiny_filesystem: Path) -> None:
    settings = Settings.from_env({"C360_HOME": str(tiny_filesystem / "home")})
    log.ensure_reserve(settings)
    _fill(tiny_filesystem)
    with pytest.raises(OSError):  # the disk is full indeed
        (tiny_filesystem / "probe").write_bytes(b"\0" * 8192)
    entry = log.LogEntry(str(uuid.uuid4()), date(2026, 6, 30), "held_back", {}, [], "a blocking check failed")
    assert log.append(settings, entry) is True  # it had to use the reserve: the alert says the disk is full
    assert any(p.suffix == ".json" and entry.run_id in p.name for p in log.log_dir(settings).iterdir())
