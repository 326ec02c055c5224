"""Tests of ``ingestion.loader`` against real DuckDB files in ``tmp_path``.

The main fixture loads a landing zone holding the whole corpus once per test module; most tests then assert on
the resulting tables. Tests that need their own landing zone (encodings, idempotency, crashes) build one in
``tmp_path``. Binary and non-UTF-8 files (gzip, truncated gzip, Parquet, GB18030, Latin-1, junk) are generated
here at test time instead of being committed, so that ``corpus/`` stays readable and diffable.
"""

from __future__ import annotations

import codecs
import gzip
import shutil
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from ingestion_helpers import (
    ORDERS_HEADER,
    Connect,
    assert_reconciles,
    one_file,
    order_rows,
    quarantine,
    rows,
)

from ingestion import loader
from ingestion.loader import SOURCES, FileResult, SourceLoadResult, ensure_schema, ingest_source

# ----------------------------------------------------------------------------------------------- corpus

CORPUS = Path(__file__).parent / "corpus"


def write_parquet(path: Path) -> None:
    """A Parquet export with native types, upper-case names, an extra column and two bad rows."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"""
        COPY (
            SELECT * FROM (VALUES
                ('P-001', 'C001', TIMESTAMPTZ '2025-04-09 10:00:00+02', 'completed', 'EUR', 10.50::DECIMAL(10,2),
                 1.5::DOUBLE, NULL::DECIMAL(10,2), 'online', 'Books', TIMESTAMP '2025-04-09 12:00:00', 7),
                ('P-002', 'C002', TIMESTAMPTZ '2025-04-09 23:30:00-05', 'Refunded', 'usd', 20.00, NULL, 8.00,
                 'store', 'Toys', NULL, NULL),
                ('P-003', 'C002', TIMESTAMPTZ '2025-04-09 10:00:00+00', 'completed', 'EUR', -1.00, 0, 0,
                 'store', 'Toys', NULL, 1),
                ('P-004', 'C003', TIMESTAMPTZ '2025-04-09 10:00:00+00', 'lost', 'EUR', 1.00, 0, 0,
                 'store', 'Toys', NULL, 1)
            ) AS t(ORDER_ID, Customer_Id, order_ts, status, currency, gross_amount, discount_amount,
                   cost_amount, channel, product_category, updated_at, loyalty_points)
        ) TO '{path}' (FORMAT parquet)
        """
    )
    con.close()


def build_orders_landing(landing: Path) -> None:
    """The orders corpus plus generated gzip, Parquet and broken files."""
    folder = landing / "orders"
    shutil.copytree(CORPUS / "orders", folder)
    gz_text = ORDERS_HEADER + "\n" + order_rows(2, "GZ")
    (folder / "orders_11.csv.gz").write_bytes(gzip.compress(gz_text.encode()))
    big = gzip.compress((ORDERS_HEADER + "\n" + order_rows(5000, "TR")).encode())
    (folder / "orders_12_truncated.csv.gz").write_bytes(big[: len(big) // 2])
    write_parquet(folder / "orders_13.parquet")
    (folder / "orders_14_not_parquet.parquet").write_bytes(
        (ORDERS_HEADER + "\n" + order_rows(1, "NP")).encode()
    )
    (folder / "orders_15_binary.csv").write_bytes(bytes(range(256)) * 4)
    shutil.copy(folder / "orders_03_quoted_newlines.csv", folder / "orders_16_copy_of_03.csv")
    (folder / "orders_18_workbook.csv").write_bytes(b"PK\x03\x04" + b"\x14\x00\x06\x00" * 20)


def build_landing(root: Path) -> Path:
    """A landing zone with every corpus file of all three sources; returns its path."""
    landing = root / "landing"
    build_orders_landing(landing)
    shutil.copytree(CORPUS / "contacts", landing / "contacts")
    shutil.copytree(CORPUS / "survey_responses", landing / "survey_responses")
    return landing


@pytest.fixture(scope="module")
def zone(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[duckdb.DuckDBPyConnection, dict[str, SourceLoadResult]]:
    """The whole corpus loaded once: (connection, result per source)."""
    root = tmp_path_factory.mktemp("zone")
    landing = build_landing(root)
    con = duckdb.connect(str(root / "build.duckdb"))
    messages: list[str] = []
    results = {s: ingest_source(con, s, landing, progress=messages.append) for s in SOURCES}
    assert len(messages) == sum(len(r.files) for r in results.values())
    yield con, results
    con.close()


def by_name(results: dict[str, SourceLoadResult]) -> dict[str, FileResult]:
    return {f.path.split("/", 1)[1]: f for r in results.values() for f in r.files}


# ----------------------------------------------------------------------------------------------- whole corpus


def test_every_file_reconciles_and_every_quarantine_row_has_a_reason(zone) -> None:
    con, results = zone
    assert_reconciles(con)
    for result in results.values():
        for f in result.files:
            assert f.rows_read == f.rows_loaded + f.rows_quarantined, f.path
            if f.status in ("loaded", "skipped"):
                assert len(f.content_hash) == 64
        assert result.rows_read == result.rows_loaded + result.rows_quarantined
    logged = rows(con, "SELECT count(*) FROM raw.ingestion_log")[0][0]
    assert logged == sum(len(r.files) - len(r.waiting_files) for r in results.values())  # waiting: not logged


def test_file_statuses(zone) -> None:
    _, results = zone
    status = {name: f.status for name, f in by_name(results).items()}
    assert status == {
        "orders_01_bom_semicolon.csv": "loaded",
        "orders_02_tab.tsv": "loaded",
        "orders_03_quoted_newlines.csv": "loaded",
        "orders_04_row_rules.csv": "loaded",
        "orders_05_duplicates.csv": "loaded",
        "orders_06_missing_columns.csv": "failed",
        "orders_07_extra_columns.csv": "loaded",
        "orders_08_header_only.csv": "loaded",
        "orders_09_empty.csv": "loaded",
        "orders_10.jsonl": "loaded",
        "orders_11.csv.gz": "loaded",
        "orders_12_truncated.csv.gz": "failed",
        "orders_13.parquet": "loaded",
        "orders_14_not_parquet.parquet": "failed",
        "orders_15_binary.csv": "failed",
        "orders_16_copy_of_03.csv": "skipped",
        "orders_17_notes.md": "ignored",
        "orders_18_workbook.csv": "failed",
        ".hidden_partial.csv": "waiting",
        "contacts_01.csv": "loaded",
        "survey_responses_01.csv": "loaded",
        "survey_responses_02.json": "loaded",
    }
    assert [f.path for f in results["orders"].files] == sorted(f.path for f in results["orders"].files)
    assert results["orders"].failed_files == [f for f in results["orders"].files if f.status == "failed"]
    assert {f.path for f in results["orders"].new_files} == {
        f"orders/{n}" for n, s in status.items() if s == "loaded" and n.startswith("orders")
    }


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("orders_06_missing_columns.csv", ["orders/orders_06_missing_columns.csv", "status, gross_amount"]),
        ("orders_12_truncated.csv.gz", ["orders/orders_12_truncated.csv.gz", "truncated", "re-deliver"]),
        (
            "orders_14_not_parquet.parquet",
            ["orders/orders_14_not_parquet.parquet", "not a Parquet file", "text"],
        ),
        ("orders_15_binary.csv", ["orders/orders_15_binary.csv", "binary"]),
        ("orders_18_workbook.csv", ["orders/orders_18_workbook.csv", "ZIP", "export"]),
    ],
)
def test_failed_files_say_which_file_and_what_is_wrong(zone, name: str, fragments: list[str]) -> None:
    con, results = zone
    f = by_name(results)[name]
    assert f.status == "failed"
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (0, 0, 0)
    for fragment in fragments:
        assert fragment.lower() in (f.error or "").lower()
    logged = rows(con, "SELECT status, error FROM raw.ingestion_log WHERE file = ?", [f.path])
    assert logged == [("failed", f.error)]
    assert rows(con, "SELECT count(*) FROM raw.quarantine WHERE file = ?", [f.path]) == [(0,)]


def test_failed_file_loads_nothing(zone) -> None:
    con, _ = zone
    assert rows(con, "SELECT count(*) FROM raw.orders WHERE order_id = 'G-001' OR order_id LIKE 'TR-%'") == [
        (0,)
    ]


def test_bom_semicolon_file_and_mixed_time_zones_normalized_to_utc(zone) -> None:
    con, _ = zone
    got = rows(
        con,
        """
        SELECT order_id, order_ts, updated_at, status, currency, gross_amount, discount_amount, cost_amount,
               product_category, _source_line
        FROM raw.orders WHERE _source_file = 'orders/orders_01_bom_semicolon.csv' ORDER BY order_id
        """,
    )
    assert got == [
        ("A-001", datetime(2025, 3, 30, 0, 30), datetime(2025, 3, 30, 1, 0), "completed", "EUR",
         Decimal("120.50"), Decimal("10.50"), Decimal("60.00"), "Books", 2),
        ("A-002", datetime(2025, 3, 30, 17, 0), None, "completed", "USD",
         Decimal("99.99"), None, None, "Garden", 3),
        ("A-003", datetime(2025, 3, 30, 12, 0), datetime(2025, 3, 31, 8, 0), "pending", "GBP",
         Decimal("10.00"), Decimal("0.00"), Decimal("5.00"), "Toys, games", 4),
        ("A-004", datetime(2025, 3, 30, 0, 0), datetime(2025, 4, 2, 0, 0), "refunded", "EUR",
         Decimal("50.00"), Decimal("5.00"), None, "Books", 5),
        ("A-005", datetime(2025, 3, 30, 18, 0, 0, 500000), datetime(2025, 3, 30, 18, 0, 0, 500000), "cancelled",
         "JPY", Decimal("1000.00"), Decimal("0.00"), Decimal("400.00"), "Kitchen", 6),
    ]  # fmt: skip


def test_tab_separated_file(zone) -> None:
    con, _ = zone
    got = rows(
        con,
        "SELECT order_id, product_category, discount_amount, updated_at FROM raw.orders "
        "WHERE _source_file = 'orders/orders_02_tab.tsv' ORDER BY order_id",
    )
    assert got == [
        ("B-001", "Books, used", Decimal("0.00"), datetime(2025, 4, 1, 9)),
        ("B-002", "Garden; outdoor", None, None),
    ]


def test_quoted_newlines_keep_values_and_physical_line_numbers(zone) -> None:
    con, _ = zone
    got = rows(
        con,
        "SELECT order_id, product_category, _source_line FROM raw.orders "
        "WHERE _source_file = 'orders/orders_03_quoted_newlines.csv' ORDER BY _source_line",
    )
    assert got == [("C-001", "Books\nand more", 2), ("C-003", "multi\nline\nvalue", 5), ("C-004", "plain", 8)]
    assert quarantine(con, "orders/orders_03_quoted_newlines.csv") == [
        (4, "gross_amount", "1,5", "gross_amount is not a number; use digits with a dot as decimal "
         "separator and no thousands separator, e.g. 1234.50"),
    ]  # fmt: skip


def test_every_row_rule_is_quarantined_with_its_reason(zone) -> None:
    con, results = zone
    f = by_name(results)["orders_04_row_rules.csv"]
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (18, 2, 16)
    loaded = rows(
        con,
        "SELECT order_id, currency, gross_amount, _source_line FROM raw.orders "
        "WHERE _source_file = ? ORDER BY _source_line",
        [f.path],
    )
    assert loaded == [("D-001", "EUR", Decimal("10.00"), 2), ("D-017", "USD", Decimal("0.00"), 19)]
    got = [
        (line, column, value, reason.split(";")[0]) for line, column, value, reason in quarantine(con, f.path)
    ]
    assert got == [
        (3, "order_id", None, "order_id is empty"),
        (4, "order_ts", "2025-13-45T10:00:00Z", "order_ts is not a valid timestamp"),
        (5, "gross_amount", "ten", "gross_amount is not a number"),
        (6, "gross_amount", "-5.00", "gross_amount is negative"),  # and no noise about the discount
        (7, "discount_amount", "-1", "discount_amount is negative"),
        (8, "cost_amount", "-2.5", "cost_amount is negative"),
        (9, "discount_amount", "12.00", "discount_amount is greater than gross_amount"),
        (10, "status", "shipped", "status is not one of completed, cancelled, refunded, pending (case-insensitive)"),
        (11, "currency", "EURO", "currency is not a 3-letter ISO 4217 code such as EUR or USD"),
        (12, None, None, "malformed CSV line: it has more fields than expected (Expected Number of Columns: 11 "
         "Found: 12)"),
        (13, None, None, "malformed CSV line: it has fewer fields than expected (Expected Number of Columns: 11 "
         "Found: 5)"),
        # line 14 is blank: not a row, not counted, but it keeps its line number
        (15, "updated_at", "not-a-date", "updated_at is not a valid timestamp"),
        (16, "customer_id", None, "customer_id is empty"),
        (17, "order_ts", None, "order_ts is empty"),
        (18, "cost_amount", "y", "cost_amount is not a number"),  # one quarantine row per broken rule
        (18, "currency", "US1", "currency is not a 3-letter ISO 4217 code such as EUR or USD"),
        (18, "discount_amount", "x", "discount_amount is not a number"),
        (18, "gross_amount", "abc", "gross_amount is not a number"),
        (20, None, None, "malformed CSV line: a quoted value is not closed properly"),
    ]  # fmt: skip
    reasons = {line: reason for line, _, _, reason in quarantine(con, f.path)}
    assert "the header has 11 columns; check the comma delimiters" in reasons[12]
    raw_records = dict(rows(con, "SELECT line, raw_record FROM raw.quarantine WHERE file = ?", [f.path]))
    assert raw_records[12] == "D-011,C001,2025-04-05T10:00:00Z,completed,EUR,10.00,0,5,online,Books,,extra"
    assert '"currency":"EURO"' in raw_records[11]


def test_duplicate_keys_within_and_across_files_are_all_loaded(zone) -> None:
    con, _ = zone
    got = rows(
        con,
        "SELECT order_id, status, updated_at, _source_file, _source_line FROM raw.orders "
        "WHERE order_id IN ('E-001', 'A-001') ORDER BY order_id, _file_id, _source_line",
    )
    assert got == [
        ("A-001", "completed", datetime(2025, 3, 30, 1), "orders/orders_01_bom_semicolon.csv", 2),
        ("A-001", "refunded", datetime(2025, 4, 10), "orders/orders_05_duplicates.csv", 4),
        ("E-001", "pending", datetime(2025, 4, 6, 10), "orders/orders_05_duplicates.csv", 2),
        ("E-001", "completed", datetime(2025, 4, 7, 10), "orders/orders_05_duplicates.csv", 3),
    ]
    ids = rows(con, "SELECT DISTINCT _source_file, _file_id FROM raw.orders ORDER BY _file_id")
    assert [file for file, _ in ids] == sorted(file for file, _ in ids), "file ids increase with load order"


def test_file_id_and_line_identify_every_raw_row(zone) -> None:
    """The staging models pick each key's latest version by ranking (_file_id, _source_line) alone and joining the
    winners back (dbt macro `deduplicated`): that pair must be set and unique in every raw table, whatever the
    format (quoted line breaks, JSON arrays, Parquet records, blank lines, rejected lines)."""
    con, _ = zone
    for source in SOURCES:
        total, unidentified, distinct = rows(
            con,
            f"SELECT count(*), count(*) FILTER (WHERE _file_id IS NULL OR _source_line IS NULL), "
            f"count(DISTINCT (_file_id, _source_line)) FROM raw.{source}",
        )[0]
        assert total > 0, source
        assert unidentified == 0, source
        assert distinct == total, source


def test_extra_columns_are_kept_in_extra(zone) -> None:
    con, results = zone
    f = by_name(results)["orders_07_extra_columns.csv"]
    assert f.extra_columns == ["Coupon Code", "warehouse"]
    got = rows(
        con, "SELECT order_id, _extra::VARCHAR FROM raw.orders WHERE _source_file = ? ORDER BY 1", [f.path]
    )
    assert got == [
        ("H-001", '{"Coupon Code":"SPRING10","warehouse":null}'),
        ("H-002", '{"Coupon Code":null,"warehouse":"Berlin, DE"}'),
    ]
    assert rows(con, "SELECT extra_columns FROM raw.ingestion_log WHERE file = ?", [f.path]) == [
        (["Coupon Code", "warehouse"],)
    ]
    no_extra = rows(
        con, "SELECT count(*) FROM raw.orders WHERE _source_file LIKE '%orders_01%' AND _extra IS NULL"
    )
    assert no_extra == [(5,)]


def test_empty_and_header_only_files_load_zero_rows(zone) -> None:
    con, results = zone
    for name in ("orders_08_header_only.csv", "orders_09_empty.csv"):
        f = by_name(results)[name]
        assert (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined, f.error) == (
            "loaded",
            0,
            0,
            0,
            None,
        )


def test_json_lines(zone) -> None:
    con, results = zone
    f = by_name(results)["orders_10.jsonl"]
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (6, 2, 4)
    assert f.extra_columns == ["meta"]
    loaded = rows(
        con,
        "SELECT order_id, customer_id, order_ts, status, currency, gross_amount, _source_line, _extra->>'$.meta' "
        "FROM raw.orders WHERE _source_file = ? ORDER BY _source_line",
        [f.path],
    )
    assert loaded == [
        (
            "F-001",
            "C001",
            datetime(2025, 4, 8, 8),
            "completed",
            "EUR",
            Decimal("12.50"),
            1,
            '{"campaign":"spring"}',
        ),
        ("F-002", "C002", datetime(2025, 4, 8), "pending", "USD", Decimal("7.00"), 2, None),
    ]
    got = [(line, column, reason.split(";")[0]) for line, column, _, reason in quarantine(con, f.path)]
    assert got == [
        (3, None, "the line is not valid JSON"),
        (5, None, "the record is valid JSON but not an object"),  # line 4 is blank
        (6, "order_ts", "order_ts is not a valid timestamp"),
        (7, "discount_amount", "discount_amount is greater than gross_amount"),
    ]


def test_gzip_csv(zone) -> None:
    con, _ = zone
    got = rows(
        con, "SELECT order_id, _source_line FROM raw.orders WHERE _source_file = 'orders/orders_11.csv.gz'"
    )
    assert sorted(got) == [("GZ-1", 2), ("GZ-2", 3)]


def test_parquet_with_native_types(zone) -> None:
    con, results = zone
    f = by_name(results)["orders_13.parquet"]
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (4, 2, 2)
    assert f.extra_columns == ["loyalty_points"]
    got = rows(
        con,
        "SELECT order_id, customer_id, order_ts, status, currency, gross_amount, discount_amount, cost_amount, "
        "updated_at, _source_line, _extra::VARCHAR FROM raw.orders WHERE _source_file = ? ORDER BY order_id",
        [f.path],
    )
    assert got == [
        ("P-001", "C001", datetime(2025, 4, 9, 8), "completed", "EUR", Decimal("10.50"), Decimal("1.50"), None,
         datetime(2025, 4, 9, 12), 1, '{"loyalty_points":7}'),
        ("P-002", "C002", datetime(2025, 4, 10, 4, 30), "refunded", "USD", Decimal("20.00"), None, Decimal("8.00"),
         None, 2, '{"loyalty_points":null}'),
    ]  # fmt: skip
    assert [(line, column) for line, column, _, _ in quarantine(con, f.path)] == [
        (3, "gross_amount"),
        (4, "status"),
    ]


def test_same_content_under_another_name_is_skipped(zone) -> None:
    con, results = zone
    f = by_name(results)["orders_16_copy_of_03.csv"]
    assert (f.status, f.rows_read, f.rows_loaded) == ("skipped", 0, 0)
    assert f.content_hash == by_name(results)["orders_03_quoted_newlines.csv"].content_hash
    assert "orders/orders_03_quoted_newlines.csv" in (f.error or "")
    assert rows(con, "SELECT count(*) FROM raw.orders WHERE _source_file = ?", [f.path]) == [(0,)]


def test_contacts_booleans_dates_and_rules(zone) -> None:
    con, _ = zone
    got = rows(
        con,
        "SELECT contact_id, email, is_primary, email_opt_in, birthday, created_at, updated_at, _source_line "
        "FROM raw.contacts ORDER BY _source_line",
    )
    assert got == [
        ("K-001", "Ann.Lee@Example.com", True, True, datetime(1980, 5, 17).date(), datetime(2024, 1, 1),
         datetime(2025, 1, 1), 2),
        ("K-002", "bo@example.com", False, False, None, datetime(2024, 1, 1), datetime(2025, 1, 1), 3),
        ("K-003", None, True, False, None, datetime(2024, 2, 1), datetime(2024, 2, 1), 4),
        ("K-001", "ann.lee@example.com", True, False, datetime(1980, 5, 17).date(), datetime(2024, 1, 1),
         datetime(2025, 2, 1), 9),
    ]  # fmt: skip
    got = [(line, column, value) for line, column, value, _ in quarantine(con, "contacts/contacts_01.csv")]
    assert got == [(5, "is_primary", "maybe"), (6, "contact_id", None), (7, "birthday", "31/12/1990"),
                   (8, "created_at", "2024-02-30")]  # fmt: skip


def test_survey_rules(zone) -> None:
    con, _ = zone
    got = rows(
        con,
        "SELECT response_id, nps_score, csat_product, csat_service, csat_price, is_complaint, comment, _source_line "
        "FROM raw.survey_responses ORDER BY _source_file, _source_line",
    )
    assert got == [
        ("S-001", 9, 5, 4, 3, False, "Great service, 谢谢! 👍", 2),
        ("S-002", 6, None, None, None, True, "Late.\nSecond line.", 3),
        ("S-010", 10, 5, None, 1, True, None, 12),
        ("S-011", 0, 1, 1, 1, False, None, 13),
        ("S-012", 7, 3, 3, 3, False, None, 14),
        ("S-100", 8, None, None, None, False, None, 1),  # .json array: record number
    ]
    got = [
        (line, column, reason)
        for line, column, _, reason in quarantine(con, "survey_responses/survey_responses_01.csv")
    ]
    assert got == [
        (5, "nps_score", "nps_score is outside the allowed range 0 to 10"),
        (6, "nps_score", "nps_score is not a whole number; nps_score must be a whole number from 0 to 10"),
        (7, "csat_product", "csat_product is outside the allowed range 1 to 5"),
        (7, "csat_service", "csat_service is outside the allowed range 1 to 5"),
        (8, "is_complaint", "is_complaint is not a boolean; use true/false, yes/no, 1/0 or t/f"),
        (9, "response_id", "response_id is empty; every survey_responses row needs its key response_id; fill it "
         "in the export"),
        (10, "submitted_at", "submitted_at is empty; it is required"),
        (11, "nps_score", "nps_score is empty; it is required"),
    ]  # fmt: skip


def test_schema_as_built(zone) -> None:
    con, _ = zone
    types = dict(
        rows(
            con,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = 'orders'",
        )
    )
    assert types == {
        "order_id": "VARCHAR", "customer_id": "VARCHAR", "order_ts": "TIMESTAMP", "status": "VARCHAR",
        "currency": "VARCHAR", "gross_amount": "DECIMAL(18,2)", "discount_amount": "DECIMAL(18,2)",
        "cost_amount": "DECIMAL(18,2)", "channel": "VARCHAR", "product_category": "VARCHAR",
        "updated_at": "TIMESTAMP", "_file_id": "BIGINT", "_source_file": "VARCHAR", "_source_line": "BIGINT",
        "_loaded_at": "TIMESTAMP", "_extra": "JSON",
    }  # fmt: skip
    ensure_schema(con)  # idempotent
    tables = {
        t for (t,) in rows(con, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'")
    }
    assert tables == {"orders", "contacts", "survey_responses", "quarantine", "ingestion_log"}
    assert rows(con, "SELECT count(*) FROM duckdb_tables() WHERE temporary") == [(0,)], (
        "temp tables left behind"
    )


def test_session_settings_are_restored(tmp_path: Path, connect: Connect) -> None:
    con = connect()
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    ingest_source(con, "orders", tmp_path / "nowhere")
    assert rows(con, "SELECT current_setting('TimeZone')") == [("Asia/Shanghai",)]


# ----------------------------------------------------------------------------------------------- idempotency


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {
        table: sorted(rows(con, f"SELECT * FROM raw.{table}"), key=repr) for table in (*SOURCES, "quarantine")
    }


def test_loading_the_landing_zone_twice_changes_nothing(tmp_path: Path, connect: Connect) -> None:
    landing = build_landing(tmp_path)
    con = connect()
    first = {s: ingest_source(con, s, landing) for s in SOURCES}
    before = snapshot(con)
    second = {s: ingest_source(con, s, landing) for s in SOURCES}
    assert snapshot(con) == before
    for source in SOURCES:
        assert second[source].rows_loaded == 0
        assert second[source].new_files == []
        # failed files are retried (and fail again), waiting and ignored entries stay so; the rest is skipped
        assert {f.path: f.status for f in second[source].files} == {
            f.path: (f.status if f.status in ("failed", "waiting", "ignored") else "skipped")
            for f in first[source].files
        }
    assert_reconciles(con)


def test_failed_file_is_retried_once_fixed(tmp_path: Path, connect: Connect) -> None:
    landing = tmp_path / "landing"
    (landing / "orders").mkdir(parents=True)
    broken = landing / "orders" / "orders.csv"
    broken.write_text("order_id,customer_id,order_ts\nX-1,C1,2025-01-01\n")
    con = connect()
    assert ingest_source(con, "orders", landing).files[0].status == "failed"
    broken.write_text(ORDERS_HEADER + "\n" + order_rows(3))
    again = ingest_source(con, "orders", landing)
    assert [(f.status, f.rows_loaded) for f in again.files] == [("loaded", 3)]
    assert rows(con, "SELECT status FROM raw.ingestion_log ORDER BY file_id") == [("failed",), ("loaded",)]


def test_a_crash_mid_file_leaves_nothing_half_loaded(
    tmp_path: Path, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    (landing / "orders").mkdir(parents=True)
    (landing / "orders" / "a.csv").write_text(
        ORDERS_HEADER + "\n" + order_rows(3, "A") + "A-9,C1,bad,x,EUR,1,,,,,\n"
    )
    (landing / "orders" / "b.csv").write_text(ORDERS_HEADER + "\n" + order_rows(2, "B"))
    con = connect()
    real_insert = loader._insert_rows

    def crash_after_raw_rows(con, contract, staged, rel, file_id, loaded_at):
        real_insert(con, contract, staged, rel, file_id, loaded_at)  # raw + quarantine rows written ...
        raise KeyboardInterrupt("simulated crash")  # ... but the log row is not

    monkeypatch.setattr(loader, "_insert_rows", crash_after_raw_rows)
    with pytest.raises(KeyboardInterrupt):
        ingest_source(con, "orders", landing)
    assert rows(con, "SELECT count(*) FROM raw.orders") == [(0,)]
    assert rows(con, "SELECT count(*) FROM raw.quarantine") == [(0,)]
    assert rows(con, "SELECT count(*) FROM raw.ingestion_log WHERE status = 'loaded'") == [(0,)]
    monkeypatch.undo()
    result = ingest_source(con, "orders", landing)
    assert [(f.status, f.rows_loaded, f.rows_quarantined) for f in result.files] == [
        ("loaded", 3, 1),
        ("loaded", 2, 0),
    ]
    assert_reconciles(con)


# ----------------------------------------------------------------------------------------------- encodings

CONTACTS_HEADER = "contact_id,customer_id,full_name,email,city,comment_extra"


def contacts_text() -> str:
    return (
        CONTACTS_HEADER
        + "\n"
        + "K-1,C1,张伟,zw@example.com,北京,\n"
        + "K-2,C2,Zoë Müller,zm@example.com,Köln,très bien\n"
    )


def parquet_landing(tmp_path: Path, name: str, select_sql: str) -> Path:
    """A landing zone with one orders Parquet file written by DuckDB from `select_sql`."""
    path = tmp_path / name
    con = duckdb.connect()
    con.execute(f"COPY ({select_sql}) TO '{path}'")
    con.close()
    return one_file(tmp_path, "orders", name, path.read_bytes())


def test_gb18030_with_the_encoding_setting(tmp_path: Path, connect: Connect) -> None:
    landing = one_file(tmp_path, "contacts", "crm.csv", contacts_text().encode("gb18030"))
    con = connect()
    result = ingest_source(con, "contacts", landing, encoding="gb18030")
    assert [f.status for f in result.files] == ["loaded"]
    assert rows(con, "SELECT full_name, city FROM raw.contacts ORDER BY contact_id") == [
        ("张伟", "北京"),
        ("Zoë Müller", "Köln"),
    ]


def test_gb18030_without_the_setting_fails_with_offset_and_setting_name(
    tmp_path: Path, connect: Connect
) -> None:
    data = contacts_text().encode("gb18030")
    landing = one_file(tmp_path, "contacts", "crm.csv", data)
    result = ingest_source(connect(), "contacts", landing)
    (f,) = result.files
    assert f.status == "failed"
    offset = len((CONTACTS_HEADER + "\nK-1,C1,").encode())
    assert "contacts/crm.csv" in f.error
    assert f"byte offset {offset}" in f.error
    assert "UTF-8" in f.error and "C360_CONTACTS_ENCODING" in f.error


def test_latin1_with_and_without_the_setting(tmp_path: Path, connect: Connect) -> None:
    text = contacts_text().replace("K-1,C1,张伟,zw@example.com,北京,\n", "")
    landing = one_file(tmp_path, "contacts", "crm.csv", text.encode("latin-1"))
    con = connect()
    failed = ingest_source(con, "contacts", landing).files[0]
    assert failed.status == "failed" and "C360_CONTACTS_ENCODING" in failed.error
    offset = text.encode("latin-1").index("ë".encode("latin-1"))
    assert f"byte offset {offset}" in failed.error
    loaded = ingest_source(con, "contacts", landing, encoding="latin-1").files[0]
    assert (loaded.status, loaded.rows_loaded) == ("loaded", 1)
    assert rows(con, "SELECT full_name, city, _extra->>'$.comment_extra' FROM raw.contacts") == [
        ("Zoë Müller", "Köln", "très bien")
    ]


def test_gzip_of_gb18030_text(tmp_path: Path, connect: Connect) -> None:
    landing = one_file(tmp_path, "contacts", "crm.csv.gz", gzip.compress(contacts_text().encode("gb18030")))
    con = connect()
    assert ingest_source(con, "contacts", landing, encoding="gb18030").files[0].rows_loaded == 2
    assert rows(con, "SELECT city FROM raw.contacts ORDER BY 1") == [("Köln",), ("北京",)]


def test_wrong_encoding_setting_is_named_in_the_error(tmp_path: Path, connect: Connect) -> None:
    data = (CONTACTS_HEADER + "\nK-1,C1,x,y@example.com,").encode() + b"\xff\xff\n"
    landing = one_file(tmp_path, "contacts", "crm.csv", data)
    f = ingest_source(connect(), "contacts", landing, encoding="gb18030").files[0]
    assert f.status == "failed"
    assert "gb18030" in f.error and "C360_CONTACTS_ENCODING" in f.error and "byte offset" in f.error


def test_utf8_bom_wins_over_the_encoding_setting(tmp_path: Path, connect: Connect) -> None:
    landing = one_file(tmp_path, "contacts", "crm.csv", codecs.BOM_UTF8 + contacts_text().encode())
    con = connect()
    assert ingest_source(con, "contacts", landing, encoding="latin-1").files[0].rows_loaded == 2
    assert rows(con, "SELECT city FROM raw.contacts ORDER BY 1") == [("Köln",), ("北京",)]


def test_unknown_source_or_encoding_is_a_configuration_error(tmp_path: Path, connect: Connect) -> None:
    with pytest.raises(ValueError, match="unknown source"):
        ingest_source(connect(), "invoices", tmp_path)
    with pytest.raises(ValueError, match="C360_ORDERS_ENCODING"):
        ingest_source(connect(), "orders", tmp_path, encoding="klingon")


# ----------------------------------------------------------------------------------------------- odd CSV shapes


def test_crlf_line_endings_with_quoted_breaks_and_a_bad_line(tmp_path: Path, connect: Connect) -> None:
    text = (
        ORDERS_HEADER + "\r\n"
        + "R-1,C1,2025-01-01,completed,EUR,1,0,0,online,\"two\r\nlines\",\r\n"
        + "R-2,C1,2025-01-01,completed,EUR,1\r\n"
        + "\r\n"
        + "R-3,C1,2025-01-01,completed,EUR,1,0,0,online,x,\r\n"
    )  # fmt: skip
    landing = one_file(tmp_path, "orders", "crlf.csv", text.encode())
    con = connect()
    f = ingest_source(con, "orders", landing).files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (3, 2, 1)
    assert rows(con, "SELECT order_id, _source_line FROM raw.orders ORDER BY 2") == [("R-1", 2), ("R-3", 6)]
    assert quarantine(con, "orders/crlf.csv")[0][0] == 4
    assert_reconciles(con)


def test_line_numbers_in_a_file_read_in_parallel(tmp_path: Path, connect: Connect) -> None:
    """Enough rows for DuckDB's parallel CSV reader; bad lines, blank lines and quoted breaks scattered."""
    n = 120_000
    lines = [ORDERS_HEADER]
    for i in range(1, n + 1):
        if i % 20_000 == 0:
            lines.append(f"B-{i},C1,2025-01-01,completed,EUR,1,0")  # too few fields
        elif i % 30_001 == 0:
            lines.append("")
        elif i == 77_777:
            lines.append(f'L-{i},C1,2025-01-01,completed,EUR,1,0,0,online,"a\nb\nc",')
        else:
            lines.append(f"L-{i},C1,2025-01-01,completed,EUR,1,0,0,online,x,")
    text = "\n".join(lines) + "\n"
    landing = one_file(tmp_path, "orders", "big.csv", text.encode())
    con = connect()
    con.execute("SET threads = 4")
    f = ingest_source(con, "orders", landing).files[0]
    physical = {}
    line_no = 0
    for entry in lines:
        line_no += 1
        if entry.startswith(("L-", "B-")):
            physical[entry.split(",")[0]] = line_no
        line_no += entry.count("\n")
    expected_bad = [line for key, line in physical.items() if key.startswith("B-")]
    assert f.rows_quarantined == len(expected_bad) == 6
    assert [line for line, *_ in quarantine(con, "orders/big.csv")] == expected_bad
    wrong = [
        (order_id, line, physical[order_id])
        for order_id, line in rows(con, "SELECT order_id, _source_line FROM raw.orders")
        if physical[order_id] != line
    ]
    assert wrong == []
    assert f.rows_loaded == n - len(expected_bad) - sum(1 for e in lines if e == "")


def test_a_file_with_only_a_too_short_header_fails_with_the_delimiter_hint(
    tmp_path: Path, connect: Connect
) -> None:
    landing = one_file(tmp_path, "orders", "pipes.csv", b"order_id|customer_id|order_ts\nX|C|2025-01-01\n")
    f = ingest_source(connect(), "orders", landing).files[0]
    assert f.status == "failed"
    assert "missing required column(s)" in f.error and "comma, semicolon or tab" in f.error


def test_duplicate_column_names_fail(tmp_path: Path, connect: Connect) -> None:
    landing = one_file(tmp_path, "orders", "dup.csv", (ORDERS_HEADER + ",Order_ID\n").encode())
    f = ingest_source(connect(), "orders", landing).files[0]
    assert f.status == "failed" and "appears twice" in f.error


def test_truncated_parquet_fails(tmp_path: Path, connect: Connect) -> None:
    good = tmp_path / "good.parquet"
    write_parquet(good)
    landing = one_file(tmp_path, "orders", "cut.parquet", good.read_bytes()[:-100])
    f = ingest_source(connect(), "orders", landing).files[0]
    assert f.status == "failed" and "truncated" in f.error


def test_gzip_named_csv_and_csv_named_gz(tmp_path: Path, connect: Connect) -> None:
    data = (ORDERS_HEADER + "\n" + order_rows(1)).encode()
    landing = one_file(tmp_path, "orders", "a.csv", gzip.compress(data))
    (landing / "orders" / "b.csv.gz").write_bytes(data)
    a, b = ingest_source(connect(), "orders", landing).files
    assert a.status == "failed" and "gzip-compressed" in a.error
    assert b.status == "failed" and "not valid gzip" in b.error


def test_progress_reports_counts_per_file(tmp_path: Path, connect: Connect) -> None:
    landing = one_file(tmp_path, "orders", "a.csv", (ORDERS_HEADER + "\n" + order_rows(1234)).encode())
    messages: list[str] = []
    ingest_source(connect(), "orders", landing, progress=messages.append)
    assert len(messages) == 1
    assert messages[0].startswith("orders/a.csv: 1,234 rows loaded, 0 quarantined (")


def test_missing_source_folder_is_not_an_error(tmp_path: Path, connect: Connect) -> None:
    assert ingest_source(connect(), "survey_responses", tmp_path).files == []


def test_blank_lines_inside_quoted_values_and_between_rows(tmp_path: Path, connect: Connect) -> None:
    header = "response_id,submitted_at,nps_score,comment"
    text = (
        f"{header}\n"
        'S-1,2025-01-01,9,"first paragraph\n\nsecond paragraph"\n'  # lines 2-4
        "\n"  # line 5: blank
        "S-2,2025-01-01,x,plain\n"  # line 6: bad nps
        "   \n"  # line 7: only spaces
        "S-3,2025-01-01,7,\n"  # line 8
        "\n\n"  # trailing blank lines
    )
    landing = one_file(tmp_path, "survey_responses", "s.csv", text.encode())
    con = connect()
    f = ingest_source(con, "survey_responses", landing).files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (3, 2, 1)
    assert rows(con, "SELECT response_id, comment, _source_line FROM raw.survey_responses ORDER BY 3") == [
        ("S-1", "first paragraph\n\nsecond paragraph", 2),
        ("S-3", None, 8),
    ]
    assert [(line, column) for line, column, *_ in quarantine(con, "survey_responses/s.csv")] == [
        (6, "nps_score")
    ]
    assert_reconciles(con)


def test_parquet_with_unexpected_column_types(tmp_path: Path, connect: Connect) -> None:
    """Types that cannot be cast directly go through text, so bad values are quarantined, not fatal."""
    landing = parquet_landing(
        tmp_path,
        "odd.parquet",
        """
        SELECT * FROM (VALUES
            ('Q-1', 'C1', 1700000000, 'completed', 'EUR', '12.50', [1, 2], {'a': 1}),
            ('Q-2', 'C1', 1700000000, 'completed', 'EUR', 'abc', [3], {'a': 2})
        ) AS t(order_id, customer_id, order_ts, status, currency, gross_amount, tags, meta)
        """,
    )
    con = connect()
    f = ingest_source(con, "orders", landing).files[0]
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) == ("loaded", 2, 0, 2)
    assert f.extra_columns == ["tags", "meta"]
    got = [(line, column, value) for line, column, value, _ in quarantine(con, "orders/odd.parquet")]
    assert got == [(1, "order_ts", "1700000000"), (2, "gross_amount", "abc"), (2, "order_ts", "1700000000")]
    assert_reconciles(con)


def test_parquet_native_values_in_quarantine_reasons(tmp_path: Path, connect: Connect) -> None:
    """Typed Parquet values skip the text pass, but a broken rule still shows the delivered value."""
    landing = parquet_landing(
        tmp_path,
        "typed.parquet",
        """
        SELECT order_id, customer_id, order_ts::TIMESTAMP AS order_ts, status, currency,
               gross_amount::DECIMAL(18,2) AS gross_amount, discount_amount::DECIMAL(18,2) AS discount_amount
        FROM (VALUES
            ('T-1', 'C1', '2025-01-01 10:00:00', 'completed', 'EUR', '10.00', '1.00'),
            ('T-2', 'C1', '2025-01-01 10:00:00', 'completed', 'EUR', '-5.25', NULL),
            ('T-3', 'C1', '2025-01-01 10:00:00', 'completed', 'EUR', '10.00', '12.50'),
            ('T-4', 'C1', NULL, 'completed', 'EUR', NULL, NULL)
        ) AS t(order_id, customer_id, order_ts, status, currency, gross_amount, discount_amount)
        """,
    )
    con = connect()
    f = ingest_source(con, "orders", landing).files[0]
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) == ("loaded", 4, 1, 3)
    got = quarantine(con, "orders/typed.parquet")
    assert [(line, column, value) for line, column, value, _ in got] == [
        (2, "gross_amount", "-5.25"),
        (3, "discount_amount", "12.50"),
        (4, "gross_amount", None),
        (4, "order_ts", None),
    ]
    reasons = {(line, column): reason for line, column, _, reason in got}
    assert reasons[(2, "gross_amount")] == "gross_amount is negative; amounts must be >= 0"
    assert "discount_amount is greater than gross_amount" in reasons[(3, "discount_amount")]
    assert reasons[(4, "order_ts")].startswith("order_ts is empty")
    assert reasons[(4, "gross_amount")].startswith("gross_amount is empty")
    assert_reconciles(con)


def test_gzipped_json_lines_and_an_empty_json_array(tmp_path: Path, connect: Connect) -> None:
    record = '{"response_id": "S-1", "submitted_at": "2025-01-01T00:00:00+01:00", "nps_score": 10}\n'
    landing = one_file(tmp_path, "survey_responses", "a.jsonl.gz", gzip.compress(record.encode()))
    (landing / "survey_responses" / "b.json").write_text("[]\n")
    con = connect()
    a, b = ingest_source(con, "survey_responses", landing).files
    assert (a.status, a.rows_loaded) == ("loaded", 1)
    assert (b.status, b.rows_read) == ("loaded", 0)
    assert rows(con, "SELECT response_id, submitted_at, nps_score FROM raw.survey_responses") == [
        ("S-1", datetime(2024, 12, 31, 23), 10)
    ]


def test_utf16_export_is_read_by_its_byte_order_mark(tmp_path: Path, connect: Connect) -> None:
    """A byte order mark says which encoding a file is in, whatever the source's setting says."""
    data = (ORDERS_HEADER + "\n" + order_rows(2)).encode("utf-16")
    landing = one_file(tmp_path, "orders", "excel.csv", data)
    (landing / "orders" / "excel-be.csv").write_bytes(
        codecs.BOM_UTF16_BE + (ORDERS_HEADER + "\n" + order_rows(3, "BE")).encode("utf-16-be")
    )
    con = connect()
    assert [
        (f.status, f.rows_loaded) for f in ingest_source(con, "orders", landing, encoding="latin-1").files
    ] == [
        ("loaded", 3),
        ("loaded", 2),
    ]
    assert rows(con, "SELECT count(*) FROM raw.orders WHERE order_id LIKE 'BE-%'") == [(3,)]


def test_utf16_without_byte_order_mark_needs_the_setting(tmp_path: Path, connect: Connect) -> None:
    data = (ORDERS_HEADER + "\n" + order_rows(2)).encode("utf-16-le")
    landing = one_file(tmp_path, "orders", "excel.csv", data)
    con = connect()
    failed = ingest_source(con, "orders", landing).files[0]
    assert (
        failed.status == "failed" and "C360_ORDERS_ENCODING=utf-16" in failed.error and "NUL" in failed.error
    )
    assert ingest_source(con, "orders", landing, encoding="utf-16-le").files[0].rows_loaded == 2
