"""What users see of one published run: BI clients reading the published files, and the Dagster UI's pages.

One small demo home is run once. The BI clients are real: each runs in its own virtual environment with the
pinned versions below (created with pip on first use and kept in pytest's cache folder), the way a BI tool
bundles them; pandas and pyarrow are those of this environment. The UI pages are rendered by headless Chromium
from a real `c360 ui` (webserver and daemon), started once. docs/bi.md states the tested recipe and versions.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import venv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
from e2e_helpers import AS_OF, c360_env, generate, run

from c360.enums import CHURN_RISK_LEVELS, VALUE_TIERS, enum_values
from orchestration.ui_driver import running_ui

pytestmark = pytest.mark.e2e

# name -> (pinned requirements, whether SQLAlchemy reflection works with them)
BI_CLIENTS: dict[str, tuple[tuple[str, ...], bool]] = {
    "sqlalchemy-1.4+duckdb-1.4": (("sqlalchemy==1.4.54", "duckdb-engine==0.17.0", "duckdb==1.4.5"), True),
    "sqlalchemy-2.0+duckdb-1.5": (("sqlalchemy==2.0.44", "duckdb-engine==0.17.0", "duckdb==1.5.6"), True),
    # SQLAlchemy 2.0.45 and later reflect columns through pg_catalog.pg_collation, which DuckDB does not have:
    # duckdb-engine 0.17.0 cannot list columns there (upstream bug); plain SQL still works.
    "sqlalchemy-2.1+duckdb-1.5": (("sqlalchemy==2.1.9", "duckdb-engine==0.17.0", "duckdb==1.5.6"), False),
}
PROBE = Path(__file__).with_name("bi_client_probe.py")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo home with one published run."""
    home = tmp_path_factory.mktemp("surfaces") / "c360"
    with c360_env(home):
        generate(home, orders=1_000, seed=5)
        assert run() == 0
    return home


def _client_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    return cache.mkdir("c360-bi-clients") if cache is not None else tmp_path_factory.mktemp("bi-clients")


def _client(root: Path, name: str, requirements: tuple[str, ...]) -> Path:
    """The Python of a virtual environment with exactly `requirements`, created on first use."""
    folder = root / name
    python = folder / "bin" / "python"
    stamp = folder / "requirements.txt"
    if stamp.exists() and stamp.read_text() == "\n".join(requirements):
        return python
    shutil.rmtree(folder, ignore_errors=True)
    venv.create(folder, with_pip=True, clear=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
        check=True,
        capture_output=True,
        timeout=600,
    )
    stamp.write_text("\n".join(requirements))
    return python


@pytest.fixture(scope="module")
def bi_clients(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = _client_dir(request, tmp_path_factory)
    with ThreadPoolExecutor(len(BI_CLIENTS)) as pool:
        futures = {name: pool.submit(_client, root, name, reqs) for name, (reqs, _) in BI_CLIENTS.items()}
        return {name: future.result() for name, future in futures.items()}


def _probe(python: Path, home: Path) -> dict[str, Any]:
    completed = subprocess.run(
        [str(python), str(PROBE), str(home / "warehouse" / "published.duckdb"), str(home / "published")],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)


@pytest.mark.parametrize("client", list(BI_CLIENTS))
def test_bi_client_opens_the_published_database_read_only(
    client: str, bi_clients: dict[str, Path], home: Path
):
    requirements, reflects = BI_CLIENTS[client]
    result = _probe(bi_clients[client], home)
    steps = result["steps"]
    assert sorted(f"{k}=={v}" for k, v in result["versions"].items()) == sorted(requirements)

    with duckdb.connect(str(home / "warehouse" / "published.duckdb"), read_only=True) as con:
        tables = sorted(t for (t,) in con.sql("select table_name from duckdb_tables()").fetchall())
        customers = con.sql("select count(*) from customer_360").fetchone()[0]
        columns = [
            c
            for (c,) in con.sql(
                "select column_name from duckdb_columns() where table_name = 'customer_360'"
            ).fetchall()
        ]
    assert steps["tables"] == {"ok": True, "value": tables}
    assert {"customer_360", "kpi_customers_by_tier", "publication_log"} <= set(tables)
    assert steps["customer_360 rows"] == {"ok": True, "value": customers} and customers > 0
    assert steps["table comment"]["ok"] and steps["table comment"]["value"].startswith(
        "Grain: one row per customer"
    )
    assert steps["parquet rows"] == {"ok": True, "value": customers}
    # read-only: the client cannot change what other readers see
    assert not steps["write"]["ok"] and "read-only" in steps["write"]["error"]
    if reflects:
        comments = steps["column comments"]["value"]
        assert list(comments) == columns
        assert all(comments.values()), [c for c, text in comments.items() if not text]
        assert steps["reflected select"] == {"ok": True, "value": _kpi_rows(home)}
    else:
        for name in ("column comments", "reflected select"):
            assert not steps[name]["ok"] and "pg_collation" in steps[name]["error"], (
                f"{client}: {name} works now; update BI_CLIENTS and docs/bi.md"
            )


def _kpi_rows(home: Path) -> int:
    with duckdb.connect(str(home / "warehouse" / "published.duckdb"), read_only=True) as con:
        return con.sql("select count(*) from kpi_customers_by_tier").fetchone()[0]


def test_parquet_reads_with_pyarrow_and_pandas(home: Path):
    path = home / "published" / "customer_360.parquet"
    table = pq.read_table(path)
    frame = pd.read_parquet(path)
    with duckdb.connect(str(home / "warehouse" / "published.duckdb"), read_only=True) as con:
        expected = con.sql("select * from customer_360").df()
    assert table.num_rows == len(frame) == len(expected) > 0
    assert list(frame.columns) == list(expected.columns)
    assert set(frame["value_tier"]) <= set(enum_values(VALUE_TIERS))
    assert frame["customer_id"].is_unique


# --------------------------------------------------------------------------------------------------------------
# The Dagster UI
# --------------------------------------------------------------------------------------------------------------


def _page_text(url: str, profile: Path, *, height: int = 1600, shows: str) -> str:
    """The visible text of a page of the Dagster UI (a single-page app) after headless Chromium ran its scripts.

    Chromium dumps the page when its virtual-time budget is spent, whether or not the UI's GraphQL answers have
    arrived; on a loaded machine the first dump can hold only the UI's frame. So a page whose text lacks
    ``shows`` is rendered again with twice the budget, up to three times; the caller's assertions then see the
    last text, complete or not.
    """
    for budget in (15_000, 30_000, 60_000):
        completed = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                f"--window-size=1600,{height}",
                f"--virtual-time-budget={budget}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert completed.returncode == 0, completed.stderr[-2000:]
        dom = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", completed.stdout, flags=re.S)
        text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom)))
        if shows in text:
            break
    return text


@pytest.mark.browser
def test_ui_pages_render(home: Path, tmp_path: Path):
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium to render the pages")
    first_data_date = json.loads((home / "state" / "data_range.json").read_text())["first_order_date"]
    with running_ui(home, tmp_path / "ui.log") as ui:
        base = f"http://127.0.0.1:{ui.port}"
        nodes = ui.query("query { assetNodes { assetKey { path } groupName } }")["assetNodes"]
        # each page with the text that shows it has rendered its content, not only the UI's frame
        pages = {
            "catalog": (f"{base}/assets", 8000, "customer_360"),
            "lineage": (f"{base}/asset-groups", 1600, "publication publication"),
            "partitions": (f"{base}/assets/customer_360?view=partitions", 1600, " Partitions"),
            "checks": (f"{base}/assets/customer_360?view=checks", 1600, "accepted_values_customer_360"),
        }
        with ThreadPoolExecutor(2) as pool:
            futures = {
                name: pool.submit(_page_text, url, tmp_path / f"profile-{name}", height=height, shows=shows)
                for name, (url, height, shows) in pages.items()
            }
            text = {name: future.result() for name, future in futures.items()}

    names = {node["assetKey"]["path"][-1] for node in nodes}
    assert {"raw_orders", "stg_shop__orders", "customer_360", "bgnbd_fit", "published_tables"} <= names
    missing = sorted(n for n in names if not re.search(rf"(?<![a-z0-9_]){n}(?![a-z0-9_])", text["catalog"]))
    assert not missing, f"the asset catalog does not show {missing}"
    # the lineage graph shows every asset group (folded: the catalog above lists what is inside)
    groups = {node["groupName"] for node in nodes}
    assert {"ingestion", "dbt_staging", "dbt_intermediate", "marts", "analytics", "publication"} <= groups
    assert all(f"{group} {group}" in text["lineage"] for group in groups), text["lineage"][:2000]

    # the partitions start at the first as-of date with data, not at a fixed date
    match = re.search(r"(\d{4}-\d{2}-\d{2}) (\d{4}-\d{2}-\d{2}) (\d+) Partitions", text["partitions"])
    assert match, text["partitions"][:2000]
    assert match[1] == first_data_date != "2024-01-01"

    # a dbt test shows what it checks, in words, and the partition it ran for
    assert "accepted_values_customer_360_value_tier" in text["checks"]
    levels = ", ".join(enum_values(CHURN_RISK_LEVELS))
    assert f"churn_risk_level is one of {levels}" in text["checks"], text["checks"][:3000]
    assert f"Partition {AS_OF}" in text["checks"]
