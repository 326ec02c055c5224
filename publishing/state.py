"""The state store: per-run snapshots that cannot be rebuilt from the landing zone, kept with each publication.

A table is a per-run snapshot when its dbt config says `meta: {c360_state: true}` (customer_states_daily,
bgnbd_fit_history): each run builds its own as-of date's rows, and the rows of earlier runs are read from here
(macros/stored_history.sql). Only a publication adds a date (`stage`): a held-back run's rows never reach the
store, so no later run can publish them. The store travels with every version of the publication (files of
unchanged dates are hard links, so a new version costs only the new date), which also means it survives the
loss of the build database: the next run exposes it again (`register`) and the history is whole.

Both work on any engine of the pipeline (the warehouse interface): on DuckDB the stored rows are a view over the
version's Parquet files, on Spark an external table over the same folder; a run's rows are written from the
engine that built them.
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

from publishing.versions import STATE
from warehouse import Warehouse
from warehouse.base import parquet_files

SCHEMA = "state"


def state_tables(manifest: Mapping[str, Any]) -> list[str]:
    """Models whose config meta says c360_state: true."""
    return sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and ((node.get("config") or {}).get("meta") or {}).get("c360_state")
    )


def folder(version: Path | None, table: str) -> Path | None:
    return version / STATE / table if version is not None else None


def files(version: Path | None, table: str) -> list[Path]:
    return parquet_files(folder(version, table))


def stored_dates(version: Path | None, table: str) -> list[date]:
    return [date.fromisoformat(p.stem) for p in files(version, table)]


def register(wh: Warehouse, version: Path | None, tables: Iterable[str]) -> dict[str, int]:
    """Expose the stored rows of each table as the relation state.<table> of the build (dropped when there are
    none). Returns the number of stored dates per table."""
    return {table: wh.attach_parquet(SCHEMA, table, folder(version, table)) for table in tables}


def link_or_copy(source: Path, target: Path) -> None:
    """`target` becomes a hard link to `source`, or a copy where links are not possible (another file system)."""
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.copyfile(source, target)


def stage(
    wh: Warehouse,
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
        target_folder = staged / STATE / table
        target_folder.mkdir(parents=True, exist_ok=True)
        for path in files(previous, table):
            if path.stem != as_of.isoformat():
                link_or_copy(path, target_folder / path.name)
        target = target_folder / f"{as_of.isoformat()}.parquet"
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        wh.export_parquet(f"select * from main.{table} where as_of_date = date '{as_of.isoformat()}'", target)
        os.chmod(target, file_mode)
        written[table] = parquet_rows(target)
    return written


def parquet_rows(path: Path) -> int:
    """Rows of a Parquet file, from its footer."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows
