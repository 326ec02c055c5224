"""Every dbt model and every column it builds is described, and no description is cut short by YAML.

The descriptions reach dbt docs, the Dagster UI and the published tables' comments (what BI tools show), so a
missing one is a gap users see. A description YAML cut short is easy to write and hard to spot: in a flow mapping
(`{name: x, description: Refunded orders (zero revenue, refund events)}`) the comma ends the description and
starts a stray key, and an unquoted ` #` starts a comment. The columns are compared with the tables that dbt
actually builds, on a small generated data set, so a renamed or added column without a description fails too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from raw_data import ingested_demo

from c360.settings import DBT_PROJECT_DIR
from demo.generator import MIN_ORDERS
from orchestration.dbt_runner import prepare_manifest
from orchestration.fits import FitSettings, run_fit_steps
from warehouse.engines import built_from_raw

AS_OF = "2026-06-30"
MODELS_DIR = DBT_PROJECT_DIR / "models"

# Keys dbt reads in a properties file, by the kind of entry; anything else is a typo or a cut description.
COLUMN_KEYS = {
    "name",
    "description",
    "data_tests",
    "tests",
    "data_type",
    "constraints",
    "meta",
    "config",
    "quote",
    "tags",
    "granularity",
}
MODEL_KEYS = {
    "name",
    "description",
    "columns",
    "data_tests",
    "tests",
    "config",
    "meta",
    "docs",
    "constraints",
    "access",
    "group",
    "latest_version",
    "versions",
    "deprecation_date",
    "time_spine",
}
SOURCE_KEYS = {
    "name",
    "description",
    "schema",
    "database",
    "tables",
    "meta",
    "config",
    "loader",
    "freshness",
    "loaded_at_field",
    "quoting",
    "tags",
    "overrides",
}
TABLE_KEYS = {
    "name",
    "description",
    "identifier",
    "columns",
    "data_tests",
    "tests",
    "meta",
    "config",
    "freshness",
    "loaded_at_field",
    "quoting",
    "tags",
    "external",
}
# `description: text # more` unquoted: YAML drops everything from ' #' on as a comment.
_COMMENT_IN_DESCRIPTION = re.compile(r"""\bdescription:\s*[^'"\s>|][^#\n]*\s#""")


def _yaml_files() -> list[Path]:
    return sorted(p for p in MODELS_DIR.rglob("*.yml") if not p.name.endswith("__unit_tests.yml"))


def _cut(entry: Any, allowed: set[str], where: str) -> list[str]:
    """Problems of one YAML entry: keys dbt does not know (the tail of a cut description), a description that is
    not one piece of text."""
    if not isinstance(entry, dict):
        return [f"{where}: not a mapping"]
    problems = [
        f"{where}: unexpected key {key!r} (a description cut by an unquoted comma?)"
        for key in entry
        if key not in allowed
    ]
    if "description" in entry and not isinstance(entry["description"], str):
        problems.append(f"{where}: the description is not text (quote it)")
    return problems


def yaml_problems(path: Path) -> list[str]:
    """Everything in a properties file that would make dbt read a shorter description than the one written."""
    text = path.read_text()
    problems = [
        f"{path.name}:{number}: an unquoted description with ' #' is cut there (quote it)"
        for number, line in enumerate(text.splitlines(), start=1)
        if _COMMENT_IN_DESCRIPTION.search(line)
    ]
    content = yaml.safe_load(text) or {}
    for model in content.get("models") or []:
        where = f"{path.name}: model {model.get('name')}"
        problems += _cut(model, MODEL_KEYS, where)
        for column in model.get("columns") or []:
            problems += _cut(column, COLUMN_KEYS, f"{where}, column {column.get('name')}")
    for source in content.get("sources") or []:
        where = f"{path.name}: source {source.get('name')}"
        problems += _cut(source, SOURCE_KEYS, where)
        for table in source.get("tables") or []:
            problems += _cut(table, TABLE_KEYS, f"{where}.{table.get('name')}")
            for column in table.get("columns") or []:
                problems += _cut(
                    column, COLUMN_KEYS, f"{where}.{table.get('name')}, column {column.get('name')}"
                )
    return problems


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads(prepare_manifest().read_text())


@pytest.fixture(scope="module")
def built_columns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[str]]]:
    """The columns of every model as dbt builds them (DuckDB, the smallest demo data set, no tests run)."""
    root = tmp_path_factory.mktemp("documentation")
    raw = ingested_demo(root, orders=MIN_ORDERS, seed=3, as_of=date.fromisoformat(AS_OF))
    with built_from_raw(
        "duckdb",
        root / "engine",
        raw,
        project_dir=DBT_PROJECT_DIR,
        dbt_vars=json.dumps({"as_of_date": AS_OF}),
        fit=lambda wh: run_fit_steps(wh, as_of_date=AS_OF, settings=FitSettings.from_vars()),
        extra_args=["--exclude-resource-type", "test", "unit_test"],
    ) as (engine, outcome):
        assert outcome.success, outcome.failures()
        yield {
            table: engine.wh.query_arrow(f"select * from {schema}.{table} limit 0").schema.names
            for schema, table in outcome.models
        }


def test_the_checker_catches_each_way_yaml_cuts_a_description(tmp_path: Path):
    path = tmp_path / "_demo__models.yml"
    path.write_text(
        "version: 2\n"
        "models:\n"
        "  - name: demo\n"
        "    description: One row per thing # of the shop\n"
        "    columns:\n"
        "      - {name: a, description: Refunded orders (zero revenue, counted as refund events).}\n"
        '      - {name: b, description: "Quoted, so whole (even with # and commas)."}\n'
        "      - name: c\n"
        "        description: A block value, with a comma, is whole.\n"
    )
    assert yaml_problems(path) == [
        "_demo__models.yml:4: an unquoted description with ' #' is cut there (quote it)",
        "_demo__models.yml: model demo, column a: unexpected key 'counted as refund events).' "
        "(a description cut by an unquoted comma?)",
    ]


def test_no_description_is_cut_by_yaml():
    problems = [problem for path in _yaml_files() for problem in yaml_problems(path)]
    assert not problems, "\n".join(problems)


def test_every_model_and_column_is_described(manifest: dict[str, Any], built_columns: dict[str, list[str]]):
    models = {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["package_name"] == "c360"
    }
    assert set(models) == set(built_columns)
    problems: list[str] = []
    for name, node in sorted(models.items()):
        if not node["description"].strip():
            problems.append(f"{name}: the model has no description")
        documented = node["columns"]
        actual = built_columns[name]
        problems += [
            f"{name}.{column}: no description"
            for column in actual
            if not (documented.get(column) or {}).get("description", "").strip()
        ]
        problems += [
            f"{name}.{column}: documented but not built" for column in documented if column not in actual
        ]
    assert not problems, f"{len(problems)} documentation gaps:\n" + "\n".join(problems)


def test_sources_are_described(manifest: dict[str, Any]):
    problems = [
        f"{source['source_name']}.{source['name']}" + (f".{column}" if column else "")
        for source in manifest["sources"].values()
        for column, props in [(None, source), *source["columns"].items()]
        if not props["description"].strip()
    ]
    assert not problems, "undescribed sources or source columns:\n" + "\n".join(problems)
