"""Connections to the warehouse: the DuckDB build database by default, PostgreSQL or Spark through the same small
interface (:class:`Warehouse`), so that code outside dbt that reads or writes tables does not care which engine
holds them. ``connect`` is the DuckDB helper every DuckDB connection in a process goes through (DuckDB refuses a
second connection to the same file with a different configuration).

The PostgreSQL and Spark implementations import their drivers when they are used: psycopg is a dependency,
pyspark an optional extra (``pip install c360[spark]``).
"""

from __future__ import annotations

from warehouse.base import Warehouse, arrow_table, check_identifier
from warehouse.duckdb_warehouse import DuckDBWarehouse, connect

__all__ = ["DuckDBWarehouse", "Warehouse", "arrow_table", "check_identifier", "connect"]
