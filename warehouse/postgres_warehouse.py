"""A PostgreSQL database as the warehouse (dbt target ``postgres``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.base import InformationSchemaTables, arrow_table, check_identifier


def postgres_type(arrow_type: pa.DataType) -> str:
    """The PostgreSQL column type for an Arrow type (the types c360's tables use)."""
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_int8(arrow_type) or pa.types.is_int16(arrow_type):
        return "smallint"
    if pa.types.is_int32(arrow_type):
        return "integer"
    if pa.types.is_int64(arrow_type):
        return "bigint"
    if pa.types.is_float32(arrow_type):
        return "real"
    if pa.types.is_float64(arrow_type):
        return "double precision"
    if pa.types.is_decimal(arrow_type):
        return f"numeric({arrow_type.precision}, {arrow_type.scale})"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "text"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp with time zone" if arrow_type.tz else "timestamp"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return postgres_type(arrow_type.value_type) + "[]"
    raise TypeError(f"no PostgreSQL column type for Arrow type {arrow_type}")


_ARROW_TYPES: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
}


class PostgresWarehouse(InformationSchemaTables):
    """One autocommit connection to a PostgreSQL database (psycopg 3), e.g. ``postgresql://user:pw@host/db``."""

    engine = "postgres"
    marker = "%s"

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.con = psycopg.connect(dsn, autocommit=True)

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def query(self, sql: str) -> pd.DataFrame:
        cur = self.con.execute(sql)
        columns = [column.name for column in cur.description or []]
        return pd.DataFrame(cur.fetchall(), columns=columns)

    def query_arrow(self, sql: str) -> pa.Table:
        """The result with Arrow types from the result's column types (not guessed from the values, so that an
        empty or all-null column keeps its type)."""
        cur = self.con.execute(sql)
        rows = cur.fetchall()
        arrays = {}
        for i, column in enumerate(cur.description or []):
            info = self.con.adapters.types.get(column.type_code)
            values = [row[i] for row in rows]
            arrow_type = _ARROW_TYPES.get(info.name if info else "")
            if info is not None and info.oid != column.type_code and arrow_type is not None:  # an array of it
                arrow_type = pa.list_(arrow_type)
            if info is not None and info.name == "numeric":
                arrow_type = pa.decimal128(38, column.scale) if column.scale is not None else None
            if arrow_type is None and all(value is None for value in values):
                arrow_type = (
                    pa.decimal128(38, 0) if info is not None and info.name == "numeric" else pa.string()
                )
            arrays[column.name] = pa.array(values, type=arrow_type)
        return pa.table(arrays)

    def write_table(self, schema: str, name: str, data: pd.DataFrame | pa.Table) -> None:
        """Replaces the table in one transaction: readers see the old or the new table, never an empty one."""
        self._copy_in(schema, name, data, replace=True)

    def append_table(self, schema: str, name: str, data: pd.DataFrame | pa.Table) -> None:
        self._copy_in(schema, name, data, replace=False)

    def _copy_in(self, schema: str, name: str, data: pd.DataFrame | pa.Table, *, replace: bool) -> None:
        check_identifier(schema, name)
        table = arrow_table(data)
        columns = ", ".join(f'"{field.name}" {postgres_type(field.type)}' for field in table.schema)
        names = ", ".join(f'"{field.name}"' for field in table.schema)
        with self.con.transaction(), self.con.cursor() as cur:
            cur.execute(f"create schema if not exists {schema}")
            if replace:
                cur.execute(f"drop table if exists {schema}.{name}")
            cur.execute(f"create table if not exists {schema}.{name} ({columns})")
            with cur.copy(f"copy {schema}.{name} ({names}) from stdin") as copy:
                for batch in table.to_batches(max_chunksize=50_000):
                    for row in zip(*(column.to_pylist() for column in batch.columns), strict=True):
                        copy.write_row(row)

    def table_checksum(self, schema: str, name: str) -> str:
        check_identifier(schema, name)
        rows, digest = self.con.execute(
            f"select count(*), coalesce(md5(string_agg(md5(t::text), '' order by md5(t::text))), '') "
            f"from {schema}.{name} as t"
        ).fetchone()  # type: ignore[misc]
        return f"{rows}:{digest}"

    def export_parquet(self, sql: str, path: Path) -> None:
        """Through Arrow in this process (PostgreSQL has no Parquet writer of its own)."""
        pq.write_table(self.query_arrow(sql), path, compression="zstd")

    def attach_parquet(self, schema: str, name: str, folder: Path | None) -> int:
        raise NotImplementedError(
            "PostgreSQL cannot read Parquet files in place; the pipeline runs on duckdb or spark "
            "(C360_DBT_TARGET), PostgreSQL is a dbt target and a publication target"
        )

    def scalar(self, sql: str, params: list[object] | None = None) -> object:
        row = self.con.execute(sql, params).fetchone()
        return row[0] if row else None

    def rows(self, sql: str, params: list[object] | None = None) -> list[tuple]:
        return self.con.execute(sql, params).fetchall()

    def close(self) -> None:
        self.con.close()
