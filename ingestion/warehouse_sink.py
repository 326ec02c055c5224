"""Landing files into the raw tables of any warehouse (Spark), with the one definition of the contract rules.

The rules live in one place: the DuckDB loader (``ingestion.loader``), which reads everything it knows about
earlier runs from the connection it is given. On the DuckDB build database it loads in place. For another engine,
each call loads one source's new files into a throw-away DuckDB staging database seeded with that engine's
ingestion log (content hashes, file signatures and file ids carry over: a re-delivered file is skipped, a file id
is never used twice), then appends what the loader added there (raw rows, quarantine rows, log rows) to the
engine's tables. So the files are read and parsed where c360 runs (the Spark driver), not on the executors.

On DuckDB a file's rows commit together with its log row. Spark's Parquet tables have no transaction across
tables, so the log stays the commit record: quarantine rows and raw rows are appended first, the log rows last.
Rows of a file the log does not list as loaded (a run killed between those appends) are removed when the next
call starts, before anything is loaded again.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from ingestion.contracts import CONTRACTS
from ingestion.loader import SourceLoadResult, ingest_source
from ingestion.schema import ensure_schema
from warehouse import DuckDBWarehouse, Warehouse, connect

RAW = "raw"
LOG = "ingestion_log"
QUARANTINE = "quarantine"


def ingest_into(
    wh: Warehouse,
    source: str,
    landing_root: Path,
    *,
    encoding: str | None = None,
    progress: Callable[[str], None] | None = None,
    settle_seconds: float = 0.0,
    staging_dir: Path | None = None,
    memory_limit: str | None = None,
) -> SourceLoadResult:
    """Load the new files of ``landing_root/<source>/`` into ``raw.<source>`` of ``wh`` (arguments as for
    :func:`ingestion.loader.ingest_source`). ``staging_dir`` holds the staging database while it is used."""
    if isinstance(wh, DuckDBWarehouse):
        return ingest_source(
            wh.con, source, landing_root, encoding=encoding, progress=progress, settle_seconds=settle_seconds
        )
    if source not in CONTRACTS:  # before touching the engine's tables
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(CONTRACTS)}")
    if staging_dir is not None:
        staging_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="c360-staging-", dir=staging_dir) as tmp:
        con = connect(Path(tmp) / "staging.duckdb", memory_limit=memory_limit)
        try:
            ensure_schema(con)
            remove_unlogged_rows(wh, source, progress)
            logged = _seed_log(wh, DuckDBWarehouse(con))
            result = ingest_source(
                con, source, landing_root, encoding=encoding, progress=progress, settle_seconds=settle_seconds
            )
            staged = DuckDBWarehouse(con)
            # the staging tables started empty: all their rows are this call's (the log: beyond the seeded ids)
            _append(wh, QUARANTINE, staged.query_arrow(f"select * from {RAW}.{QUARANTINE}"))
            _append(
                wh,
                source,
                # the JSON type is DuckDB's own: the other engines keep the object as text, as dbt reads it
                staged.query_arrow(
                    f"select * replace (cast(_extra as varchar) as _extra) from {RAW}.{source}"
                ),
            )
            _append(wh, LOG, staged.query_arrow(f"select * from {RAW}.{LOG} where file_id > {logged}"))
        finally:
            con.close()
    return result


def _append(wh: Warehouse, name: str, data) -> None:
    """New rows for ``raw.<name>``; the table is created (empty if need be) so that dbt finds its sources."""
    if data.num_rows or not wh.table_exists(RAW, name):
        wh.append_table(RAW, name, data)


def _seed_log(wh: Warehouse, staging: DuckDBWarehouse) -> int:
    """Copy the engine's ingestion log into the staging database; returns the largest file id in it (0 if none)."""
    if not wh.table_exists(RAW, LOG):
        return 0
    staging.append_table(RAW, LOG, wh.query_arrow(f"select * from {RAW}.{LOG}"))
    return int(staging.scalar(f"select coalesce(max(file_id), 0) from {RAW}.{LOG}"))  # type: ignore[call-overload]


def remove_unlogged_rows(wh: Warehouse, source: str, progress: Callable[[str], None] | None = None) -> int:
    """Remove the raw and quarantine rows of ``source`` whose file is not logged as loaded (left by a run killed
    between the appends of one call). Returns the rows removed."""
    if wh.table_exists(RAW, LOG):
        unlogged = f"_file_id not in (select file_id from {RAW}.{LOG} where status = 'loaded')"
    else:
        unlogged = "true"
    removed = 0
    for name, condition in ((source, unlogged), (QUARANTINE, f"source = '{source}' and {unlogged}")):
        if not wh.table_exists(RAW, name):
            continue
        count = int(
            wh.query_arrow(f"select count(*) as n from {RAW}.{name} where {condition}").column(0)[0].as_py()
        )
        if count:
            wh.delete_where(RAW, name, condition)
            removed += count
            if progress:
                progress(
                    f"{source}: removed {count:,} rows of raw.{name} whose file is not in raw.{LOG} (an earlier "
                    "run stopped before logging it); the file is loaded again"
                )
    return removed
