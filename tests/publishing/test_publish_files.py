"""The files of a publication: the DuckDB file holds the Parquet files' rows, and a publication that fails half-way
(in the export, or in the DuckDB file written beside it) leaves nothing behind and the previous version in place."""

from __future__ import annotations

import threading
import uuid
from datetime import date
from pathlib import Path

import duckdb
import pytest

from c360.settings import Settings
from publishing import versions
from publishing.publish import TableSpec, publish
from warehouse import DuckDBWarehouse, connect

AS_OF = date(2026, 6, 30)
TABLES = [
    TableSpec(
        "customer_scores", description="One row per customer.", columns={"score": "A score from 0 to 1."}
    ),
    TableSpec("score_history", history=True, columns={"as_of_date": "The run's as-of date."}),
]


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    return Settings.from_env({"C360_HOME": str(tmp_path / "home")})


def _warehouse(path: Path, as_of: date, rows: int = 300_000) -> DuckDBWarehouse:
    con = connect(path)
    # more rows than one row group, in an order that is neither the key's nor random
    con.execute(
        f"create or replace table customer_scores as select 'C' || lpad(((i * 7919) % {rows})::varchar, 7, '0') "
        f"as customer_id, (i % 1000) / 1000.0 as score, i % 3 = 0 as flagged from range({rows}) t(i)"
    )
    con.execute(
        f"create or replace table score_history as select date '{as_of}' as as_of_date, count(*) as customers "
        "from customer_scores"
    )
    return DuckDBWarehouse(con)


def _publish(settings: Settings, wh: DuckDBWarehouse, as_of: date, tables=TABLES):
    return publish(
        settings,
        warehouse=wh,
        run_id=str(uuid.uuid4()),
        as_of=as_of,
        tables=tables,
        state_tables=[],
        checks=[],
    )


def test_the_duckdb_file_holds_the_rows_of_the_parquet_files_in_their_order(home: Settings, tmp_path: Path):
    wh = _warehouse(tmp_path / "build.duckdb", AS_OF)
    publication = _publish(home, wh, AS_OF)
    wh.close()
    assert publication.row_counts == {"customer_scores": 300_000, "score_history": 1}
    con = duckdb.connect(str(publication.version / versions.DUCKDB), read_only=True)
    try:
        for table in ("customer_scores", "score_history"):
            parquet = publication.version / versions.PARQUET / f"{table}.parquet"
            in_file = con.sql(f"select * from {table}").fetchall()
            assert in_file == con.sql(f"select * from read_parquet('{parquet}')").fetchall()
        assert con.sql(
            "select comment from duckdb_tables() where table_name = 'customer_scores'"
        ).fetchone() == ("One row per customer.",)
        assert con.sql(
            "select comment from duckdb_columns() where table_name = 'customer_scores' and column_name = 'score'"
        ).fetchone() == ("A score from 0 to 1.",)
    finally:
        con.close()


def _written_order(version: Path) -> list[str]:
    files = [version / versions.PARQUET / f"{table.name}.parquet" for table in TABLES]
    return [path.stem for path in sorted(files, key=lambda path: path.stat().st_mtime_ns)]


def test_tables_are_written_smallest_first_by_the_files_in_place(home: Settings, tmp_path: Path):
    """The copy into the DuckDB file is the slower of the two writes: the largest table goes last, so that its
    export overlaps the copies of the others. Sizes come from the version in place; the first publication keeps
    the given order."""
    wh = _warehouse(tmp_path / "build.duckdb", AS_OF)
    first = _publish(home, wh, AS_OF)
    second = _publish(home, wh, date(2026, 7, 1))
    wh.close()
    assert _written_order(first.version) == ["customer_scores", "score_history"]
    assert _written_order(second.version) == ["score_history", "customer_scores"]
    assert list(second.row_counts) == ["customer_scores", "score_history"]  # the log keeps the given order
    assert second.row_counts == first.row_counts == {"customer_scores": 300_000, "score_history": 1}


def _nothing_staged(settings: Settings) -> bool:
    return not [p for p in settings.publications_dir.iterdir() if p.name.startswith(".") and p.is_dir()]


def test_a_table_missing_from_the_build_fails_the_publication_and_keeps_the_previous_one(
    home: Settings, tmp_path: Path
):
    wh = _warehouse(tmp_path / "build.duckdb", AS_OF)
    first = _publish(home, wh, AS_OF)
    threads = threading.active_count()
    # the second table cannot be exported while the first one is being copied into the DuckDB file
    missing = [TABLES[0], TableSpec("not_built")]
    with pytest.raises(duckdb.CatalogException, match="not_built"):
        _publish(home, wh, date(2026, 7, 1), tables=missing)
    wh.close()
    assert versions.current(home) == first.version
    assert _nothing_staged(home)
    assert threading.active_count() == threads


def test_a_damaged_file_of_the_version_in_place_fails_a_backfill_publication_and_changes_nothing(
    home: Settings, tmp_path: Path
):
    # A backfill (older as-of date) publishes the history tables and links the snapshot tables of the version in
    # place; a damaged Parquet file there fails in the thread that writes the DuckDB file.
    wh = _warehouse(tmp_path / "build.duckdb", AS_OF)
    first = _publish(home, wh, AS_OF)
    damaged = first.version / versions.PARQUET / "customer_scores.parquet"
    damaged.write_bytes(b"PAR1 not a parquet file")
    older = date(2026, 6, 29)
    wh.con.execute(f"update score_history set as_of_date = date '{older}'")
    with pytest.raises(duckdb.Error, match="customer_scores"):
        _publish(home, wh, older)
    wh.close()
    assert versions.current(home) == first.version
    assert _nothing_staged(home)
