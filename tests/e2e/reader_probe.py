"""A BI-like reader in its own process: queries the published database until told to stop.

It keeps one connection open for the whole time (like a dashboard tool) and also opens the file afresh each
round (like a new session). In one process DuckDB shares the database instance of a path between connections, so
the fresh session attaches the file from a new in-memory database instead of calling connect(path) again. Every snapshot must be internally consistent: all tables from one publication.
Writes a JSON summary to argv[2] when argv[3] (a stop file) appears.
"""

import json
import sys
import time
from pathlib import Path

import duckdb

published, out, stop = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])


def fresh_session() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute(f"attach '{published}' as pub (read_only)")
    con.execute("use pub")
    return con


def snapshot(con: duckdb.DuckDBPyConnection) -> tuple:
    c360 = con.sql("select count(*), min(as_of_date), max(as_of_date) from customer_360").fetchone()
    tiers = con.sql(
        "select min(as_of_date), max(as_of_date), sum(customers) from kpi_customers_by_tier"
    ).fetchone()
    log = con.sql(
        "select max(as_of_date) from publication_log where logged_at = "
        "(select max(logged_at) from publication_log where status = 'published')"
    ).fetchone()
    return c360, tiers, log


summary = {"rounds": 0, "errors": [], "inconsistent": [], "as_of_seen_new": [], "as_of_seen_long": []}
long_lived = duckdb.connect(str(published), read_only=True)
Path(str(out) + ".ready").write_text("ready")
while not stop.exists():
    for label, make in (("new", fresh_session), ("long", lambda: long_lived)):
        try:
            con = make()
            (rows, c_min, c_max), (t_min, t_max, customers), (log_as_of,) = snapshot(con)
            if label == "new":
                con.close()
            consistent = c_min == c_max == t_min == t_max == log_as_of and rows == customers
            if not consistent:
                summary["inconsistent"].append(
                    [label, str(c_min), str(c_max), str(t_min), str(log_as_of), rows, customers]
                )
            key = f"as_of_seen_{label}"
            if str(c_min) not in summary[key]:
                summary[key].append(str(c_min))
        except Exception as exc:  # every error is a failure of the publication promise
            summary["errors"].append(f"{label}: {type(exc).__name__}: {exc}")
    summary["rounds"] += 1
    time.sleep(0.01)
out.write_text(json.dumps(summary))
