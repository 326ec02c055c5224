"""The entries of a landing folder: which are loaded now, which wait for a later run, which are never read.

Every entry of ``<landing root>/<source>/`` gets exactly one status, with a reason for all but the first:

``load``
    a regular file, or a symbolic link to one inside the landing root, whose name ends in a supported suffix
    (``formats.SUPPORTED_SUFFIXES``) and that has settled.
``waiting``
    safe delivery: a file with a temporary name (a leading dot, or ending in ``.tmp``, ``.part``, ``.partial``,
    ``.crdownload`` or ``.filepart``: a transfer still running) or modified less than ``settle_seconds`` ago. It is
    not read, not counted as failed, and loaded on a later run. (The loader also reports a file as waiting when
    it changed while it was being read; see :meth:`Entry.unchanged`.)
``ignored``
    a sub-folder (files in sub-folders are not read), a named pipe, socket or device (never opened: reading a
    pipe would block), a symbolic link that is dangling or cannot be resolved, a symbolic link that resolves
    outside the landing root (refused, never followed: the landing root is the boundary of what c360 reads), or
    a name with an unsupported suffix.

Decisions: a symbolic link inside the landing root is read through its resolved target (so it cannot be
switched to another target between this check and the read) and reported under its own name. The landing root is
resolved first, so it may itself be a link. A modification time in the future (the clocks of the delivering
machine and this one disagree) counts as settled: waiting for a clock would hold the file back indefinitely, and
a file that changes while it is read is still caught.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ingestion.formats import SUPPORTED_SUFFIXES, format_of

#: Name endings of files still being transferred (browsers, scp/WinSCP, rsync-like tools, our own writers).
TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".filepart")

Status = Literal["load", "waiting", "ignored"]


@dataclass(frozen=True)
class Signature:
    """What identifies one version of a file without reading it.

    The change time (ctime) is set by the system on every write, rename and ``touch``, and unlike the modification
    time no program can set it back; with the size, inode and device it tells a file that was not touched since.
    """

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, st: os.stat_result) -> Signature:
        """The signature of a ``stat`` result."""
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)

    def text(self) -> str:
        """The signature as stored in ``raw.ingestion_log.file_stat``."""
        return f"{self.size}:{self.mtime_ns}:{self.ctime_ns}:{self.inode}:{self.device}"


@dataclass(frozen=True)
class Entry:
    """One entry of a landing folder and what to do with it."""

    name: str
    rel: str  # "<source>/<name>", the name the ingestion log and messages use
    status: Status
    reason: str | None = None
    path: Path | None = None  # what to read (a link's resolved target), for status "load"
    fmt: tuple[str, bool] | None = None  # (format, gzip-compressed), for status "load"
    signature: Signature | None = None  # of the file to read, when it was listed

    def unchanged(self) -> bool:
        """Is the file still the one that was listed (same size, modification and change time, inode)?"""
        if self.path is None or self.signature is None:
            return False
        try:
            return Signature.of(self.path.stat()) == self.signature
        except OSError:
            return False


def discover(
    landing_root: Path, source: str, *, settle_seconds: float = 0.0, now: float | None = None
) -> list[Entry] | None:
    """Every entry of ``landing_root/source`` with its status, sorted by name; None if there is no such folder."""
    folder = Path(landing_root) / source
    if not folder.is_dir():
        return None
    root = Path(landing_root).resolve()
    now = time.time() if now is None else now
    with os.scandir(folder) as listing:
        names = sorted(entry.name for entry in listing)
    return [_classify(folder / name, f"{source}/{name}", root, settle_seconds, now) for name in names]


def _classify(path: Path, rel: str, root: Path, settle_seconds: float, now: float) -> Entry:
    name = path.name
    try:
        own = path.lstat()
    except OSError as exc:
        return Entry(name, rel, "ignored", f"could not be inspected ({exc.strerror}); check its permissions")
    target = path
    if stat.S_ISLNK(own.st_mode):
        try:
            target = Path(os.path.realpath(path, strict=True))
        except FileNotFoundError:
            return Entry(
                name, rel, "ignored", "is a symbolic link whose target does not exist (a dangling link)"
            )
        except OSError:
            return Entry(
                name, rel, "ignored", "is a symbolic link that cannot be resolved (a loop of links?)"
            )
        if not target.is_relative_to(root):
            return Entry(
                name,
                rel,
                "ignored",
                "is a symbolic link to a file outside the landing folder; such links are refused, never "
                "followed. Copy the file into the landing folder instead.",
            )
    try:
        st = target.stat()
    except OSError as exc:
        return Entry(name, rel, "ignored", f"could not be inspected ({exc.strerror}); check its permissions")
    if (kind := _not_a_file(st.st_mode)) is not None:
        return Entry(name, rel, "ignored", kind)
    if name.startswith(".") or name.lower().endswith(TEMPORARY_SUFFIXES):
        reason = (
            "has a temporary name (a leading dot, or .tmp, .part, .partial, .crdownload or .filepart at the end), "
            "so its delivery is not finished; it is loaded once it is renamed to its final name"
        )
        return Entry(name, rel, "waiting", reason)
    fmt = format_of(name)
    if fmt is None:
        accepted = ", ".join(s for s, _ in sorted(SUPPORTED_SUFFIXES))
        reason = (
            f"unsupported file type; the landing folder accepts {accepted}. Rename the file if it is one of these "
            "formats, otherwise move it out of the landing folder."
        )
        return Entry(name, rel, "ignored", reason)
    age = now - st.st_mtime_ns / 1e9
    if 0 <= age < settle_seconds:
        reason = (
            f"was modified {age:.0f} s ago, less than the settle time of {settle_seconds:g} s, so it may still be "
            "being written; it is loaded on a later run once it has not changed for that long"
        )
        return Entry(name, rel, "waiting", reason)
    return Entry(name, rel, "load", path=target, fmt=fmt, signature=Signature.of(st))


def _not_a_file(mode: int) -> str | None:
    """Why an entry of this mode is not read, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return (
            "is a folder; files in sub-folders are not read (move them into the source folder to load them)"
        )
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a regular file; it is never opened"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file; it is never opened"
    if stat.S_ISBLK(mode) or stat.S_ISCHR(mode):
        return "is a device, not a regular file; it is never opened"
    return "is not a regular file; it is never opened"
