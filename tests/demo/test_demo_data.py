"""Tests of the deterministic demo data generator (demo.generator).

Every check reads the real landing files with DuckDB, the way the pipeline will.
"""

from __future__ import annotations

import gzip
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from demo.generator import ARCHETYPES, MIN_ORDERS, DemoDataSummary, generate_demo_data
from ingestion.loader import SOURCES, ingest_source

AS_OF = date(2026, 6, 30)
N_ORDERS = 20_000
# Approximate conversion to USD (the pipeline's own rates live in its configuration).
USD_PER_UNIT = {"USD": 1.0, "EUR": 1 / 0.92, "GBP": 1 / 0.79, "CNY": 1 / 7.2}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoDataSummary]:
    home = tmp_path_factory.mktemp("demo_home")
    messages: list[str] = []
    summary = generate_demo_data(home, orders=N_ORDERS, seed=42, as_of=AS_OF, progress=messages.append)
    assert messages, "progress callback was never called"
    return home, summary


@pytest.fixture(scope="module")
def con(demo: tuple[Path, DemoDataSummary]) -> duckdb.DuckDBPyConnection:
    """DuckDB tables from the landing files: orders (all rows), latest (one row per order), contacts, surveys, truth."""
    home, _ = demo
    landing = home / "landing"
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    orders = landing / "orders"
    text_columns = "order_id, customer_id, order_ts, status, currency, gross_amount, discount_amount, cost_amount, channel, product_category, updated_at"
    json_columns = ", ".join(f"{name.strip()}: 'VARCHAR'" for name in text_columns.split(","))
    c.execute(f"""
        CREATE TABLE order_text AS
        SELECT {text_columns}, filename FROM read_csv('{orders}/*.csv*', delim=',', header=true, all_varchar=true,
                                                     filename=true)
        UNION ALL
        SELECT {text_columns}, filename FROM read_json('{orders}/*.jsonl', format='newline_delimited',
                                                      columns={{{json_columns}}}, filename=true)
    """)
    c.execute(f"""
        CREATE TABLE orders AS
        SELECT order_id, customer_id, order_ts, lower(status) AS status, currency,
               gross_amount::DECIMAL(18,2) AS gross, coalesce(discount_amount::DECIMAL(18,2), 0) AS discount,
               discount_amount IS NULL AS discount_missing, cost_amount::DECIMAL(18,2) AS cost,
               channel, product_category, updated_at, filename
        FROM read_parquet('{orders}/*.parquet', filename=true)
        UNION ALL
        SELECT order_id, customer_id, order_ts::TIMESTAMPTZ, lower(status), currency,
               gross_amount::DECIMAL(18,2), coalesce(nullif(discount_amount, '')::DECIMAL(18,2), 0),
               coalesce(discount_amount, '') = '', nullif(cost_amount, '')::DECIMAL(18,2),
               channel, product_category, updated_at::TIMESTAMPTZ, filename
        FROM order_text
    """)
    c.execute("""
        CREATE TABLE latest AS
        SELECT * EXCLUDE (rn), date_diff('day', order_ts::DATE, DATE '2026-06-30') AS days_ago,
               CASE WHEN status = 'completed' THEN gross - discount ELSE 0 END AS net
        FROM (SELECT *, row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC) AS rn FROM orders)
        WHERE rn = 1
    """)
    c.execute(f"""
        CREATE TABLE contacts AS
        SELECT * FROM read_csv('{landing}/contacts/contacts_export.csv', delim=';', header=true, all_varchar=true)
    """)
    surveys = landing / "survey_responses"
    survey_columns = (
        "response_id, survey_name, submitted_at, respondent_email, contact_id, nps_score, csat_product, "
        "csat_service, csat_price, is_complaint, complaint_category, comment"
    )
    survey_json = ", ".join(f"{name.strip()}: 'VARCHAR'" for name in survey_columns.split(","))
    c.execute(f"""
        CREATE TABLE surveys AS
        SELECT * REPLACE (submitted_at::TIMESTAMPTZ AS submitted_at, nps_score::INTEGER AS nps_score,
                          is_complaint::BOOLEAN AS is_complaint)
        FROM (
            SELECT {survey_columns} FROM read_csv('{surveys}/*.csv', delim='\t', header=true, all_varchar=true)
            UNION ALL
            SELECT {survey_columns} FROM read_json('{surveys}/*.jsonl', format='newline_delimited',
                                                   columns={{{survey_json}}})
        )
    """)
    c.execute(f"CREATE TABLE truth AS SELECT * FROM read_parquet('{home}/demo/truth.parquet')")
    c.execute("""
        CREATE TABLE per_customer AS
        SELECT t.customer_id, t.archetype,
               count(l.order_id) AS orders,
               count(*) FILTER (l.status = 'completed') AS completed,
               min(l.days_ago) FILTER (l.status = 'completed') AS days_since_completed,
               max(l.days_ago) AS days_since_first,
               count(*) FILTER (l.status = 'completed' AND l.days_ago < 90) AS cur_n,
               count(*) FILTER (l.status = 'completed' AND l.days_ago BETWEEN 90 AND 179) AS prev_n,
               coalesce(sum(l.net) FILTER (l.days_ago < 90), 0) AS cur_rev,
               coalesce(sum(l.net) FILTER (l.days_ago BETWEEN 90 AND 179), 0) AS prev_rev
        FROM truth t LEFT JOIN latest l USING (customer_id)
        GROUP BY ALL
    """)
    return c


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchone()[0]


# --- sizes and files -------------------------------------------------------------------------------------------------


def test_sizes(con: duckdb.DuckDBPyConnection, demo: tuple[Path, DemoDataSummary]) -> None:
    _, summary = demo
    assert summary.orders == N_ORDERS
    assert scalar(con, "SELECT count(DISTINCT order_id) FROM orders") == N_ORDERS
    assert scalar(con, "SELECT count(*) FROM orders") == summary.order_rows > N_ORDERS
    assert summary.customers == N_ORDERS // 20
    assert scalar(con, "SELECT count(*) FROM truth") == N_ORDERS // 20
    assert scalar(con, "SELECT count(DISTINCT customer_id) FROM truth") == N_ORDERS // 20
    assert scalar(con, "SELECT count(*) FROM contacts") == summary.contacts
    assert scalar(con, "SELECT count(DISTINCT contact_id) FROM contacts") == summary.contacts
    assert scalar(con, "SELECT count(*) FROM surveys") == summary.survey_responses == N_ORDERS // 8
    assert scalar(con, "SELECT count(DISTINCT response_id) FROM surveys") == N_ORDERS // 8
    assert sum(summary.archetypes.values()) == summary.customers
    assert set(summary.archetypes) == set(ARCHETYPES)
    # every order and every contact belongs to a known customer
    assert (
        scalar(con, "SELECT count(*) FROM orders WHERE customer_id NOT IN (SELECT customer_id FROM truth)")
        == 0
    )
    assert (
        scalar(con, "SELECT count(*) FROM contacts WHERE customer_id NOT IN (SELECT customer_id FROM truth)")
        == 0
    )
    assert summary.files == sorted(summary.files) and all(p.exists() for p in summary.files)


def test_file_formats(demo: tuple[Path, DemoDataSummary]) -> None:
    home, summary = demo
    landing = home / "landing"
    names = {p.name for p in summary.files}
    assert {"orders_2024.parquet", "orders_2025.parquet", "orders_2026.parquet"} <= names
    assert {"orders_2026-05.csv.gz", "orders_2026-06.csv", "orders_2026-06-28_30.jsonl"} <= names
    assert "contacts_export.csv" in names
    survey_files = sorted(p.name for p in (landing / "survey_responses").iterdir())
    assert [Path(n).suffix for n in survey_files] == [".csv", ".jsonl", ".jsonl"]
    for path in summary.files:
        source = path.parent.name
        assert path.parent.parent == landing and path.name.startswith(f"{source}_")

    gz = (landing / "orders" / "orders_2026-05.csv.gz").read_bytes()
    assert gz[:2] == b"\x1f\x8b"
    assert gzip.decompress(gz).startswith(b"order_id,customer_id,order_ts,")
    contacts = (landing / "contacts" / "contacts_export.csv").read_bytes()
    assert contacts.startswith(b"\xef\xbb\xbfcontact_id;customer_id;full_name;email;")
    tsv = next((landing / "survey_responses").glob("*.csv")).read_bytes()
    assert tsv.startswith(b"response_id\tsurvey_name\tsubmitted_at\t")
    jsonl = (landing / "orders" / "orders_2026-06-28_30.jsonl").read_text(encoding="utf-8").splitlines()
    assert jsonl and all(line.startswith('{"order_id":"O') for line in jsonl)
    # no temporary files left behind
    assert not [p for p in landing.rglob(".*")]


def test_files_are_delivered_settled_at_the_end_of_the_as_of_day(
    demo: tuple[Path, DemoDataSummary], tmp_path: Path
) -> None:
    """The demo's files are dated when they were "delivered", so a loader waiting for files to settle takes them."""
    home, summary = demo
    end_of_day = datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC).timestamp()
    assert {path.name: path.stat().st_mtime for path in summary.files} == dict.fromkeys(
        (path.name for path in summary.files), end_of_day
    )
    con = duckdb.connect(str(tmp_path / "build.duckdb"))
    for source in SOURCES:
        result = ingest_source(con, source, home / "landing", settle_seconds=3600)
        assert {f.status for f in result.files} == {"loaded"}, [
            (f.path, f.status, f.error) for f in result.files
        ]
    # an as-of date still to come (files dated in the future) counts as settled too
    future = tmp_path / "future"
    summary = generate_demo_data(future, orders=MIN_ORDERS, as_of=date.today() + timedelta(days=30))
    assert all(path.stat().st_mtime > time.time() for path in summary.files)
    result = ingest_source(duckdb.connect(), "contacts", future / "landing", settle_seconds=3600)
    assert [f.status for f in result.files] == ["loaded"]


def test_parquet_types(demo: tuple[Path, DemoDataSummary]) -> None:
    home, _ = demo
    schema = pq.read_schema(home / "landing" / "orders" / "orders_2025.parquet")
    assert str(schema.field("order_ts").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("updated_at").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("gross_amount").type) == "decimal128(18, 2)"
    assert str(schema.field("order_id").type) == "string"


def test_contacts_header_is_read_without_bom(con: duckdb.DuckDBPyConnection) -> None:
    columns = [row[0] for row in con.execute("DESCRIBE contacts").fetchall()]
    assert columns[0] == "contact_id"
    assert columns[-1] == "email_opt_in"


# --- determinism -----------------------------------------------------------------------------------------------------


def _snapshot(home: Path) -> dict[str, object]:
    snapshot: dict[str, object] = {}
    for path in sorted((home / "landing").rglob("*")) + [home / "demo" / "truth.parquet"]:
        if path.is_file():
            key = str(path.relative_to(home))
            snapshot[key] = pq.read_table(path) if path.suffix == ".parquet" else path.read_bytes()
    return snapshot


def test_deterministic(tmp_path: Path) -> None:
    a = _snapshot_after(tmp_path / "a", seed=7)
    b = _snapshot_after(tmp_path / "b", seed=7)
    assert a.keys() == b.keys()
    for key in a:
        if key.endswith(".parquet"):
            assert a[key].equals(b[key]), key
        else:
            assert a[key] == b[key], key
    c = _snapshot_after(tmp_path / "c", seed=8)
    assert c.keys() == a.keys()
    assert c["landing/contacts/contacts_export.csv"] != a["landing/contacts/contacts_export.csv"]
    assert not c["landing/orders/orders_2025.parquet"].equals(a["landing/orders/orders_2025.parquet"])
    assert not c["demo/truth.parquet"].equals(a["demo/truth.parquet"])


def _snapshot_after(home: Path, *, seed: int) -> dict[str, object]:
    generate_demo_data(home, orders=3_000, seed=seed, as_of=AS_OF)
    return _snapshot(home)


def test_rerun_replaces_previous_files(tmp_path: Path) -> None:
    generate_demo_data(tmp_path, orders=2_000, seed=1, as_of=date(2026, 3, 15))
    own = tmp_path / "landing" / "orders" / "README.txt"
    own.write_text("not generated")
    summary = generate_demo_data(tmp_path, orders=2_000, seed=1, as_of=date(2026, 6, 30))
    orders_dir = tmp_path / "landing" / "orders"
    generated = {p for p in orders_dir.iterdir() if p.name.startswith("orders_")}
    assert generated == {p for p in summary.files if p.parent == orders_dir}
    assert own.exists()


def test_rejects_tiny_sizes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least"):
        generate_demo_data(tmp_path, orders=MIN_ORDERS - 1)


def test_other_as_of_dates(tmp_path: Path) -> None:
    """Month and leap-day edges: files are still cut consistently and nothing lies after the as-of date."""
    for as_of in (date(2028, 2, 29), date(2026, 3, 1)):
        home = tmp_path / as_of.isoformat()
        summary = generate_demo_data(home, orders=MIN_ORDERS, seed=3, as_of=as_of)
        kinds = {"".join(p.suffixes[-2:]) if p.name.endswith(".csv.gz") else p.suffix for p in summary.files}
        assert kinds == {".parquet", ".csv", ".csv.gz", ".jsonl"}
        c = duckdb.connect()
        c.execute("SET TimeZone = 'UTC'")
        folder = home / "landing" / "orders"
        latest = c.execute(f"""
            SELECT max(order_ts::TIMESTAMPTZ), count(DISTINCT order_id) FROM (
                SELECT order_id, order_ts::VARCHAR AS order_ts FROM read_parquet('{folder}/*.parquet')
                UNION ALL SELECT order_id, order_ts FROM read_csv('{folder}/*.csv*', all_varchar=true)
                UNION ALL SELECT order_id, order_ts FROM read_json('{folder}/*.jsonl', format='newline_delimited',
                                                                   columns={{order_id: 'VARCHAR', order_ts: 'VARCHAR'}}))
        """).fetchone()
        assert latest[0].date() <= as_of
        assert latest[1] == MIN_ORDERS


# --- orders ----------------------------------------------------------------------------------------------------------


def test_order_time_window(con: duckdb.DuckDBPyConnection) -> None:
    lo, hi = con.execute("SELECT min(order_ts), max(order_ts) FROM orders").fetchone()
    assert lo.isoformat() >= "2024-06-30T00:00:00+00:00"
    assert hi.isoformat() <= "2026-06-30T23:59:59+00:00"
    assert scalar(con, "SELECT count(*) FROM orders WHERE updated_at < order_ts") == 0
    assert scalar(con, "SELECT max(updated_at) FROM orders").isoformat() <= "2026-06-30T23:59:59+00:00"
    # last days are populated (no dip at the end of the window)
    assert scalar(con, "SELECT count(*) FROM latest WHERE days_ago <= 2") > N_ORDERS / 730


def test_timestamp_text_formats(con: duckdb.DuckDBPyConnection) -> None:
    patterns = {
        "utc_z": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$",
        "utc_offset": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$",
        "other_offset": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-](0[1-9]|1\d):\d\d$",
        "naive": r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$",
    }
    for name, pattern in patterns.items():
        assert (
            scalar(con, f"SELECT count(*) FROM order_text WHERE regexp_matches(order_ts, '{pattern}')") > 0
        ), name
    total = scalar(con, "SELECT count(*) FROM order_text")
    matched = " OR ".join(f"regexp_matches(order_ts, '{p}')" for p in patterns.values())
    assert scalar(con, f"SELECT count(*) FROM order_text WHERE {matched}") == total
    # a +08:00 order is rendered in local time but is the same instant
    row = con.execute(
        "SELECT order_ts, order_ts::TIMESTAMPTZ FROM order_text WHERE order_ts LIKE '%+08:00' LIMIT 1"
    ).fetchone()
    assert row[1].hour == (int(row[0][11:13]) - 8) % 24


def test_order_values(con: duckdb.DuckDBPyConnection) -> None:
    assert {r[0] for r in con.execute("SELECT DISTINCT status FROM orders").fetchall()} == {
        "completed",
        "cancelled",
        "refunded",
        "pending",
    }
    completed_share = scalar(con, "SELECT avg((status = 'completed')::INT) FROM latest")
    assert 0.78 < completed_share < 0.92
    raw_status = {r[0] for r in con.execute("SELECT DISTINCT status FROM order_text").fetchall()}
    assert {"completed", "Completed", "COMPLETED"} <= raw_status
    currencies = dict(con.execute("SELECT currency, count(*) FROM latest GROUP BY 1").fetchall())
    assert set(currencies) == {"USD", "EUR", "GBP", "CNY"}
    assert max(currencies, key=currencies.get) == "USD"
    assert {r[0] for r in con.execute("SELECT DISTINCT channel FROM orders").fetchall()} == {
        "online",
        "store",
        "sales_rep",
        "partner",
        "other",
    }
    categories = {r[0] for r in con.execute("SELECT DISTINCT product_category FROM orders").fetchall()}
    assert {"Electronics", "electronics", "home & garden", "Books"} <= categories
    assert 8 <= len({c.lower() for c in categories}) <= 12
    assert scalar(con, "SELECT count(*) FROM orders WHERE gross < 0 OR discount < 0 OR discount > gross") == 0
    missing_discount = scalar(con, "SELECT avg(discount_missing::INT) FROM orders")
    missing_cost = scalar(con, "SELECT avg((cost IS NULL)::INT) FROM orders")
    assert 0.05 < missing_discount < 0.15
    assert 0.02 < missing_cost < 0.08
    ratio = scalar(con, "SELECT median(cost / gross) FROM orders WHERE gross > 0")
    assert 0.5 < ratio < 0.65
    amounts = con.execute("""
        SELECT gross_amount FROM order_text
        WHERE filename LIKE '%.csv%' AND NOT regexp_full_match(gross_amount, '\\d+\\.\\d\\d')
    """)
    assert amounts.fetchall() == []
    assert (
        scalar(con, "SELECT count(*) FROM order_text WHERE filename LIKE '%.csv%' AND discount_amount = ''")
        == 0
    )


def test_redelivered_orders_latest_wins(con: duckdb.DuckDBPyConnection) -> None:
    pairs = con.execute("""
        SELECT order_id, list(status ORDER BY updated_at) AS statuses, min(updated_at) < max(updated_at) AS newer
        FROM orders GROUP BY order_id HAVING count(*) > 1
    """).fetchall()
    assert len(pairs) >= 3
    for order_id, statuses, newer in pairs:
        assert len(statuses) == 2 and newer, order_id
        assert statuses[0] != statuses[1], order_id
    # some orders were updated later without a re-delivery (e.g. refunds)
    assert scalar(con, "SELECT count(*) FROM latest WHERE updated_at > order_ts AND status = 'refunded'") > 0


# --- planted behaviours ----------------------------------------------------------------------------------------------


def test_archetype_shares(con: duckdb.DuckDBPyConnection) -> None:
    counts = dict(con.execute("SELECT archetype, count(*) FROM truth GROUP BY 1").fetchall())
    n = N_ORDERS // 20
    for name, share in ARCHETYPES.items():
        assert counts[name] == pytest.approx(share * n, abs=2), name


def test_churned(con: duckdb.DuckDBPyConnection) -> None:
    bad = con.execute("""
        SELECT customer_id FROM per_customer
        WHERE archetype = 'churned' AND (completed = 0 OR days_since_completed <= 200)
    """).fetchall()
    assert bad == []
    # no orders at all in the last 200 days
    assert scalar(con, "SELECT count(*) FROM latest JOIN truth USING (customer_id) "
                       "WHERE archetype = 'churned' AND days_ago <= 200") == 0  # fmt: skip


def test_new(con: duckdb.DuckDBPyConnection) -> None:
    bad = con.execute("""
        SELECT customer_id FROM per_customer
        WHERE archetype = 'new' AND (completed = 0 OR days_since_first >= 60)
    """).fetchall()
    assert bad == []


def test_reactivated(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("""
        WITH o AS (
            SELECT customer_id, days_ago, status,
                   lead(days_ago) OVER (PARTITION BY customer_id ORDER BY order_ts DESC, order_id DESC) AS before
            FROM latest JOIN truth USING (customer_id) WHERE archetype = 'reactivated'
        )
        SELECT customer_id,
               min(days_ago) FILTER (status = 'completed') AS recent_completed,
               max(before - days_ago) AS longest_gap,
               max(days_ago) AS first_order
        FROM o GROUP BY 1
    """).fetchall()
    assert len(rows) == scalar(con, "SELECT count(*) FROM truth WHERE archetype = 'reactivated'")
    for customer, recent_completed, longest_gap, first_order in rows:
        assert recent_completed is not None and recent_completed < 60, customer
        assert longest_gap > 200, customer
        assert first_order > 260, customer
    # the gap lies between the early orders and the recent ones: all recent orders are within 60 days
    assert scalar(con, """
        SELECT count(*) FROM latest JOIN truth USING (customer_id)
        WHERE archetype = 'reactivated' AND days_ago BETWEEN 60 AND 260
    """) == 0  # fmt: skip


def test_declining(con: duckdb.DuckDBPyConnection) -> None:
    bad = con.execute("""
        SELECT customer_id, prev_n, cur_n, prev_rev, cur_rev FROM per_customer
        WHERE archetype = 'declining'
          AND NOT (prev_n >= 3 AND cur_n <= 0.3 * prev_n AND cur_rev <= 0.3 * prev_rev AND days_since_first > 365)
    """).fetchall()
    assert bad == []


def test_steady(con: duckdb.DuckDBPyConnection) -> None:
    bad = con.execute("""
        SELECT customer_id, prev_n, cur_n, prev_rev, cur_rev FROM per_customer
        WHERE archetype = 'steady'
          AND NOT (cur_n >= 1 AND prev_n >= 1 AND cur_rev BETWEEN 0.8 * prev_rev AND 1.25 * prev_rev
                   AND days_since_first > 365 AND days_since_completed < 90)
    """).fetchall()
    assert bad == []


def test_vip_in_top_value(con: duckdb.DuckDBPyConnection) -> None:
    rates = " ".join(f"WHEN '{k}' THEN {v}" for k, v in USD_PER_UNIT.items())
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE value_365 AS
        SELECT customer_id, archetype, count(*) AS n, sum(net * CASE currency {rates} END) AS revenue
        FROM latest JOIN truth USING (customer_id)
        WHERE status = 'completed' AND days_ago < 365 GROUP BY ALL
    """)
    assert scalar(con, "SELECT min(n) FROM value_365 WHERE archetype = 'vip'") >= 20
    p95 = scalar(con, "SELECT quantile_cont(revenue, 0.95) FROM value_365")
    assert scalar(con, "SELECT min(revenue) FROM value_365 WHERE archetype = 'vip'") > p95


def test_prospects(con: duckdb.DuckDBPyConnection) -> None:
    assert scalar(con, "SELECT count(*) FROM per_customer WHERE archetype = 'prospect' AND orders > 0") == 0
    assert (
        scalar(con, "SELECT count(*) FROM per_customer WHERE archetype <> 'prospect' AND completed = 0") == 0
    )
    assert scalar(con, """
        SELECT count(*) FROM truth WHERE archetype = 'prospect'
        AND customer_id NOT IN (SELECT customer_id FROM contacts)
    """) == 0  # fmt: skip


def test_refunds_and_cancellations_everywhere(con: duckdb.DuckDBPyConnection) -> None:
    rows = dict(con.execute("""
        SELECT archetype, count(DISTINCT status) FROM latest JOIN truth USING (customer_id) GROUP BY 1
    """).fetchall())  # fmt: skip
    for archetype in ("vip", "steady", "declining", "churned", "reactivated", "occasional"):
        statuses = {r[0] for r in con.execute(f"""
            SELECT DISTINCT status FROM latest JOIN truth USING (customer_id) WHERE archetype = '{archetype}'
        """).fetchall()}  # fmt: skip
        assert {"refunded", "cancelled"} <= statuses, archetype
    assert rows["vip"] >= 3


# --- contacts --------------------------------------------------------------------------------------------------------


def test_one_primary_contact_per_customer(con: duckdb.DuckDBPyConnection) -> None:
    assert scalar(con, "SELECT count(DISTINCT customer_id) FROM contacts") == N_ORDERS // 20
    bad = con.execute("""
        SELECT customer_id FROM contacts GROUP BY 1 HAVING count(*) FILTER (is_primary = 'true') <> 1
    """).fetchall()
    assert bad == []
    assert {r[0] for r in con.execute("SELECT DISTINCT is_primary FROM contacts").fetchall()} == {
        "true",
        "false",
    }
    per_customer = con.execute("""
        SELECT t.is_business, max(n) AS most, min(n) AS fewest
        FROM (SELECT customer_id, count(*) FILTER (NOT coalesce(has_dup, false)) AS n
              FROM (SELECT c.customer_id, c.contact_id,
                           lower(trim(c.email)) IN (SELECT lower(trim(email)) FROM contacts d
                                                    WHERE d.contact_id < c.contact_id) AS has_dup
                    FROM contacts c) GROUP BY 1) JOIN truth t USING (customer_id)
        GROUP BY 1 ORDER BY 1
    """).fetchall()  # fmt: skip
    assert per_customer == [(False, 1, 1), (True, 4, 2)]


def test_duplicate_contacts(con: duckdb.DuckDBPyConnection) -> None:
    groups = con.execute("""
        SELECT lower(trim(email)) AS e, count(*) AS n, count(DISTINCT customer_id) AS customers,
               count(DISTINCT email) AS spellings, list(contact_id) AS ids
        FROM contacts GROUP BY 1 HAVING count(*) > 1
    """).fetchall()
    expected = scalar(con, "SELECT count(*) FROM truth WHERE has_duplicate_contact")
    assert 0.01 * (N_ORDERS // 20) < len(groups) == expected < 0.03 * (N_ORDERS // 20)
    for email, n, customers, spellings, ids in groups:
        assert n == 2 and customers == 1 and spellings == 2, (email, ids)
    # surrounding blanks and case differences both occur
    assert scalar(con, "SELECT count(*) FROM contacts WHERE email <> trim(email)") > 0
    assert scalar(con, "SELECT count(*) FROM contacts WHERE email = upper(email)") > 0


def test_contact_values(con: duckdb.DuckDBPyConnection) -> None:
    names = [r[0] for r in con.execute("SELECT full_name FROM contacts").fetchall()]
    assert any("\u4e00" <= ch <= "\u9fff" for name in names for ch in name), "no Chinese names"
    assert any(ch in "éèëüöäßçÉ" for name in names for ch in name), "no accented names"
    phones = [r[0] for r in con.execute("SELECT phone FROM contacts WHERE phone IS NOT NULL").fetchall()]
    assert any(p.startswith("+1 ") for p in phones) and any(p.startswith("(") for p in phones)
    assert any(p.startswith("+86 ") for p in phones) and any(p.startswith("0049 ") for p in phones)
    countries = {r[0] for r in con.execute("SELECT DISTINCT country FROM contacts").fetchall()}
    assert countries == {"US", "DE", "GB", "FR", "CN", "JP"}
    business = con.execute("""
        SELECT t.is_business, count(*) FILTER (company_name IS NOT NULL), count(*) FILTER (company_name IS NULL)
        FROM contacts JOIN truth t USING (customer_id) GROUP BY 1 ORDER BY 1
    """).fetchall()
    assert business[0][1] == 0 and business[1][2] == 0
    opt_in = scalar(con, "SELECT avg((email_opt_in = 'true')::INT) FROM contacts")
    assert 0.6 < opt_in < 0.8
    assert (
        0
        < scalar(con, "SELECT count(*) FROM contacts WHERE birthday IS NULL")
        < scalar(con, "SELECT count(*) FROM contacts")
    )
    assert scalar(con, "SELECT max(updated_at::TIMESTAMP) FROM contacts") <= scalar(
        con, "SELECT TIMESTAMP '2026-06-30 23:59:59'"
    )
    assert scalar(con, "SELECT count(*) FROM contacts WHERE updated_at < created_at") == 0


# --- survey responses ------------------------------------------------------------------------------------------------


def test_survey_values(con: duckdb.DuckDBPyConnection) -> None:
    lo, hi = con.execute("SELECT min(submitted_at), max(submitted_at) FROM surveys").fetchone()
    assert lo.isoformat() >= "2024-06-30" and hi.isoformat() <= "2026-06-30T23:59:59+00:00"
    assert scalar(con, "SELECT count(*) FROM surveys WHERE nps_score NOT BETWEEN 0 AND 10") == 0
    for column in ("csat_product", "csat_service", "csat_price"):
        assert scalar(con, f"SELECT count(*) FROM surveys WHERE {column}::INT NOT BETWEEN 1 AND 5") == 0
        assert scalar(con, f"SELECT count(*) FROM surveys WHERE {column} IS NULL") > 0
    missing_contact = scalar(con, "SELECT avg((contact_id IS NULL)::INT) FROM surveys")
    assert 0.33 < missing_contact < 0.47
    names = {r[0] for r in con.execute("SELECT DISTINCT survey_name FROM surveys").fetchall()}
    assert {"post_purchase", "quarterly_nps"} <= names
    comments = [
        r[0] for r in con.execute("SELECT DISTINCT comment FROM surveys WHERE comment IS NOT NULL").fetchall()
    ]
    assert any("\u4e00" <= ch <= "\u9fff" for c in comments for ch in c)
    assert any("ä" in c or "ü" in c for c in comments)
    assert scalar(con, "SELECT count(*) FROM surveys WHERE is_complaint AND complaint_category IS NULL") == 0
    assert (
        scalar(con, "SELECT count(*) FROM surveys WHERE NOT is_complaint AND complaint_category IS NOT NULL")
        == 0
    )
    # contact ids, when present, exist and carry the same (normalized) e-mail
    assert scalar(con, """
        SELECT count(*) FROM surveys s JOIN contacts c USING (contact_id)
        WHERE lower(trim(s.respondent_email)) <> lower(trim(c.email))
    """) == 0  # fmt: skip
    assert (
        scalar(con, "SELECT count(*) FROM surveys WHERE contact_id NOT IN (SELECT contact_id FROM contacts)")
        == 0
    )
    assert scalar(con, "SELECT count(*) FROM surveys WHERE respondent_email <> lower(respondent_email)") > 0


def test_unmatched_survey_emails(con: duckdb.DuckDBPyConnection, demo: tuple[Path, DemoDataSummary]) -> None:
    _, summary = demo
    unmatched = scalar(con, """
        SELECT count(*) FROM surveys
        WHERE contact_id IS NULL
          AND lower(trim(respondent_email)) NOT IN (SELECT lower(trim(email)) FROM contacts)
    """)  # fmt: skip
    assert unmatched == summary.unmatched_survey_responses
    assert 0.02 < unmatched / summary.survey_responses < 0.04


def test_unhappy_customers(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("""
        SELECT t.customer_id, t.archetype,
               count(*) FILTER (s.is_complaint AND s.submitted_at >= TIMESTAMPTZ '2026-04-02') AS cur,
               count(*) FILTER (s.is_complaint AND s.submitted_at >= TIMESTAMPTZ '2026-01-02'
                                AND s.submitted_at < TIMESTAMPTZ '2026-04-02') AS prev,
               arg_max(s.nps_score, s.submitted_at) AS latest_nps
        FROM truth t
        JOIN contacts c USING (customer_id)
        JOIN surveys s ON lower(trim(s.respondent_email)) = lower(trim(c.email))
        WHERE t.unhappy
        GROUP BY ALL
    """).fetchall()
    assert len(rows) == scalar(con, "SELECT count(*) FROM truth WHERE unhappy")
    for customer, _archetype, cur, prev, latest_nps in rows:
        assert cur >= 1 and cur > prev and latest_nps <= 6, customer
    assert {r[1] for r in rows} == {"declining", "steady"}
    # complaints of the last 90 days are concentrated in declining customers
    share = scalar(con, """
        SELECT avg((t.archetype = 'declining')::INT)
        FROM surveys s JOIN contacts c ON lower(trim(s.respondent_email)) = lower(trim(c.email))
        JOIN truth t USING (customer_id)
        WHERE s.is_complaint AND s.submitted_at >= TIMESTAMPTZ '2026-04-02'
    """)  # fmt: skip
    assert share > 0.5
