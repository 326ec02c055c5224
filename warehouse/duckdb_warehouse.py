"""The DuckDB build database (the default engine)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from warehouse.base import InformationSchemaTables, arrow_table, check_identifier, parquet_files


def sql_text(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def connect(
    path: Path, *, memory_limit: str | None = None, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {"memory_limit": memory_limit} if memory_limit else {}
    con = duckdb.connect(str(path), read_only=read_only, config=config)
    # TimeZone cannot go into the connect config: ICU is only loaded once the database is open.
    con.execute("set TimeZone = 'UTC'")
    return con


class DuckDBWarehouse(InformationSchemaTables):
    """A DuckDB database file (or an open connection to one, which the caller keeps owning)."""

    engine = "duckdb"

    def __init__(
        self, path_or_connection: Path | duckdb.DuckDBPyConnection, *, read_only: bool = False
    ) -> None:
        if isinstance(path_or_connection, duckdb.DuckDBPyConnection):
            self.con = path_or_connection
            self._owned = False
        else:
            self.con = connect(Path(path_or_connection), read_only=read_only)
            self._owned = True

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def query(self, sql: str) -> pd.DataFrame:
        return self.con.sql(sql).df()

    def query_arrow(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def write_table(self, schema: str, name: str, data: pd.DataFrame | pa.Table) -> None:
        self._from_arrow(
            schema, name, data, f"create or replace table {schema}.{name} as select * from _c360_write"
        )

    def append_table(self, schema: str, name: str, data: pd.DataFrame | pa.Table) -> None:
        self._from_arrow(
            schema,
            name,
            data,
            f"create table if not exists {schema}.{name} as select * from _c360_write limit 0",
            f"insert into {schema}.{name} by name select * from _c360_write",
        )

    def _from_arrow(self, schema: str, name: str, data: pd.DataFrame | pa.Table, *statements: str) -> None:
        check_identifier(schema, name)
        table = arrow_table(data)
        self.con.execute(f"create schema if not exists {schema}")
        self.con.register("_c360_write", table)
        try:
            for statement in statements:
                self.con.execute(statement)
        finally:
            self.con.unregister("_c360_write")

    def table_checksum(self, schema: str, name: str) -> str:
        check_identifier(schema, name)
        rows, total = self.con.sql(
            f"select count(*), coalesce(sum(hash(t)::hugeint)::varchar, '') from {schema}.{name} as t"
        ).fetchone()  # type: ignore[misc]
        return f"{rows}:{total}"

    def export_parquet(self, sql: str, path: Path) -> None:
        self.con.execute(f"copy ({sql}) to {sql_text(str(path))} (format parquet, compression zstd)")

    def attach_parquet(self, schema: str, name: str, folder: Path | None) -> int:
        """A view over the folder's Parquet files (columns matched by name across files); dropped when there are
        none. Returns the number of files."""
        check_identifier(schema, name)
        files = parquet_files(folder)
        self.con.execute(f"create schema if not exists {schema}")
        if files:
            listed = ", ".join(sql_text(str(path)) for path in files)
            self.con.execute(
                f"create or replace view {schema}.{name} as "
                f"select * from read_parquet([{listed}], union_by_name = true)"
            )
        else:
            self.con.execute(f"drop view if exists {schema}.{name}")
        return len(files)

    def scalar(self, sql: str, params: list[object] | None = None) -> object:
        row = self.con.execute(sql, params or []).fetchone()
        return row[0] if row else None

    def rows(self, sql: str, params: list[object] | None = None) -> list[tuple]:
        return self.con.execute(sql, params or []).fetchall()

    def close(self) -> None:
        if self._owned:
            self.con.close()
