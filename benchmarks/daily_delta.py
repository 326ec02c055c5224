"""The next day's delivery for the incremental benchmark: new orders plus late updates, as one JSON Lines file.

Reads the loaded orders from a build database (read-only, after the full run) and writes
``landing/orders/orders_<day>.jsonl`` with

- ``new_share`` x distinct orders new orders (default 1 %), new order ids after the highest one, placed on ``day``
  (UTC) for existing customers, amounts/currency/channel/category copied from a random existing order;
- ``update_share`` x distinct orders late updates (default 0.2 %): existing orders re-delivered with ``updated_at``
  on ``day`` and a changed status (pending -> completed, completed -> refunded).

Deterministic for a given database (DuckDB ``repeatable`` samples and hash-based draws).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb


def write_daily_delta(
    build_db: Path, landing_orders: Path, day: date, *, new_share: float = 0.01, update_share: float = 0.002
) -> dict:
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"attach '{build_db}' as b (read_only)")
        n_orders, max_id = con.execute(
            "select count(distinct order_id), max(order_id) from b.raw.orders"
        ).fetchone()
        width = len(max_id) - 1
        start_no = int(max_id[1:])
        n_new = max(1, round(n_orders * new_share))
        n_upd = max(1, round(n_orders * update_share))
        day_sql = f"timestamp '{day.isoformat()}'"
        path = landing_orders / f"orders_{day.isoformat()}.jsonl"
        tmp = landing_orders / f".{path.name}.tmp"
        iso = "strftime({}, '%Y-%m-%dT%H:%M:%SZ')"
        con.execute(
            f"""
            create temp table delta as
            with templates as (
                select row_number() over () as i, *
                from (select * from b.raw.orders using sample reservoir({n_new} rows) repeatable (7))
            ),
            new_orders as (
                select 'O' || lpad(({start_no} + i)::varchar, {width}, '0') as order_id,
                       customer_id,
                       {day_sql} + to_seconds(hash(i, 'ts') % 86000) as order_ts,
                       case when hash(i, 'st') % 100 < 75 then 'completed'
                            when hash(i, 'st') % 100 < 95 then 'pending' else 'cancelled' end as status,
                       currency, gross_amount, discount_amount, cost_amount, channel, product_category,
                       {day_sql} + to_seconds(hash(i, 'ts') % 86000 + hash(i, 'up') % 300) as updated_at
                from templates
            ),
            updated as (
                select row_number() over () as i, *
                from (select * from b.raw.orders
                      where status in ('pending', 'completed') and order_ts < {day_sql}
                      using sample reservoir({n_upd} rows) repeatable (11))
            ),
            late_updates as (
                select order_id, customer_id, order_ts,
                       case status when 'pending' then 'completed' else 'refunded' end as status,
                       currency, gross_amount, discount_amount, cost_amount, channel, product_category,
                       {day_sql} + to_seconds(hash(i, 'lu') % 86000) as updated_at
                from updated
            )
            select * from new_orders union all select * from late_updates
            """
        )
        con.execute(
            f"""
            copy (
                select order_id, customer_id, {iso.format("order_ts")} as order_ts, status, currency,
                       gross_amount, discount_amount, cost_amount, channel, product_category,
                       {iso.format("updated_at")} as updated_at
                from delta order by updated_at, order_id
            ) to '{tmp}' (format json)
            """
        )
        tmp.replace(path)
        return {"file": path.name, "new_orders": n_new, "late_updates": n_upd, "bytes": path.stat().st_size}
    finally:
        con.close()
