"""The state store: per-run snapshots that cannot be rebuilt from the landing zone, kept with each publication.

A table is a per-run snapshot when its dbt config says `meta: {c360_state: true}` (customer_states_daily,
bgnbd_fit_history): each run builds its own as-of date's rows, and the rows of earlier runs are read from here
(macros/stored_history.sql). Only a publication adds a date (`stage`): a held-back run's rows never reach the
store, so no later run can publish them. The store travels with every version of the publication (files of
unchanged dates are hard links, so a new version costs only the new date), which also means it survives the
loss of the build database: the next run exposes it again (`register`) and the history is whole.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from publishing.versions import STATE

SCHEMA = "state"


def state_tables(manifest: Mapping[str, Any]) -> list[str]:
    """Models whose config meta says c360_state: true."""
    return sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and ((node.get("config") or {}).get("meta") or {}).get("c360_state")
    )


def _sql_str(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def files(version: Path | None, table: str) -> list[Path]:
    if version is None:
        return []
    folder = version / STATE / table
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def stored_dates(version: Path | None, table: str) -> list[date]:
    return [date.fromisoformat(p.stem) for p in files(version, table)]


def register(con: duckdb.DuckDBPyConnection, version: Path | None, tables: Iterable[str]) -> dict[str, int]:
    """Expose the stored rows of each table as the view state.<table> in the build database (dropped when there
    are none). Returns the number of stored dates per table."""
    con.execute(f"create schema if not exists {SCHEMA}")
    counts = {}
    for table in tables:
        stored = files(version, table)
        counts[table] = len(stored)
        if stored:
            listed = ", ".join(_sql_str(p) for p in stored)
            con.execute(
                f'create or replace view {SCHEMA}."{table}" as '
                f"select * from read_parquet([{listed}], union_by_name = true)"
            )
        else:
            con.execute(f'drop view if exists {SCHEMA}."{table}"')
    return counts


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.copyfile(source, target)


def stage(
    con: duckdb.DuckDBPyConnection,
    previous: Path | None,
    staged: Path,
    tables: Iterable[str],
    as_of: date,
    *,
    file_mode: int,
) -> dict[str, int]:
    """The new version's state: every stored date of the previous version, and this run's rows for `as_of` (which
    replace a stored date of the same day). Returns the rows written per table."""
    written = {}
    for table in tables:
        folder = staged / STATE / table
        folder.mkdir(parents=True, exist_ok=True)
        for path in files(previous, table):
            if path.stem != as_of.isoformat():
                _link_or_copy(path, folder / path.name)
        target = folder / f"{as_of.isoformat()}.parquet"
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        con.execute(
            f"copy (select * from main.\"{table}\" where as_of_date = date '{as_of.isoformat()}') "
            f"to {_sql_str(target)} (format parquet, compression zstd)"
        )
        os.chmod(target, file_mode)
        written[table] = con.execute(f"select count(*) from read_parquet({_sql_str(target)})").fetchone()[0]
    return written
