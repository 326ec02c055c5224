"""Hostile landing files: every row and every folder entry accounted for, no value in any message.

Each test builds its own small landing zone in ``tmp_path`` and loads it into a throw-away DuckDB file. The
corpus files under ``corpus/hostile/`` are small text files that show a case; large, binary and special files
(long lines, FIFOs, links, other encodings) are made here at test time.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import socket
import threading
import time
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
from ingestion.contracts import CONTRACTS, MAX_AMOUNT, SOURCES
from ingestion.decode import MAX_LINE_BYTES
from ingestion.loader import SourceLoadResult, ensure_schema, ingest_source

HOSTILE = Path(__file__).parent / "corpus" / "hostile"


def copy_corpus(tmp_path: Path, source: str, *names: str) -> Path:
    """A landing zone with the named files of ``corpus/hostile/<source>/``."""
    landing = tmp_path / "landing"
    (landing / source).mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(HOSTILE / source / name, landing / source / name)
    return landing


def statuses(result: SourceLoadResult) -> dict[str, str]:
    return {f.path.split("/", 1)[1]: f.status for f in result.files}


# ----------------------------------------------------------------------------------------------- 1. long lines


@pytest.mark.parametrize("size", [MAX_LINE_BYTES + 1, 5 << 20, 40 << 20], ids=["max+1", "5MB", "40MB"])
def test_a_line_longer_than_the_maximum_is_quarantined_and_later_lines_keep_their_numbers(
    tmp_path: Path, connect: Connect, size: int
) -> None:
    """A line DuckDB's buffer cannot hold used to vanish (and shift every later line number by one)."""
    prefix = "L-2,C1,2025-01-01,completed,EUR,1,0,0,online,"
    long_line = (prefix + "x" * (size - len(prefix))).encode()
    assert len(long_line) == size
    data = (
        (ORDERS_HEADER + "\n" + order_rows(1, "A")).encode() + long_line + b"\n" + order_rows(2, "B").encode()
    )
    landing = one_file(tmp_path, "orders", "long.csv", data)
    con = connect()
    f = ingest_source(con, "orders", landing).files[0]
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) == ("loaded", 4, 3, 1)
    assert rows(con, "SELECT order_id, _source_line FROM raw.orders ORDER BY 2") == [
        ("A-1", 2),
        ("B-1", 4),
        ("B-2", 5),
    ]
    ((line, column, value, reason),) = quarantine(con, "orders/long.csv")
    assert (line, column, value) == (3, None, None)
    assert f"{MAX_LINE_BYTES:,} bytes" in reason and "longer than the maximum line size" in reason
    (raw_record,) = rows(con, "SELECT raw_record FROM raw.quarantine")[0]
    assert raw_record.startswith(prefix) and len(raw_record) <= 1024  # the start of the line, not all of it
    assert_reconciles(con)


def test_a_line_of_exactly_the_maximum_size_loads(tmp_path: Path, connect: Connect) -> None:
    prefix = "L-2,C1,2025-01-01,completed,EUR,1,0,0,online,"
    line = prefix + "x" * (MAX_LINE_BYTES - len(prefix) - 1) + ","
    for name, newline in (("lf.csv", "\n"), ("crlf.csv", "\r\n")):
        text = (
            ORDERS_HEADER
            + newline
            + line
            + newline
            + "L-3,C1,2025-01-01,completed,EUR,1,0,0,online,x,"
            + newline
        )
        (tmp_path / "landing" / "orders").mkdir(parents=True, exist_ok=True)
        (tmp_path / "landing" / "orders" / name).write_bytes(text.encode())
    con = connect()
    files = ingest_source(con, "orders", tmp_path / "landing").files
    assert [(f.status, f.rows_loaded, f.rows_quarantined) for f in files] == [
        ("loaded", 2, 0),
        ("loaded", 2, 0),
    ]
    assert rows(con, "SELECT max(length(product_category)) FROM raw.orders") == [
        (MAX_LINE_BYTES - len(prefix) - 1,)
    ]


def test_over_long_lines_in_json_lines_gzip_and_quoted_values(tmp_path: Path, connect: Connect) -> None:
    big = "y" * (MAX_LINE_BYTES + 10)
    jsonl = (
        '{"response_id": "S-1", "submitted_at": "2025-01-01", "nps_score": 9}\n'
        + '{"response_id": "S-2", "submitted_at": "2025-01-01", "nps_score": 9, "comment": "' + big + '"}\n'
        + '{"response_id": "S-3", "submitted_at": "2025-01-01", "nps_score": 7}\n'
    )  # fmt: skip
    landing = one_file(tmp_path, "survey_responses", "a.jsonl", jsonl.encode())
    csv_text = (
        "response_id,submitted_at,nps_score,comment\n"
        "S-4,2025-01-01,9,short\n"
        f'S-5,2025-01-01,9,"first line\n{big}\nlast line"\n'  # lines 3-5: one record, its middle line too long
        "S-6,2025-01-01,8,\n"  # line 6
    )
    (landing / "survey_responses" / "b.csv.gz").write_bytes(gzip.compress(csv_text.encode()))
    con = connect()
    a, b = ingest_source(con, "survey_responses", landing).files
    assert (a.rows_loaded, a.rows_quarantined, b.rows_loaded, b.rows_quarantined) == (2, 1, 2, 1)
    got = rows(con, "SELECT response_id, _source_file, _source_line FROM raw.survey_responses ORDER BY 1")
    assert got == [
        ("S-1", "survey_responses/a.jsonl", 1),
        ("S-3", "survey_responses/a.jsonl", 3),
        ("S-4", "survey_responses/b.csv.gz", 2),
        ("S-6", "survey_responses/b.csv.gz", 6),
    ]
    bad = rows(con, "SELECT file, line, reason FROM raw.quarantine ORDER BY file")
    assert [(file, line) for file, line, _ in bad] == [
        ("survey_responses/a.jsonl", 2),
        ("survey_responses/b.csv.gz", 3),
    ]
    assert all(f"{MAX_LINE_BYTES:,} bytes" in reason for *_, reason in bad)
    assert_reconciles(con)


def test_an_unclosed_quote_that_hides_lines_from_the_reader_fails_the_file(
    tmp_path: Path, connect: Connect
) -> None:
    """DuckDB silently dropped about 70% of this file's rows; now the file fails and names the line."""
    lines = [ORDERS_HEADER, 'U-1,C1,2025-01-01,completed,EUR,1,0,0,online,"unclosed,']
    lines += [f"U-{i},C1,2025-01-01,completed,EUR,1,0,0,online,x," for i in range(2, 400_000)]
    landing = one_file(tmp_path, "orders", "unclosed.csv", ("\n".join(lines) + "\n").encode())
    (landing / "orders" / "z_next.csv").write_text(ORDERS_HEADER + "\n" + order_rows(2))
    con = connect()
    f, following = ingest_source(con, "orders", landing).files
    assert f.status == "failed", (f.rows_loaded, f.rows_quarantined)
    assert (
        "line 2 opens a quoted value that is not closed" in f.error
        and "Nothing of the file was loaded" in f.error
    )
    assert rows(con, "SELECT count(*) FROM raw.orders WHERE order_id LIKE 'U-%'") == [(0,)]
    assert (following.status, following.rows_loaded) == ("loaded", 2)


# ----------------------------------------------------------------------------------------------- 2. line endings


def test_cr_only_line_endings(tmp_path: Path, connect: Connect) -> None:
    """Old-Mac files crashed the header sniffing and with it the whole source."""
    landing = copy_corpus(tmp_path, "orders", "a_cr_only.csv", "b_after.csv")
    con = connect()
    a, b = ingest_source(con, "orders", landing).files
    assert (a.status, a.rows_read, a.rows_loaded, a.rows_quarantined) == ("loaded", 4, 3, 1)
    assert rows(
        con,
        "SELECT order_id, product_category, _source_line FROM raw.orders WHERE _file_id = ? ORDER BY 3",
        [a.file_id],
    ) == [
        ("CR-1", "Books", 2),
        ("CR-2", "two\nlines", 3),  # a quoted line break, written as CR like every other one
        ("CR-4", "Toys", 7),  # line 6 is blank
    ]
    assert [(line, column) for line, column, *_ in quarantine(con, "orders/a_cr_only.csv")] == [
        (5, "gross_amount")
    ]
    assert (b.status, b.rows_loaded) == ("loaded", 1)
    assert_reconciles(con)


def test_cr_only_json_lines_and_gzip(tmp_path: Path, connect: Connect) -> None:
    records = [
        '{"response_id": "S-1", "submitted_at": "2025-01-01", "nps_score": 9}',
        "",
        '{"response_id": "S-2", "submitted_at": "2025-01-01", "nps_score": "x"}',
        '{"response_id": "S-3", "submitted_at": "2025-01-01", "nps_score": 3}',
    ]
    landing = one_file(tmp_path, "survey_responses", "a.jsonl", "\r".join(records).encode() + b"\r")
    csv_text = "response_id,submitted_at,nps_score\rS-4,2025-01-01,1\r\rS-5,2025-01-01,2\r"
    (landing / "survey_responses" / "b.csv.gz").write_bytes(gzip.compress(csv_text.encode()))
    con = connect()
    a, b = ingest_source(con, "survey_responses", landing).files
    assert (a.rows_loaded, a.rows_quarantined, b.rows_loaded) == (2, 1, 2)
    assert rows(con, "SELECT response_id, _source_line FROM raw.survey_responses ORDER BY 1") == [
        ("S-1", 1), ("S-3", 4), ("S-4", 2), ("S-5", 4),
    ]  # fmt: skip
    assert [line for line, *_ in quarantine(con, "survey_responses/a.jsonl")] == [3]


def test_a_lone_cr_inside_a_value_of_an_lf_file_is_kept(tmp_path: Path, connect: Connect) -> None:
    """DuckDB's CSV reader stopped at a CR alone inside a line ("invalid state") and the file failed."""
    text = (
        ORDERS_HEADER + "\r\n"
        + "M-1,C1,2025-01-01,completed,EUR,1,0,0,online,a\rb,\r\n"  # unquoted
        + 'M-2,C1,2025-01-01,completed,EUR,1,0,0,online,"c\rd",\r\n'  # quoted
        + "M-3,C1,2025-01-01,completed,EUR,x,0,0,online,e\rf,\r\n"  # a bad row: the record keeps its CR
    )  # fmt: skip
    landing = one_file(tmp_path, "orders", "cr.csv", text.encode())
    jsonl = '{"response_id": "S-1",\r"submitted_at": "2025-01-01", "nps_score": 9, "comment": "g"}\n'
    (landing / "survey_responses").mkdir()
    (landing / "survey_responses" / "s.jsonl").write_bytes(jsonl.encode())
    con = connect()
    (f,) = ingest_source(con, "orders", landing).files
    assert (f.status, f.rows_loaded, f.rows_quarantined) == ("loaded", 2, 1)
    assert rows(con, "SELECT order_id, product_category, _source_line FROM raw.orders ORDER BY 1") == [
        ("M-1", "a\rb", 2),
        ("M-2", "c\rd", 3),
    ]
    assert '"product_category":"e\\rf"' in rows(con, "SELECT raw_record FROM raw.quarantine")[0][0]
    (s,) = ingest_source(con, "survey_responses", landing).files
    assert (s.rows_loaded, rows(con, "SELECT comment FROM raw.survey_responses")) == (1, [("g",)])


def test_a_file_that_breaks_the_loader_fails_alone(
    tmp_path: Path, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever goes wrong with one file (here: a simulated bug), it is logged and the other files load."""
    landing = one_file(tmp_path, "contacts", "a.csv", b"contact_id,customer_id,email\nK-1,C1,a@example.com\n")
    (landing / "contacts" / "b.csv").write_bytes(b"contact_id,customer_id,email\nK-2,C2,b@example.com\n")
    real_stage_csv = loader.stage_csv

    def broken_for_a(con, contract, text, rel, *args):
        if rel.endswith("/a.csv"):
            raise RuntimeError("Anna Example, anna@example.com: simulated bug")
        return real_stage_csv(con, contract, text, rel, *args)

    monkeypatch.setattr(loader, "stage_csv", broken_for_a)
    con = connect()
    a, b = ingest_source(con, "contacts", landing).files
    assert a.status == "failed" and "contacts/a.csv" in a.error and "RuntimeError" in a.error
    assert "Anna" not in a.error and "anna@" not in a.error  # the exception's text may quote the file
    assert (b.status, b.rows_loaded) == ("loaded", 1)
    assert rows(con, "SELECT file, status FROM raw.ingestion_log ORDER BY file_id") == [
        ("contacts/a.csv", "failed"),
        ("contacts/b.csv", "loaded"),
    ]


# ----------------------------------------------------------------------------------------------- 3. folder entries


def make_odd_entries(landing: Path) -> Path:
    """A landing zone whose orders folder holds one entry of every kind; returns the file outside it."""
    folder = landing / "orders"
    folder.mkdir(parents=True)
    good = ORDERS_HEADER + "\n" + order_rows(2, "G")
    (folder / "a_good.csv").write_text(good)
    (folder / "b_subfolder").mkdir()
    (folder / "b_subfolder" / "nested.csv").write_text(ORDERS_HEADER + "\n" + order_rows(1, "N"))
    os.mkfifo(folder / "c_pipe.csv")
    (folder / "d_dangling.csv").symlink_to(folder / "does-not-exist.csv")
    outside = landing.parent / "outside.csv"
    outside.write_text(ORDERS_HEADER + "\n" + order_rows(3, "OUT"))
    (folder / "e_outside.csv").symlink_to(outside)
    (landing / "shared").mkdir()
    (landing / "shared" / "inside.csv").write_text(ORDERS_HEADER + "\n" + order_rows(1, "IN"))
    (folder / "f_inside_link.csv").symlink_to(landing / "shared" / "inside.csv")
    (folder / "g_loop.csv").symlink_to(folder / "g_loop.csv")
    (folder / "h_notes.md").write_text("# not data\n")
    (folder / "i_link_to_folder").symlink_to(folder / "b_subfolder")
    return outside


def test_every_folder_entry_is_loaded_or_logged_with_a_reason(tmp_path: Path, connect: Connect) -> None:
    landing = tmp_path / "landing"
    make_odd_entries(landing)
    sock = socket.socket(socket.AF_UNIX)
    sock_path = landing / "orders" / "j_socket"
    try:
        sock.bind(str(sock_path))
    except OSError:  # a path too long for a socket address: the other special files still cover the case
        sock_path = None
    con = connect()
    try:
        result = ingest_source(con, "orders", landing)
    finally:
        sock.close()
    expected = {
        "a_good.csv": "loaded",
        "b_subfolder": "ignored",
        "c_pipe.csv": "ignored",
        "d_dangling.csv": "ignored",
        "e_outside.csv": "ignored",
        "f_inside_link.csv": "loaded",
        "g_loop.csv": "ignored",
        "h_notes.md": "ignored",
        "i_link_to_folder": "ignored",
    }
    if sock_path is not None:
        expected["j_socket"] = "ignored"
    assert statuses(result) == expected
    reasons = {f.path.split("/", 1)[1]: f.error for f in result.ignored_files}
    assert "folder" in reasons["b_subfolder"] and "folder" in reasons["i_link_to_folder"]
    assert "named pipe" in reasons["c_pipe.csv"]
    assert "does not exist" in reasons["d_dangling.csv"]
    assert "outside the landing folder" in reasons["e_outside.csv"] and "refused" in reasons["e_outside.csv"]
    assert "cannot be resolved" in reasons["g_loop.csv"]
    assert "unsupported file type" in reasons["h_notes.md"]
    if sock_path is not None:
        assert "socket" in reasons["j_socket"]
    # the link inside the landing root is read under its own name; the one outside is never followed
    assert rows(con, "SELECT DISTINCT _source_file FROM raw.orders ORDER BY 1") == [
        ("orders/a_good.csv",),
        ("orders/f_inside_link.csv",),
    ]
    assert rows(
        con, "SELECT count(*) FROM raw.orders WHERE order_id LIKE 'OUT-%' OR order_id LIKE 'N-%'"
    ) == [(0,)]
    logged = dict(rows(con, "SELECT file, error FROM raw.ingestion_log WHERE status = 'ignored'"))
    assert logged == {f"orders/{name}": reason for name, reason in reasons.items()}
    assert result.failed_files == []


def test_ignored_entries_are_logged_once_until_their_reason_changes(tmp_path: Path, connect: Connect) -> None:
    landing = tmp_path / "landing"
    make_odd_entries(landing)
    con = connect()
    first = ingest_source(con, "orders", landing)
    logged_before = rows(con, "SELECT count(*) FROM raw.ingestion_log WHERE status = 'ignored'")[0][0]
    second = ingest_source(con, "orders", landing)
    assert statuses(second) == {**statuses(first), "a_good.csv": "skipped", "f_inside_link.csv": "skipped"}
    assert rows(con, "SELECT count(*) FROM raw.ingestion_log WHERE status = 'ignored'") == [(logged_before,)]
    assert {f.path: f.file_id for f in second.ignored_files} == {
        f.path: f.file_id for f in first.ignored_files
    }
    # the dangling link's target appears: it is loaded; the notes are renamed: the new name is logged
    (landing / "orders" / "does-not-exist.csv").write_text(ORDERS_HEADER + "\n" + order_rows(1, "LATE"))
    (landing / "orders" / "h_notes.md").rename(landing / "orders" / "h_notes.txt.bak")
    third = ingest_source(con, "orders", landing)
    assert statuses(third)["d_dangling.csv"] == "loaded"
    assert statuses(third)["h_notes.txt.bak"] == "ignored"
    assert rows(con, "SELECT count(*) FROM raw.ingestion_log WHERE status = 'ignored'") == [
        (logged_before + 1,)
    ]


# ----------------------------------------------------------------------------------------------- 4. encodings


def test_utf8_files_win_over_the_configured_encoding(tmp_path: Path, connect: Connect) -> None:
    """With GB18030 configured, a UTF-8 file without BOM was decoded as GB18030: "José" became "Jos茅"."""
    header = "contact_id,customer_id,full_name,email,city\n"
    landing = one_file(
        tmp_path, "contacts", "a_utf8.csv", (header + "K-1,C1,José Núñez,j@example.com,Köln\n").encode()
    )
    folder = landing / "contacts"
    (folder / "b_gb18030.csv").write_bytes((header + "K-2,C2,张伟,zw@example.com,北京\n").encode("gb18030"))
    (folder / "c_utf8.csv.gz").write_bytes(
        gzip.compress((header + "K-3,C3,Zoë,z@example.com,Zürich\n").encode())
    )
    (folder / "d_gb18030.csv.gz").write_bytes(
        gzip.compress((header + "K-4,C4,王芳,wf@example.com,上海\n").encode("gb18030"))
    )
    con = connect()
    result = ingest_source(con, "contacts", landing, encoding="gb18030")
    assert [(f.status, f.rows_loaded) for f in result.files] == [("loaded", 1)] * 4
    assert rows(con, "SELECT full_name, city FROM raw.contacts ORDER BY contact_id") == [
        ("José Núñez", "Köln"),
        ("张伟", "北京"),
        ("Zoë", "Zürich"),
        ("王芳", "上海"),
    ]


# ----------------------------------------------------------------------------------------------- 5. JSON values


def test_json_objects_arrays_and_control_characters_are_not_text(tmp_path: Path, connect: Connect) -> None:
    landing = copy_corpus(tmp_path, "orders", "nested_and_controls.jsonl")
    con = connect()
    (f,) = ingest_source(con, "orders", landing).files
    got = [
        (line, column, reason.split(";")[0].split(":")[0])
        for line, column, _, reason in quarantine(con, f.path)
    ]
    assert got == [
        (2, "customer_id", "customer_id is a JSON object"),
        (3, "order_id", "order_id is a JSON array"),
        (4, "order_id", "order_id contains a control character (such as a tab, a line break or NUL)"),
        (5, "customer_id", "customer_id contains a control character (such as a tab, a line break or NUL)"),
        (
            6,
            "product_category",
            "product_category contains a NUL character (U+0000), which text values must not hold",
        ),
        (7, "gross_amount", "gross_amount is too large"),
        (8, "status", "status is a JSON object"),
        (9, "discount_amount", "discount_amount is a JSON array"),
    ]
    assert f"{MAX_AMOUNT:,}" in quarantine(con, f.path)[5][3]
    loaded = rows(
        con, "SELECT order_id, customer_id, product_category, _source_line FROM raw.orders ORDER BY 4"
    )
    assert loaded == [
        ("J-1", "C1", "tab\tinside and\nline break", 1),  # free text keeps tabs and line breaks
        ("J-10", "{C10", "[not an array", 10),  # text that merely starts like JSON is text
        ("J-11", "12", None, 11),  # a number is an id like any other
    ]
    assert_reconciles(con)


def test_parquet_nested_values_are_not_text(tmp_path: Path, connect: Connect) -> None:
    path = tmp_path / "nested.parquet"
    duckdb.connect().execute(
        f"""
        COPY (SELECT * FROM (VALUES
            ('P-1', ['C1'], TIMESTAMP '2025-01-01', {{'v': 'completed'}}, 'EUR', 1.0),
            ('P-2', NULL, TIMESTAMP '2025-01-01', {{'v': 'completed'}}, 'EUR', 1.0)
        ) AS t(order_id, customer_id, order_ts, status, currency, gross_amount)) TO '{path}'
        """
    )
    landing = one_file(tmp_path, "orders", "nested.parquet", path.read_bytes())
    con = connect()
    (f,) = ingest_source(con, "orders", landing).files
    got = [(line, column, reason.split(";")[0]) for line, column, _, reason in quarantine(con, f.path)]
    assert got == [
        (1, "customer_id", "customer_id is a list"),
        (1, "status", "status is a struct"),
        (2, "customer_id", "customer_id is empty"),
        (2, "status", "status is a struct"),
    ]


# ----------------------------------------------------------------------------------------------- 6. ids


def test_every_id_column_is_declared_in_the_contract() -> None:
    ids = {(source, c.name) for source, contract in CONTRACTS.items() for c in contract.columns if c.id}
    assert ids == {
        ("orders", "order_id"),
        ("orders", "customer_id"),
        ("contacts", "contact_id"),
        ("contacts", "customer_id"),
        ("survey_responses", "response_id"),
        ("survey_responses", "contact_id"),
    }


def test_ids_are_normalized_alike_in_every_source_and_format(tmp_path: Path, connect: Connect) -> None:
    """Surrounding (non-breaking) spaces and zero-width characters go; case and inner spaces stay."""
    nbsp, narrow, figure, zwsp, zwnj, zwj, wj, bom = (
        "\u00a0",
        "\u202f",
        "\u2007",
        "\u200b",
        "\u200c",
        "\u200d",
        "\u2060",
        "\ufeff",
    )
    landing = tmp_path / "landing"
    for source in SOURCES:
        (landing / source).mkdir(parents=True)
    order_ids = [
        f" O-1{nbsp}",
        f"{zwsp}O-2",
        f"O-3{figure}",
        f"{narrow}o-4\t",
        f"O{zwj}-5",
        f"O 6{wj}",
        f"{bom}O-7",
    ]
    customer_ids = [f"{nbsp}C-1", f"C-2{zwnj}", " c-3 ", f"C-4{narrow}", "C-5", "C-6", "C-7"]
    lines = [f"{o},{c},2025-01-01,completed,EUR,1" for o, c in zip(order_ids, customer_ids, strict=True)]
    (landing / "orders" / "a.csv").write_text(
        "order_id,customer_id,order_ts,status,currency,gross_amount\n" + "\n".join(lines) + "\n"
    )
    (landing / "orders" / "b.jsonl").write_text(
        f'{{"order_id": "{zwsp}{nbsp}O-8{nbsp}", "customer_id": " C-8{bom}", "order_ts": "2025-01-01", "status": "completed", "currency": "EUR", "gross_amount": 1}}\n'
        + f'{{"order_id": "{zwsp}{zwj}", "customer_id": "C-9", "order_ts": "2025-01-01", "status": "completed", "currency": "EUR", "gross_amount": 1}}\n'
    )
    parquet = tmp_path / "c.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT '{nbsp}O-9 ' AS order_id, 'C-9{zwsp}' AS customer_id, TIMESTAMP '2025-01-01' AS order_ts, "
        f"'completed' AS status, 'EUR' AS currency, 1.0 AS gross_amount) TO '{parquet}'"
    )
    shutil.copy(parquet, landing / "orders" / "c.parquet")
    (landing / "contacts" / "k.csv").write_text(
        f"contact_id,customer_id,email\n{nbsp}K-1{zwsp},{figure}C-1 ,a@example.com\n"
    )
    (landing / "survey_responses" / "s.csv").write_text(
        f"response_id,submitted_at,nps_score,contact_id\n{zwnj}S-1{nbsp},2025-01-01,9,{wj}K-1{narrow}\n"
    )
    con = connect()
    for source in SOURCES:
        ingest_source(con, source, landing)
    assert rows(con, "SELECT order_id, customer_id FROM raw.orders ORDER BY 1") == [
        ("O 6", "C-6"), ("O-1", "C-1"), ("O-2", "C-2"), ("O-3", "c-3"), ("O-5", "C-5"), ("O-7", "C-7"),
        ("O-8", "C-8"), ("O-9", "C-9"), ("o-4", "C-4"),
    ]  # fmt: skip
    assert [(line, column) for line, column, *_ in quarantine(con, "orders/b.jsonl")] == [
        (2, "order_id")
    ]  # only invisible: empty
    assert rows(con, "SELECT contact_id, customer_id FROM raw.contacts") == [("K-1", "C-1")]
    assert rows(con, "SELECT response_id, contact_id FROM raw.survey_responses") == [("S-1", "K-1")]


# ----------------------------------------------------------------------------------------------- 7. amounts


def test_amounts_above_the_limit_are_quarantined_as_too_large(tmp_path: Path, connect: Connect) -> None:
    header = "order_id,customer_id,order_ts,status,currency,gross_amount,discount_amount,cost_amount"
    limit = f"{MAX_AMOUNT}.00"
    lines = [
        f"A-1,C1,2025-01-01,completed,EUR,{limit},0,{limit}",  # exactly the limit: loads, exactly
        "A-2,C1,2025-01-01,completed,JPY,120000000.00,0.01,",  # a large B2B order
        f"A-3,C1,2025-01-01,completed,EUR,{MAX_AMOUNT}.01,0,",  # just above
        "A-4,C1,2025-01-01,completed,EUR,1e20,0,",  # a number, out of range
        "A-5,C1,2025-01-01,completed,EUR,9999999999999999.99,0,",  # fits DECIMAL(18,2), not the contract
        "A-6,C1,2025-01-01,completed,EUR,10,-1e20,",
        "A-7,C1,2025-01-01,completed,EUR,1e15,0,",  # scientific notation of the limit
        "A-8,C1,2025-01-01,completed,EUR,NaN,0,",  # not a number
    ]
    landing = one_file(tmp_path, "orders", "big.csv", (header + "\n" + "\n".join(lines) + "\n").encode())
    con = connect()
    (f,) = ingest_source(con, "orders", landing).files
    assert rows(con, "SELECT order_id, gross_amount, cost_amount FROM raw.orders ORDER BY 1") == [
        ("A-1", Decimal(limit), Decimal(limit)),
        ("A-2", Decimal("120000000.00"), None),
        ("A-7", Decimal(limit), None),
    ]
    got = [(line, column, value, reason) for line, column, value, reason in quarantine(con, f.path)]
    too_large = f"is too large: amounts must not exceed {MAX_AMOUNT:,} in absolute value"
    assert [(line, column, value) for line, column, value, _ in got] == [
        (4, "gross_amount", f"{MAX_AMOUNT}.01"),
        (5, "gross_amount", "1e20"),
        (6, "gross_amount", "9999999999999999.99"),
        (7, "discount_amount", "-1e20"),
        (9, "gross_amount", "NaN"),
    ]
    assert all(too_large in reason for *_, reason in got[:4])
    assert "is not a number" in got[4][3]


# ----------------------------------------------------------------------------------------------- 8. no values in messages

PERSON = ("Maria Exampleton", "maria.exampleton@example.org", "+49 170 5550123", "1984-02-29")


def test_no_personal_data_in_any_error_reason_or_progress_line(tmp_path: Path, connect: Connect) -> None:
    """A person's data planted in broken files of every kind never shows up in a message."""
    name, email, phone, birthday = PERSON
    person = f"K-9,C9,{name},{email},{phone},{birthday}"
    landing = tmp_path / "landing"
    folder = landing / "contacts"
    folder.mkdir(parents=True)
    header = "contact_id,customer_id,full_name,email,phone,birthday"
    files = {
        "a_headerless.csv": f"{person}\n{person}\n",  # missing required columns: line 1 holds the person
        "b_duplicate_names.csv": f"{name},{name},{email},{email}\n1,2,3,4\n",  # duplicate "column names"
        "c_contract_duplicate.csv": f"contact_id,customer_id,email,CONTACT_ID\n{person}\n",
        "d_bad_rows.csv": (
            f"{header},is_primary,created_at\n"
            f"K-1,C1,{name},{email},{phone},{name},{email},{phone}\n"  # bad date, boolean, timestamp
            f"K-2,C2,{name},{email},{phone},{birthday}\n"  # too few fields
            f'K-3,C3,"{name},{email},{phone},{birthday}\n'  # unclosed quote
        ),
        "e_bad.jsonl": (
            f'{{"contact_id": {{"name": "{name}"}}, "customer_id": "C1", "email": "{email}"}}\n'
            f'{{"contact_id": "K-5", "customer_id": "C1\\u0000{name}", "email": "{email}", "birthday": "{name}"}}\n'
            f'{{"contact_id": "K-6", "customer_id": "C1", "email": "{email}", "is_primary": [1]\n'
            f"{name} {email}\n"
        ),
        "f_broken_array.json": f'[{{"contact_id": "K-7", "full_name": "{name}", "email": "{email}" oops}}]\n',
        "g_latin1.csv": None,
        "h_no_keys.jsonl": f'{{"{name}": "{email}", "{phone}": 1}}\n',
        "i_wrong_parquet.parquet": f"{person}\n",
    }
    for file_name, text in files.items():
        if text is not None:
            (folder / file_name).write_text(text)
    (folder / "g_latin1.csv").write_bytes(
        f"{header}\nK-8,C8,{name} Müller,{email},{phone},{birthday}\n".encode("latin-1")
    )
    (folder / f"{name}.md").write_text("notes")
    con = connect()
    messages: list[str] = []
    result = ingest_source(con, "contacts", landing, progress=messages.append)
    assert len(result.failed_files) >= 6, [(f.path, f.status) for f in result.files]
    texts = [f.error or "" for f in result.files] + messages
    texts += [reason for (reason,) in rows(con, "SELECT reason FROM raw.quarantine")]
    texts += [error for (error,) in rows(con, "SELECT error FROM raw.ingestion_log WHERE error IS NOT NULL")]
    assert len(rows(con, "SELECT reason FROM raw.quarantine")) >= 7
    fragments = [
        name,
        *name.split(),
        email,
        email.split("@")[0],
        phone,
        phone.replace(" ", ""),
        birthday,
        "5550123",
    ]
    leaks = [(fragment, text) for text in texts for fragment in fragments if fragment.lower() in text.lower()]
    # the ignored file's name is the entry's own name, not a value of a file: strip it before checking
    leaks = [(fragment, text) for fragment, text in leaks if f"contacts/{name}.md" not in text]
    assert leaks == []
    by_file = {f.path.split("/", 1)[1]: f for f in result.files}
    assert "missing required column(s)" in by_file["a_headerless.csv"].error
    assert "appears twice" in by_file["b_duplicate_names.csv"].error
    assert "column contact_id appears twice" in by_file["c_contract_duplicate.csv"].error


# ----------------------------------------------------------------------------------------------- 9. safe delivery


def test_temporary_and_fresh_files_wait_and_load_later(tmp_path: Path, connect: Connect) -> None:
    landing = tmp_path / "landing"
    folder = landing / "orders"
    folder.mkdir(parents=True)
    data = ORDERS_HEADER + "\n" + order_rows(2)
    temporary = [".orders_a.csv", "orders_b.csv.tmp", "orders_c.csv.part", "orders_d.csv.partial",
                 "orders_e.csv.crdownload", "orders_f.csv.filepart"]  # fmt: skip
    for i, name in enumerate(temporary):
        (folder / name).write_text(ORDERS_HEADER + "\n" + order_rows(1, f"T{i}"))
    (folder / "orders_fresh.csv").write_text(ORDERS_HEADER + "\n" + order_rows(1, "FRESH"))
    (folder / "orders_old.csv").write_text(data)
    an_hour_ago = time.time() - 3600
    os.utime(folder / "orders_old.csv", (an_hour_ago, an_hour_ago))
    con = connect()
    first = ingest_source(con, "orders", landing, settle_seconds=600)
    assert statuses(first) == {
        **dict.fromkeys(temporary, "waiting"),
        "orders_fresh.csv": "waiting",
        "orders_old.csv": "loaded",
    }
    fresh = next(f for f in first.files if f.path.endswith("orders_fresh.csv"))
    assert "settle time of 600 s" in fresh.error
    assert first.failed_files == [] and len(first.waiting_files) == 7
    assert rows(con, "SELECT file, status FROM raw.ingestion_log") == [("orders/orders_old.csv", "loaded")]
    # the deliveries finish: renamed to their final names; the fresh file settles
    for name in temporary:
        final = name.lstrip(".").removesuffix(".tmp").removesuffix(".part").removesuffix(".partial")
        final = final.removesuffix(".crdownload").removesuffix(".filepart")
        (folder / name).rename(folder / final)
    second = ingest_source(con, "orders", landing)  # settle_seconds defaults to 0
    assert second.waiting_files == []
    assert rows(con, "SELECT count(*) FROM raw.orders") == [(2 + len(temporary) + 1,)]


def test_a_file_that_changes_while_it_is_read_is_not_half_loaded(
    tmp_path: Path, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = one_file(
        tmp_path, "orders", "growing.csv", (ORDERS_HEADER + "\n" + order_rows(100, "G")).encode()
    )
    real_insert = loader._insert_rows
    appended: list[int] = []

    def insert_while_the_file_grows(con, contract, staged, rel, file_id, loaded_at):
        counts = real_insert(con, contract, staged, rel, file_id, loaded_at)
        if not appended:  # the delivery appends more rows while the loader is writing
            with (landing / "orders" / "growing.csv").open("a") as f:
                f.write("G-101,C1,2025-05-01T10:00:00Z,completed,EUR,1.00,0,0,online,cat,\n")
            appended.append(1)
        return counts

    monkeypatch.setattr(loader, "_insert_rows", insert_while_the_file_grows)
    con = connect()
    (first,) = ingest_source(con, "orders", landing).files
    assert first.status == "waiting" and "changed while being read" in first.error
    assert rows(con, "SELECT count(*) FROM raw.orders") == [(0,)]
    assert rows(con, "SELECT count(*) FROM raw.ingestion_log") == [(0,)]
    assert (
        first
        not in ingest_source.__globals__["SourceLoadResult"](source="orders", files=[first]).failed_files
    )
    (second,) = ingest_source(con, "orders", landing).files
    assert (second.status, second.rows_loaded) == ("loaded", 101)
    assert_reconciles(con)


def test_a_file_written_during_runs_is_loaded_once_and_whole(tmp_path: Path, connect: Connect) -> None:
    """A writer thread appends rows while runs with a settle time keep looking at the folder."""
    landing = tmp_path / "landing"
    (landing / "orders").mkdir(parents=True)
    path = landing / "orders" / "stream.csv"
    path.write_text(ORDERS_HEADER + "\n")
    chunks = 40

    def write() -> None:
        for k in range(chunks):
            with path.open("a") as f:
                f.write(order_rows(500, f"W{k}"))
            time.sleep(0.02)

    writer = threading.Thread(target=write)
    con = connect()
    writer.start()
    seen: list[str] = []
    while writer.is_alive():
        seen += [f.status for f in ingest_source(con, "orders", landing, settle_seconds=2.0).files]
    writer.join()
    assert seen and set(seen) == {"waiting"}
    assert rows(con, "SELECT count(*) FROM raw.orders") == [(0,)]
    time.sleep(2.0)
    (f,) = ingest_source(con, "orders", landing, settle_seconds=2.0).files
    assert (f.status, f.rows_loaded, f.rows_quarantined) == ("loaded", chunks * 500, 0)


def test_settle_seconds_must_not_be_negative(tmp_path: Path, connect: Connect) -> None:
    with pytest.raises(ValueError, match="settle_seconds"):
        ingest_source(connect(), "orders", tmp_path, settle_seconds=-1)


# ----------------------------------------------------------------------------------------------- another engine's staging area


def test_ingest_into_an_in_memory_database_seeded_with_the_log(tmp_path: Path) -> None:
    """Another engine can use an in-memory DuckDB as the staging area: all state comes from the connection."""
    landing = one_file(tmp_path, "orders", "a.csv", (ORDERS_HEADER + "\n" + order_rows(3, "A")).encode())
    build = duckdb.connect(str(tmp_path / "build.duckdb"))
    ingest_source(build, "orders", landing)
    (landing / "orders" / "b.csv").write_text(ORDERS_HEADER + "\n" + order_rows(2, "B"))
    staging = duckdb.connect()
    ensure_schema(staging)
    build.close()
    staging.execute(f"ATTACH '{tmp_path / 'build.duckdb'}' AS build (READ_ONLY)")
    staging.execute("INSERT INTO raw.ingestion_log SELECT * FROM build.raw.ingestion_log")
    (max_id,) = staging.execute("SELECT max(file_id) FROM raw.ingestion_log").fetchone()
    a, b = ingest_source(staging, "orders", landing).files
    assert (a.status, b.status, b.rows_loaded) == ("skipped", "loaded", 2)
    assert a.file_id > max_id and b.file_id > a.file_id
    assert staging.execute("SELECT DISTINCT _file_id FROM raw.orders").fetchall() == [(b.file_id,)]


# ----------------------------------------------------------------------------------------------- reading once


def test_unchanged_files_are_not_read_again(
    tmp_path: Path, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A later run skips a file it already read (same name, size, times, inode) without reading it again."""
    landing = one_file(tmp_path, "orders", "a.csv", (ORDERS_HEADER + "\n" + order_rows(3)).encode())
    (landing / "orders" / "b.csv.gz").write_bytes(
        gzip.compress((ORDERS_HEADER + "\n" + order_rows(2, "B")).encode())
    )
    con = connect()
    first = ingest_source(con, "orders", landing)
    assert [f.status for f in first.files] == ["loaded", "loaded"]

    def no_reading(*args, **kwargs):
        raise AssertionError("an unchanged file was read again")

    monkeypatch.setattr(loader, "scan_file", no_reading)
    monkeypatch.setattr(loader, "rewrite_text", no_reading)
    second = ingest_source(con, "orders", landing)
    assert [(f.status, f.content_hash) for f in second.files] == [
        ("skipped", f.content_hash) for f in first.files
    ]
    assert all("unchanged" in f.error for f in second.files)
    assert rows(con, "SELECT count(*) FROM raw.orders") == [(5,)]


def test_a_file_rewritten_in_place_with_its_old_times_is_read_again(tmp_path: Path, connect: Connect) -> None:
    """Size and modification time can be kept on purpose (cp -p, rsync -t); the change time cannot."""
    landing = one_file(tmp_path, "orders", "a.csv", (ORDERS_HEADER + "\n" + order_rows(3)).encode())
    path = landing / "orders" / "a.csv"
    con = connect()
    ingest_source(con, "orders", landing)
    before = path.stat()
    corrected = (ORDERS_HEADER + "\n" + order_rows(3)).replace("completed", "cancelled").encode()
    assert len(corrected) == before.st_size
    time.sleep(0.01)
    with path.open("r+b") as f:  # same inode, same size
        f.write(corrected)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # same modification time
    (f,) = ingest_source(con, "orders", landing).files
    assert (f.status, f.rows_loaded) == ("loaded", 3)
    assert rows(con, "SELECT status, count(*) FROM raw.orders GROUP BY 1 ORDER BY 1") == [
        ("cancelled", 3),
        ("completed", 3),
    ]


def test_gzip_is_hashed_as_delivered_in_the_same_pass(tmp_path: Path, connect: Connect) -> None:
    data = gzip.compress((ORDERS_HEADER + "\n" + order_rows(2)).encode())
    landing = one_file(tmp_path, "orders", "a.csv.gz", data)
    (landing / "orders" / "b_cut.csv.gz").write_bytes(data[: len(data) // 2])
    con = connect()
    a, b = ingest_source(con, "orders", landing).files
    assert (a.status, b.status) == ("loaded", "failed")
    assert a.content_hash == hashlib.sha256(data).hexdigest()
    assert b.content_hash == hashlib.sha256(data[: len(data) // 2]).hexdigest()  # logged even when it failed
    assert rows(con, "SELECT file, content_hash FROM raw.ingestion_log ORDER BY file") == [
        ("orders/a.csv.gz", a.content_hash),
        ("orders/b_cut.csv.gz", b.content_hash),
    ]
