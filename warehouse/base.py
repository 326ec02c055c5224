"""The warehouse interface shared by the DuckDB, PostgreSQL and Spark implementations."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol, runtime_checkable

import pandas as pd
import pyarrow as pa

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@runtime_checkable
class Warehouse(Protocol):
    """What the pipeline needs from an engine outside dbt. Tables are addressed as ``schema.name`` (a database
    of the catalog on Spark); ``write_table`` replaces the table, ``append_table`` adds rows (matched by column
    name). ``query`` returns pandas and is meant for small results (a fit's input, a summary): large tables stay
    in the engine; ``query_arrow`` keeps the SQL types (nullable integers, decimals) for copying tables between
    engines. ``export_parquet`` writes a query's result as ONE Parquet file (what BI tools and the state store
    read), ``attach_parquet`` exposes the Parquet files of a folder as a relation the SQL can read."""

    engine: str

    def execute(self, sql: str) -> None: ...

    def query(self, sql: str) -> pd.DataFrame: ...

    def query_arrow(self, sql: str) -> pa.Table: ...

    def write_table(self, schema: str, name: str, data: pd.DataFrame | pa.Table) -> None: ...

    def append_table(self, schema: str, name: str, data: pd.DataFrame | pa.Table) -> None: ...

    def delete_where(self, schema: str, name: str, condition: str) -> None: ...

    def table_exists(self, schema: str, name: str) -> bool: ...

    def row_count(self, schema: str, name: str) -> int: ...

    def columns(self, schema: str, name: str) -> list[tuple[str, str]]: ...

    def table_checksum(self, schema: str, name: str) -> str: ...

    def export_parquet(self, sql: str, path: Path) -> None: ...

    def attach_parquet(self, schema: str, name: str, folder: Path | None) -> int: ...

    def close(self) -> None: ...


def check_identifier(*names: str) -> None:
    """Schema and table names go into SQL text unquoted: only plain identifiers are accepted."""
    for name in names:
        if not _IDENTIFIER.fullmatch(name):
            raise ValueError(f"not a plain SQL identifier: {name!r} (letters, digits and _ only)")


def arrow_table(data: pd.DataFrame | pa.Table) -> pa.Table:
    """The data as an Arrow table, whose column types decide the table's SQL types on every engine."""
    if isinstance(data, pa.Table):
        return data
    return pa.Table.from_pandas(data, preserve_index=False)


def parquet_files(folder: Path | None) -> list[Path]:
    """The Parquet files of a folder, in name order (none when there is no folder)."""
    return sorted(folder.glob("*.parquet")) if folder is not None and folder.is_dir() else []


class InformationSchemaTables:
    """table_exists, row_count and columns for engines with an information_schema, over the engine's one-value
    query ``scalar(sql, params)`` and its row query ``rows(sql, params)`` (each driver has its own parameter
    marker, given as ``marker``)."""

    marker = "?"

    def scalar(self, sql: str, params: list[object] | None = None) -> object: ...

    def rows(self, sql: str, params: list[object] | None = None) -> list[tuple]: ...

    def execute(self, sql: str) -> None: ...

    def table_exists(self, schema: str, name: str) -> bool:
        sql = f"select count(*) from information_schema.tables where table_schema = {self.marker} and table_name = {self.marker}"
        return bool(self.scalar(sql, [schema, name]))

    def row_count(self, schema: str, name: str) -> int:
        check_identifier(schema, name)
        return int(self.scalar(f"select count(*) from {schema}.{name}"))  # type: ignore[call-overload]

    def columns(self, schema: str, name: str) -> list[tuple[str, str]]:
        """(name, type) of every column, in table order (none when the table does not exist)."""
        sql = (
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = {self.marker} and table_name = {self.marker} order by ordinal_position"
        )
        return [(str(column), str(kind)) for column, kind in self.rows(sql, [schema, name])]

    def delete_where(self, schema: str, name: str, condition: str) -> None:
        check_identifier(schema, name)
        self.execute(f"delete from {schema}.{name} where {condition}")
