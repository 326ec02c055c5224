"""The publication log: one small JSON file per run outcome (published or held back), append-only.

The log lives in `$C360_HOME/state/log/`, outside the published database, so recording a held-back run writes one
small file and never rewrites what BI tools read. Each publication copies the whole log into its published
`publication_log` table; `c360 status`, the report and the alerts read the files, so a held-back run shows there
at once. A reserve file keeps room for a last entry and an alert when the disk fills up.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from c360.settings import Settings
from publishing.gate import CheckRecord

RESERVE_BYTES = 256 * 1024

# Columns of the published publication_log table, in order, with their DuckDB types.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "VARCHAR"),
    ("as_of_date", "DATE"),
    ("status", "VARCHAR"),
    ("logged_at", "TIMESTAMP"),
    ("tables_published", "INTEGER"),
    ("row_counts", "JSON"),
    ("checks_passed", "INTEGER"),
    ("checks_failed", "INTEGER"),
    ("warnings", "INTEGER"),
    ("failed_checks", "VARCHAR"),
    ("checks", "JSON"),
    ("message", "VARCHAR"),
    ("version", "VARCHAR"),
)


@dataclass(frozen=True)
class LogEntry:
    run_id: str
    as_of_date: date
    status: str  # published | published_history | held_back | failed
    row_counts: dict[str, int]
    checks: list[CheckRecord]
    message: str
    version: str | None = None
    logged_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))

    @property
    def failed(self) -> list[CheckRecord]:
        return [c for c in self.checks if c.blocks]

    @property
    def warnings(self) -> list[CheckRecord]:
        return [c for c in self.checks if c.is_warning]

    def row(self) -> dict[str, Any]:
        """The entry as a row of the publication_log table."""
        return {
            "run_id": self.run_id,
            "as_of_date": self.as_of_date,
            "status": self.status,
            "logged_at": self.logged_at,
            "tables_published": len(self.row_counts),
            "row_counts": json.dumps(self.row_counts, sort_keys=True),
            "checks_passed": sum(1 for c in self.checks if c.passed),
            "checks_failed": len(self.failed),
            "warnings": len(self.warnings),
            "failed_checks": "\n".join(c.line() for c in self.failed) or None,
            "checks": json.dumps([asdict(c) for c in self.checks], default=str),
            "message": self.message,
            "version": self.version,
        }


def log_dir(settings: Settings) -> Path:
    return settings.state_dir / "log"


def _reserve(settings: Settings) -> Path:
    return log_dir(settings) / ".reserve"


def ensure_reserve(settings: Settings) -> None:
    """Keep RESERVE_BYTES aside for the day the disk is full (best effort: a full disk now is not an error here)."""
    path = _reserve(settings)
    if path.exists():
        return
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(b"\0" * RESERVE_BYTES)


def with_reserve(settings: Settings, write: Callable[[], None]) -> bool:
    """Run `write`; when it fails because the disk is full, free the reserve and try once more. Returns whether
    the reserve had to be used (the disk is full: say so in the alert)."""
    try:
        write()
        return False
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        with contextlib.suppress(FileNotFoundError):
            _reserve(settings).unlink()
        write()
        return True


def append(settings: Settings, entry: LogEntry) -> bool:
    """Write one entry (atomically: a temporary file renamed into place); returns whether the disk was full."""
    folder = log_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = entry.logged_at.strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"{stamp}-{entry.run_id}.json"
    row = entry.row()
    payload = json.dumps(
        {**row, "as_of_date": row["as_of_date"].isoformat(), "logged_at": row["logged_at"].isoformat()}
    )

    def write() -> None:
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_text(payload)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    return with_reserve(settings, write)


def entries(settings: Settings) -> list[dict[str, Any]]:
    """Every log entry, oldest first, as publication_log rows (dates and timestamps parsed)."""
    folder = log_dir(settings)
    rows = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            row = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a torn write cannot happen (rename), but a hand-edited file must not stop the pipeline
        row["as_of_date"] = date.fromisoformat(row["as_of_date"])
        row["logged_at"] = datetime.fromisoformat(row["logged_at"])
        rows.append(row)
    rows.sort(key=lambda r: r["logged_at"])
    return rows


def has_entry(settings: Settings, run_id: str) -> bool:
    folder = log_dir(settings)
    return folder.is_dir() and any(folder.glob(f"*-{run_id}.json"))


def last_published(settings: Settings) -> dict[str, Any] | None:
    """The entry of the publication currently in place (the newest as-of date published with its snapshot)."""
    published = [r for r in entries(settings) if r["status"] == "published"]
    return published[-1] if published else None


def last_published_row_count(settings: Settings, table: str) -> int | None:
    last = last_published(settings)
    if last is None:
        return None
    return json.loads(last["row_counts"]).get(table)


def restore(settings: Settings, row: dict[str, Any]) -> None:
    """Write back the entry of a publication whose log file was lost (the process died right after switching)."""
    folder = log_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    logged_at = row["logged_at"]
    stamp = logged_at.strftime("%Y%m%dT%H%M%S%f")
    payload = {**row, "as_of_date": row["as_of_date"].isoformat(), "logged_at": logged_at.isoformat()}
    for key in ("row_counts", "checks"):
        if not isinstance(payload[key], str):
            payload[key] = json.dumps(payload[key])
    path = folder / f"{stamp}-{row['run_id']}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, path)
