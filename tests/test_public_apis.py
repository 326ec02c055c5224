"""c360 uses the public interfaces of dbt, Dagster, dagster-dbt and dbt-duckdb only: no import of an underscore
module and no use of an underscore attribute of those libraries, anywhere in the code (tests included)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "c360",
    "orchestration",
    "ingestion",
    "demo",
    "publishing",
    "reporting",
    "analytics",
    "warehouse",
    "expectations",
    "benchmarks",
    "tests",
)
LIBRARIES = ("dbt", "dagster", "dagster_dbt", "dagster_graphql", "dagster_shared", "dagster_pipes")


def _is_library(module: str) -> bool:
    return module.split(".")[0] in LIBRARIES


def _dagster_dbt():
    import dagster_dbt

    return dagster_dbt


def _private(module: str) -> bool:
    return any(part.startswith("_") for part in module.split("."))


def private_uses(source: str, filename: str) -> list[str]:
    """Imports of underscore modules of the libraries, and underscore attributes read off names imported from
    them, in one Python source."""
    tree = ast.parse(source, filename)
    found = []
    library_names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_library(alias.name):
                    library_names.add((alias.asname or alias.name).split(".")[0])
                    if _private(alias.name):
                        found.append(f"{filename}:{node.lineno} import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and _is_library(node.module):
            if _private(node.module):
                found.append(f"{filename}:{node.lineno} from {node.module} import ...")
            elif node.module.startswith("dagster_dbt."):
                # dagster-dbt's public interface is what its top-level package exports
                found += [
                    f"{filename}:{node.lineno} from {node.module} import {alias.name} (not exported by dagster_dbt)"
                    for alias in node.names
                    if not hasattr(_dagster_dbt(), alias.name)
                ]
            for alias in node.names:
                library_names.add(alias.asname or alias.name)
                if alias.name.startswith("_"):
                    found.append(f"{filename}:{node.lineno} from {node.module} import {alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in library_names:
                found.append(f"{filename}:{node.lineno} {base.id}...{node.attr}")
    return found


def test_no_private_interface_of_dbt_or_dagster_is_used():
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "test_public_apis.py":
                continue
            found += private_uses(path.read_text(), str(path.relative_to(ROOT)))
    assert not found, "\n".join(found)


def test_the_check_catches_private_uses():
    planted = (
        "import dagster as dg\n"
        "from dagster._core.storage import sqlite\n"
        "from dagster_dbt.asset_utils import _private_helper\n"
        "from dagster_dbt.asset_utils import get_asset_check_key_for_test\n"
        "from dbt.adapters.duckdb.connections import DuckDBConnectionManager\n"
        "DuckDBConnectionManager._ENV.conn.close()\n"
        "dg._core\n"
    )
    found = private_uses(planted, "planted.py")
    assert {int(f.split(":")[1].split()[0]) for f in found} == {2, 3, 4, 6, 7}, found
