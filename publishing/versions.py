"""Publication versions: each publication is a complete, immutable folder, switched in by one rename.

  publications/<version>/parquet/<table>.parquet   the published tables (what published/ points to)
  publications/<version>/published.duckdb          the same tables in one DuckDB file
  publications/<version>/tables.json               the mark each table was published with (publishing/publish.py;
                                                   a table unchanged since is a hard link to the file in place)
  publications/<version>/state/<table>/<date>.parquet
                                                   per-run snapshots behind the history tables (state store)
  published -> publications/<version>/parquet      the stable path BI tools read (a symbolic link)
  warehouse/published.duckdb                       a hard link to (or copy of) the version's DuckDB file

The link `published` is the commit point: once it is switched (rename of a new link over it, atomic on POSIX),
the version is the publication. A reader that resolved the link (opened a file, or called realpath) keeps a
consistent set; files of older versions stay until C360_PUBLISHED_VERSIONS_KEPT newer ones exist. Then the
DuckDB file is switched the same way; if the process dies between the two, `reconcile` finishes the job at the
next start. A version folder that was never switched in (a killed run) is ignored and removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

from c360.settings import Settings

PARQUET, STATE, DUCKDB = "parquet", "state", "published.duckdb"


def current(settings: Settings) -> Path | None:
    """The version folder in place, or None before the first publication (or in a pre-versions layout)."""
    link = settings.published_dir
    if not link.is_symlink():
        return None
    target = (link.parent / os.readlink(link)).resolve()
    return target.parent if target.is_dir() else None


def new_version(settings: Settings, *, run_id: str, as_of: date) -> Path:
    """A fresh, empty version folder (not yet visible to anyone)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = settings.publications_dir / f".{stamp}-{as_of.isoformat()}-{run_id[:8]}"
    shutil.rmtree(path, ignore_errors=True)
    (path / PARQUET).mkdir(parents=True)
    (path / STATE).mkdir()
    # readable by the BI tools' users like the published files (the process umask makes new folders private)
    dir_mode = _dir_mode(settings.published_file_mode)
    for folder in (path, path / PARQUET):
        folder.chmod(dir_mode)
    return path


def _dir_mode(file_mode: int) -> int:
    """A folder mode giving search (x) permission wherever the file mode gives read permission."""
    return 0o700 | file_mode | ((file_mode & 0o444) >> 2)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _link_file(source: Path, target: Path) -> None:
    """`target` becomes `source` (a hard link when on the same file system, else a copy), atomically."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.link(source, tmp)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.copyfile(source, tmp)
        os.chmod(tmp, os.stat(source).st_mode & 0o777)
    os.replace(tmp, target)


def commit(settings: Settings, staged: Path) -> Path:
    """Make the staged version the publication: rename it to its final name, switch `published`, then the DuckDB
    file. Returns the final version folder."""
    final = staged.with_name(staged.name.lstrip("."))
    os.replace(staged, final)
    _fsync_dir(final.parent)
    _migrate_plain_folder(settings)
    link = settings.published_dir
    tmp_link = link.with_name(f".{link.name}.{os.getpid()}.link")
    with contextlib.suppress(FileNotFoundError):
        tmp_link.unlink()
    os.symlink(os.path.relpath(final / PARQUET, link.parent), tmp_link)
    os.replace(tmp_link, link)
    _fsync_dir(link.parent)
    reconcile(settings)
    return final


def reconcile(settings: Settings) -> None:
    """Finish a switch a killed process left halfway: the DuckDB file follows the version `published` points to."""
    version = current(settings)
    if version is None or not (version / DUCKDB).exists():
        return
    target = settings.published_db
    if target.exists() and os.path.samefile(target, version / DUCKDB):
        return
    if target.exists() and _same_content_marker(target, version):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    _link_file(version / DUCKDB, target)
    _fsync_dir(target.parent)


def _same_content_marker(target: Path, version: Path) -> bool:
    """A copy (different file system) of the version's file: compare size and modification time."""
    source = (version / DUCKDB).stat()
    mine = target.stat()
    return mine.st_size == source.st_size and int(mine.st_mtime) == int(source.st_mtime)


def _migrate_plain_folder(settings: Settings) -> None:
    """Homes published before versions had a plain `published/` folder: keep it as a version of its own."""
    link = settings.published_dir
    if link.is_dir() and not link.is_symlink():
        legacy = settings.publications_dir / f"legacy-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
        legacy.mkdir(parents=True)
        os.replace(link, legacy / PARQUET)


def collect_garbage(settings: Settings) -> list[Path]:
    """Remove versions beyond the newest C360_PUBLISHED_VERSIONS_KEPT and staged folders of killed runs."""
    keep = settings.published_versions_kept
    folder = settings.publications_dir
    if not folder.is_dir():
        return []
    in_place = current(settings)
    versions = sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name
    )
    removed = []
    for path in versions[: max(len(versions) - keep, 0)]:
        if in_place is not None and path.resolve() == in_place.resolve():
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    for path in folder.iterdir():
        if path.name.startswith(".") and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
