"""What a BI tool does with the published database, run inside a client's own virtual environment.

A tool built on SQLAlchemy + duckdb-engine (Superset, many notebooks) opens the file read-only, lists the tables,
reflects their columns with comments, and queries them; a DuckDB client also reads the published Parquet files.
Each step is recorded with its outcome instead of stopping at the first error, and the JSON summary goes to stdout.
Usage: python bi_client_probe.py <published.duckdb> <published Parquet folder>
"""

import json
import sys
from importlib import metadata

import duckdb
import sqlalchemy as sa

database, parquet = sys.argv[1], sys.argv[2]
summary = {
    "versions": {name: metadata.version(name) for name in ("duckdb", "duckdb-engine", "sqlalchemy")},
    "steps": {},
}


def step(name, action):
    try:
        summary["steps"][name] = {"ok": True, "value": action()}
    except Exception as exc:  # the outcome is the finding
        summary["steps"][name] = {"ok": False, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}


engine = sa.create_engine(f"duckdb:///{database}?access_mode=READ_ONLY")
with engine.connect() as con:
    inspector = sa.inspect(con)
    step("tables", lambda: sorted(inspector.get_table_names()))
    step(
        "customer_360 rows",
        lambda: con.execute(sa.text("select count(*) from customer_360")).scalar(),
    )
    step("table comment", lambda: inspector.get_table_comment("customer_360")["text"])
    step(
        "column comments",
        lambda: {column["name"]: column.get("comment") for column in inspector.get_columns("customer_360")},
    )
    step(
        "reflected select",
        lambda: len(
            con.execute(
                sa.select(sa.Table("kpi_customers_by_tier", sa.MetaData(), autoload_with=con))
            ).fetchall()
        ),
    )
    step("write", lambda: con.execute(sa.text("create table bi_probe (x integer)")).rowcount)
engine.dispose()

with duckdb.connect() as con:
    step(
        "parquet rows",
        lambda: con.execute(
            f"select count(*) from read_parquet('{parquet}/customer_360.parquet')"
        ).fetchone()[0],
    )

json.dump(summary, sys.stdout)
