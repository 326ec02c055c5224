"""The floor: what DuckDB alone takes to read the landing files and compute the customer windows and ranks.

    python -m benchmarks.floor --landing DIR/landing --as-of 2026-06-30 --db DIR/floor.duckdb --out floor.json

Independent of c360's code and SQL on purpose (it imports nothing from the repository): one plain DuckDB script
that reads every landing file in the format it comes in (orders as Parquet, gzip CSV, CSV and JSON Lines;
contacts as a semicolon CSV with a byte order mark; survey responses as tab-separated text and JSON Lines),
keeps the latest row of each order (by ``updated_at``), converts amounts to USD with a fixed rate table and
writes one row per customer to a table in a DuckDB file: completed orders and net revenue over the last 30, 90
and 365 days and over all time (windows end with the as-of day, UTC), days since the last order, RFM quintiles
(``ntile(5)``) and the customer's contacts, survey answers and mean NPS score. The benchmark reports c360's
times over this one: how far the implementation is from the engine's own speed on the same input.

It checks nothing and keeps no history, so it is a floor, not an alternative.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

# Amounts per USD of the demo's currencies; the floor needs a rate table only to do the same kind of work.
FX_PER_USD = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "CNY": 7.2}

ORDER_COLUMNS = (
    "order_id, customer_id, order_ts::timestamptz as order_ts, lower(trim(status)) as status, "
    "upper(trim(currency)) as currency, gross_amount::decimal(18, 2) as gross_amount, "
    "coalesce(discount_amount::decimal(18, 2), 0) as discount_amount, updated_at::timestamptz as updated_at"
)


def _glob(folder: Path, suffix: str) -> str | None:
    files = sorted(p for p in folder.glob(f"*{suffix}") if p.is_file() and not p.name.startswith("."))
    if suffix == ".csv":  # *.csv does not match .csv.gz; a tab-separated .csv is told apart by the caller
        files = [p for p in files if p.name.endswith(".csv")]
    return "[" + ", ".join(f"'{p}'" for p in files) + "]" if files else None


def _orders_sql(folder: Path) -> str:
    readers = {
        ".parquet": "read_parquet({files})",
        ".csv.gz": "read_csv({files}, header = true, delim = ',', compression = 'gzip')",
        ".csv": "read_csv({files}, header = true, delim = ',')",
        ".jsonl": "read_json({files}, format = 'newline_delimited')",
    }
    parts = [
        f"select {ORDER_COLUMNS} from {reader.format(files=files)}"
        for suffix, reader in readers.items()
        if (files := _glob(folder, suffix))
    ]
    if not parts:
        raise SystemExit(f"floor: no order file in {folder}")
    return "\nunion all\n".join(parts)


def _responses_sql(folder: Path) -> str:
    parts = []
    if files := _glob(folder, ".csv"):
        parts.append(
            f"select contact_id, nps_score::integer as nps_score from read_csv({files}, delim = '\t')"
        )
    if files := _glob(folder, ".jsonl"):
        parts.append(
            "select contact_id, nps_score::integer as nps_score "
            f"from read_json({files}, format = 'newline_delimited')"
        )
    return "\nunion all\n".join(parts) or "select null::varchar as contact_id, null::integer as nps_score"


def floor_sql(landing: Path, as_of: date) -> str:
    end = as_of + timedelta(days=1)  # windows end with the as-of day, UTC
    fx = ", ".join(f"('{c}', {r})" for c, r in FX_PER_USD.items())
    contacts = _glob(landing / "contacts", ".csv")
    contacts_sql = (
        f"select contact_id, customer_id from read_csv({contacts}, delim = ';', header = true)"
        if contacts
        else "select null::varchar as contact_id, null::varchar as customer_id"
    )

    def window(days: int) -> str:
        since = f"timestamptz '{end}' - interval {days} day"
        return (
            f"count(*) filter (where order_ts >= {since}) as orders_{days}d, "
            f"coalesce(sum(net_usd) filter (where order_ts >= {since}), 0) as revenue_{days}d"
        )

    return f"""
create or replace table customer_windows as
with orders as (
    {_orders_sql(landing / "orders")}
),
latest as (
    select * from orders qualify row_number() over (partition by order_id order by updated_at desc) = 1
),
completed as (
    select l.customer_id, l.order_ts, (l.gross_amount - l.discount_amount) / fx.per_usd as net_usd
    from latest as l join (values {fx}) as fx (currency, per_usd) using (currency)
    where l.status = 'completed' and l.order_ts < timestamptz '{end}'
),
per_customer as (
    select customer_id,
           {window(30)}, {window(90)}, {window(365)},
           count(*) as orders_total, sum(net_usd) as revenue_total,
           date_diff('day', max(order_ts)::date, date '{as_of}') as days_since_last_order
    from completed group by customer_id
),
contacts as ({contacts_sql}),
responses as ({_responses_sql(landing / "survey_responses")}),
per_contact_customer as (
    select c.customer_id, count(distinct c.contact_id) as contacts,
           count(r.contact_id) as survey_responses, avg(r.nps_score) as mean_nps
    from contacts as c left join responses as r using (contact_id)
    group by c.customer_id
)
select p.*,
       ntile(5) over (order by p.days_since_last_order desc) as r_score,
       ntile(5) over (order by p.orders_365d) as f_score,
       ntile(5) over (order by p.revenue_365d) as m_score,
       coalesce(k.contacts, 0) as contacts, coalesce(k.survey_responses, 0) as survey_responses, k.mean_nps
from per_customer as p left join per_contact_customer as k using (customer_id)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--db", type=Path, required=True, help="a DuckDB file to write (replaced)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--memory-limit", default=None)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    import duckdb

    args.db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", ".wal"):
        Path(str(args.db) + suffix).unlink(missing_ok=True)
    con = duckdb.connect(
        str(args.db), config={"memory_limit": args.memory_limit} if args.memory_limit else {}
    )
    con.execute("set TimeZone = 'UTC'")
    t = time.perf_counter()
    con.execute(floor_sql(args.landing, args.as_of))
    con.execute("checkpoint")
    query_s = time.perf_counter() - t
    (customers,) = con.execute("select count(*) from customer_windows").fetchone()
    con.close()
    out = {"query_s": query_s, "customers": customers, "total_s": time.perf_counter() - started}
    args.out.write_text(json.dumps(out, indent=1))
    print(f"floor: {customers:,} customers in {query_s:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
