"""Landing files into the raw tables of any warehouse (Spark), with the one definition of the contract rules.

The rules live in one place: the DuckDB loader (``ingestion.loader``), which reads everything it knows about
earlier runs from the connection it is given. On the DuckDB build database it loads in place. For another engine,
each call loads one source's new files into a throw-away DuckDB staging database seeded with that engine's
ingestion log (content hashes, file signatures and file ids carry over: a re-delivered file is skipped, a file id
is never used twice), then appends what the loader added there (raw rows, quarantine rows, log rows) to the
engine's tables. So the files are read and parsed where c360 runs (the Spark driver), not on the executors.

On DuckDB a file's rows commit together with its log row. Spark's Parquet tables have no transaction across
tables, so the log stays the commit record: raw rows and quarantine rows are appended first, the log rows last.
File ids grow with every log row, so rows whose file id is above the log's largest are rows of files the log
never got (a run killed between those appends): the next call removes them before it loads anything, and loads
those files again.
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
            logged = _seed_log(wh, DuckDBWarehouse(con))
            remove_unlogged_rows(wh, source, logged, progress)
            result = ingest_source(
                con, source, landing_root, encoding=encoding, progress=progress, settle_seconds=settle_seconds
            )
            staged = DuckDBWarehouse(con)
            # the staging tables started empty: all their rows are this call's (the log: beyond the seeded ids)
            _append(
                wh,
                source,
                # the JSON type is DuckDB's own: the other engines keep the object as text, as dbt reads it
                staged.query_arrow(
                    f"select * replace (cast(_extra as varchar) as _extra) from {RAW}.{source}"
                ),
            )
            _append(wh, QUARANTINE, staged.query_arrow(f"select * from {RAW}.{QUARANTINE}"))
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


def remove_unlogged_rows(
    wh: Warehouse, source: str, newest_logged: int, progress: Callable[[str], None] | None = None
) -> int:
    """Remove the raw and quarantine rows whose file id is above ``newest_logged``, the log's largest (rows of
    files a killed run never logged). Every raw table is checked, not only ``source``'s: the next file id is the
    log's largest plus one, so unlogged rows of another source would otherwise get the ids of the files loaded
    now. Returns the rows removed."""
    tables = [name for name in (*CONTRACTS, QUARANTINE) if wh.table_exists(RAW, name)]
    if not tables:
        return 0
    unlogged = f"_file_id > {int(newest_logged)}"
    counts = wh.query_arrow(
        "select "
        + ", ".join(f"(select count(*) from {RAW}.{name} where {unlogged}) as {name}" for name in tables)
    ).to_pylist()[0]
    for name in tables:
        if counts[name]:
            wh.delete_where(RAW, name, unlogged)
            if progress:
                progress(
                    f"removed {counts[name]:,} rows of raw.{name} whose file is not in raw.{LOG} (an earlier run "
                    "stopped before logging it); its file is loaded again"
                )
    return sum(counts.values())
