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


def _publish(settings: Settings, wh: DuckDBWarehouse, as_of: date, tables=TABLES, marks=None):
    return publish(
        settings,
        warehouse=wh,
        run_id=str(uuid.uuid4()),
        as_of=as_of,
        tables=tables,
        state_tables=[],
        checks=[],
        build_marks=marks,
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


def _marked(settings: Settings, wh: DuckDBWarehouse, as_of: date, marks: dict[str, str], tables=TABLES):
    """A publication whose tables carry the given build marks."""
    return _publish(settings, wh, as_of, tables, marks=marks)


def _rows(version: Path, table: str) -> tuple[list, list]:
    """The table's rows in the version's DuckDB file and in its Parquet file."""
    con = duckdb.connect(str(version / versions.DUCKDB), read_only=True)
    try:
        parquet = version / versions.PARQUET / f"{table}.parquet"
        return (
            con.sql(f"select * from {table} order by all").fetchall(),
            con.sql(f"select * from read_parquet('{parquet}') order by all").fetchall(),
        )
    finally:
        con.close()


def _same_file(a: Path, b: Path, table: str) -> bool:
    return (a / versions.PARQUET / f"{table}.parquet").samefile(b / versions.PARQUET / f"{table}.parquet")


def test_a_table_with_the_mark_of_the_version_in_place_keeps_its_files(home: Settings, tmp_path: Path):
    wh = _warehouse(tmp_path / "build.duckdb", AS_OF)
    marks = {"customer_scores": "build-1", "score_history": "history-1"}
    first = _marked(home, wh, AS_OF, marks)
    assert first.kept == ()
    # the same date again, nothing built again: no table is written
    again = _marked(home, wh, AS_OF, marks)
    assert again.kept == ("customer_scores", "score_history")
    assert again.entry.message.endswith("(0 written, 2 unchanged and kept)")
    assert all(_same_file(first.version, again.version, t.name) for t in TABLES)
    assert again.row_counts == first.row_counts
    for table in ("customer_scores", "score_history"):
        in_file, in_parquet = _rows(again.version, table)
        assert in_file == in_parquet == _rows(first.version, table)[0]

    # one table built again (another mark): it alone is written, with its new rows
    wh.con.execute("update customer_scores set score = 1 - score where flagged")
    changed = _marked(home, wh, AS_OF, {**marks, "customer_scores": "build-2"})
    assert changed.kept == ("score_history",)
    assert not _same_file(again.version, changed.version, "customer_scores")
    assert _same_file(again.version, changed.version, "score_history")
    in_file, in_parquet = _rows(changed.version, "customer_scores")
    assert in_file == in_parquet == sorted(wh.con.sql("select * from customer_scores").fetchall())
    assert in_file != _rows(first.version, "customer_scores")[0]

    # no mark (a model c360 did not record), or another description with the same mark: written again
    unmarked = _marked(home, wh, AS_OF, {"score_history": "history-1"})
    assert unmarked.kept == ("score_history",)
    described = [TableSpec("customer_scores", description="Scores, described anew."), TABLES[1]]
    redescribed = _marked(home, wh, AS_OF, {**marks, "customer_scores": "build-2"}, tables=described)
    assert redescribed.kept == ("score_history",)
    # other permissions for the published files: written again with them (a kept file is the file in place)
    private = Settings.from_env({"C360_HOME": str(home.home), "C360_PUBLISHED_FILE_MODE": "0600"})
    moded = _marked(private, wh, AS_OF, {**marks, "customer_scores": "build-2"}, tables=described)
    assert moded.kept == ()
    assert all(
        (moded.version / versions.PARQUET / f"{t.name}.parquet").stat().st_mode & 0o777 == 0o600
        for t in TABLES
    )
    assert (redescribed.version / versions.PARQUET / "score_history.parquet").stat().st_mode & 0o777 == 0o644
    # a table changed outside c360 (its build's mark unchanged, another row count): written again
    wh.con.execute("insert into score_history select as_of_date + 1, customers from score_history")
    outside = _marked(private, wh, AS_OF, {**marks, "customer_scores": "build-2"}, tables=described)
    assert outside.kept == ("customer_scores",)
    assert outside.row_counts["score_history"] == 2
    con = duckdb.connect(str(redescribed.version / versions.DUCKDB), read_only=True)
    try:
        assert con.sql(
            "select comment from duckdb_tables() where table_name = 'customer_scores'"
        ).fetchone() == ("Scores, described anew.",)
        logged = con.sql("select count(*) from publication_log").fetchone()[0]
    finally:
        con.close()
    wh.close()
    assert logged == 5  # the log is written anew in each version, never kept (5 in the fifth version)


SCORES = (
    "create or replace table scores as select i as customer_id, random() as score from range(1000000) t(i)"
)


def _two_tables(path: Path) -> DuckDBWarehouse:
    """A large table that stays as it is and a smaller one that changes (large enough for DuckDB to write its
    blocks while the table is created, rather than at the checkpoint)."""
    con = connect(path)
    con.execute(
        "create or replace table events as select i as event_id, 'C' || (i % 5000)::varchar as customer_id, "
        "md5(i::varchar) as payload from range(1000000) t(i)"
    )
    con.execute(SCORES)
    return DuckDBWarehouse(con)


def test_the_duckdb_file_starts_from_the_one_in_place_and_does_not_grow(home: Settings, tmp_path: Path):
    """When the kept tables make up most of the file, the new file is a copy of the one in place with the changed
    tables written again: DuckDB reuses the blocks the dropped tables freed, publication after publication."""
    wh = _two_tables(tmp_path / "build.duckdb")
    tables = [TableSpec("events"), TableSpec("scores")]
    first = _marked(home, wh, AS_OF, {"events": "e", "scores": "s0"}, tables=tables)
    size = (first.version / versions.DUCKDB).stat().st_size
    sizes = []
    for n in range(1, 5):
        wh.con.execute(SCORES)
        publication = _marked(home, wh, AS_OF, {"events": "e", "scores": f"s{n}"}, tables=tables)
        assert publication.kept == ("events",)
        sizes.append((publication.version / versions.DUCKDB).stat().st_size)
        in_file, in_parquet = _rows(publication.version, "scores")
        assert in_file == in_parquet == sorted(wh.con.sql("select * from scores").fetchall())
    events_file, events_parquet = _rows(publication.version, "events")
    wh.close()
    assert events_file == events_parquet and len(events_file) == 1_000_000
    assert max(sizes) <= 1.2 * size, (size, sizes)


def test_kept_files_outlive_the_version_they_came_from(tmp_path: Path):
    settings = Settings.from_env({"C360_HOME": str(tmp_path / "home"), "C360_PUBLISHED_VERSIONS_KEPT": "2"})
    wh = _warehouse(tmp_path / "build.duckdb", AS_OF, rows=1000)
    marks = {"customer_scores": "build-1", "score_history": "history-1"}
    first = _marked(settings, wh, AS_OF, marks)
    expected = _rows(first.version, "customer_scores")[0]
    for _ in range(3):
        last = _marked(settings, wh, AS_OF, marks)
    wh.close()
    assert not first.version.exists()  # collected: only the two newest versions stay
    assert last.kept == ("customer_scores", "score_history")
    in_file, in_parquet = _rows(last.version, "customer_scores")
    assert in_file == in_parquet == expected


def test_a_failure_after_keeping_tables_changes_nothing(home: Settings, tmp_path: Path):
    wh = _two_tables(tmp_path / "build.duckdb")
    tables = [TableSpec("events"), TableSpec("scores")]
    first = _marked(home, wh, AS_OF, {"events": "e", "scores": "s0"}, tables=tables)
    # events is kept (the new file starts from the one in place), the next table cannot be exported
    with pytest.raises(duckdb.CatalogException, match="not_built"):
        _marked(home, wh, AS_OF, {"events": "e"}, tables=[*tables, TableSpec("not_built")])
    wh.close()
    assert versions.current(home) == first.version
    assert _nothing_staged(home)
    assert _rows(first.version, "scores")[0] == _rows(first.version, "scores")[1]
