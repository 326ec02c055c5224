"""Helpers of the ingestion tests: small landing zones, queries on the raw schema, the counting invariants."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from ingestion.contracts import SOURCES

Connect = Callable[[], duckdb.DuckDBPyConnection]

ORDERS_HEADER = (
    "order_id,customer_id,order_ts,status,currency,gross_amount,discount_amount,cost_amount,channel,"
    "product_category,updated_at"
)


def order_rows(n: int, prefix: str = "X") -> str:
    """``n`` valid order lines (no header); order i is ``{prefix}-{i}`` with gross amount i."""
    return "".join(
        f"{prefix}-{i},C{i % 7},2025-05-01T10:00:00Z,completed,EUR,{i}.00,0,0,online,cat,\n"
        for i in range(1, n + 1)
    )


def one_file(tmp_path: Path, source: str, name: str, data: bytes) -> Path:
    """A landing zone in ``tmp_path`` with one file; returns the landing root."""
    landing = tmp_path / "landing"
    (landing / source).mkdir(parents=True)
    (landing / source / name).write_bytes(data)
    return landing


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def quarantine(con: duckdb.DuckDBPyConnection, file: str) -> list[tuple]:
    """(line, column_name, value, reason) of one file's quarantine rows, in line order."""
    return rows(
        con,
        "SELECT line, column_name, value, reason FROM raw.quarantine WHERE file = ? ORDER BY line, column_name",
        [file],
    )


def assert_reconciles(con: duckdb.DuckDBPyConnection) -> None:
    """The counting invariants, for every file in the ingestion log."""
    bad = rows(
        con,
        "SELECT file, rows_read, rows_loaded, rows_quarantined FROM raw.ingestion_log "
        "WHERE rows_read <> rows_loaded + rows_quarantined",
    )
    assert bad == []
    # the log agrees with the tables
    for source in SOURCES:
        mismatch = rows(
            con,
            f"""
            SELECT l.file, l.rows_loaded, count(r._file_id)
            FROM raw.ingestion_log l LEFT JOIN raw.{source} r ON r._file_id = l.file_id
            WHERE l.source = ? GROUP BY ALL HAVING l.rows_loaded <> count(r._file_id)
            """,
            [source],
        )
        assert mismatch == []
    mismatch = rows(
        con,
        """
        SELECT l.file, l.rows_quarantined, count(DISTINCT q.line)
        FROM raw.ingestion_log l LEFT JOIN raw.quarantine q ON q._file_id = l.file_id
        GROUP BY ALL HAVING l.rows_quarantined <> count(DISTINCT q.line)
        """,
    )
    assert mismatch == []
    # every quarantine row says what is wrong: its column, or the problem with the whole line
    unexplained = rows(
        con,
        """
        SELECT file, line, column_name, reason FROM raw.quarantine
        WHERE reason IS NULL OR length(trim(reason)) < 15
           OR (column_name IS NOT NULL AND NOT starts_with(reason, column_name))
           OR (column_name IS NULL AND NOT regexp_matches(reason, 'line|JSON|record'))
           OR line IS NULL OR raw_record IS NULL
        """,
    )
    assert unexplained == []
