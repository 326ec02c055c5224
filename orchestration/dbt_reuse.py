"""Reuse of unchanged dbt models: a daily run rebuilds only the models whose inputs changed.

A model's *fingerprint* covers everything its table depends on:
- its SQL (dbt's checksum) and config;
- the project: `dbt_project.yml` (vars and configs), every macro of the project, the dbt version, the run's `--var`
  overrides, and the values of the environment variables the project reads (hashed, e.g. the PII hash key);
- the as-of date, only when the model or a project macro it calls refers to it (`as_of`);
- the version of the state store, only when the model reads stored history (`stored_history`);
- the fingerprints of its parent models, and for raw sources their row count and newest ingested file.

After every model built by a run, its fingerprint is recorded in the build database (on every engine, through
the warehouse interface: a small table rewritten whole, since Spark's Parquet tables cannot update rows). The next run reuses a model
(leaves its table as it is) when the fingerprint is the same and the table still has the row count recorded then.
Its dbt tests still run on it, and Dagster still gets a materialization for the run's as-of date, marked reused.
On a daily run with only new order files, the identity chain (contacts, merges, profiles) and the survey matching
are reused; a re-run of the same day reuses every model.

Reuse applies to whole-project runs (the pipeline, backfills, the schedule), not to a subset a user picked in
the UI, and never with --full-refresh. `C360_DBT_REUSE=0` turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from warehouse import Warehouse

STATE_SCHEMA = "c360_meta"
# Environment variables the SQL reads through the connection rather than env_var() (the e-mail hash key, handed to
# DuckDB by warehouse/dbt_duckdb_plugin.py): their values change results as much as the SQL does.
CONNECTION_ENV = ("C360_PII_HASH_KEY",)
# Key of the state store's version among the values `fingerprints` gets with the vars (not a dbt var).
STATE_VERSION_KEY = "c360_state_version"
STATE_NAME = "dbt_model_state"
STATE_TABLE = f"{STATE_SCHEMA}.{STATE_NAME}"
_STATE_COLUMNS = pa.schema(
    [
        ("unique_id", pa.string()),
        ("fingerprint", pa.string()),
        ("row_count", pa.int64()),
        ("run_id", pa.string()),
        ("as_of_date", pa.date32()),
        ("built_at", pa.timestamp("us")),  # wall-clock time of the record (metadata, never used by a model)
    ]
)
_ENV_VAR = re.compile(r"""env_var\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")


def reuse_enabled() -> bool:
    return os.environ.get("C360_DBT_REUSE", "1").strip().lower() not in ("0", "false", "no", "off")


@dataclass(frozen=True)
class ReusePlan:
    fingerprints: dict[str, str]  # model unique_id -> fingerprint for this run
    reused: dict[str, dict[str, Any]] = field(default_factory=dict)  # model unique_id -> recorded build

    @property
    def reused_names(self) -> list[str]:
        return sorted(uid.split(".")[-1] for uid in self.reused)


def _sha(*parts: Any) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def _project_macros(manifest_json: Mapping[str, Any]) -> dict[str, Any]:
    project = manifest_json["metadata"].get("project_name")
    return {
        uid: macro for uid, macro in manifest_json["macros"].items() if macro.get("package_name") == project
    }


def _project_fingerprint(
    manifest_json: Mapping[str, Any], dbt_vars: Mapping[str, Any], project_yml: str
) -> str:
    macros = _project_macros(manifest_json)
    texts = [project_yml, *(m["macro_sql"] for m in macros.values())]
    texts += [n.get("raw_code") or "" for n in manifest_json["nodes"].values()]
    env_names = sorted({name for text in texts for name in _ENV_VAR.findall(text)} | set(CONNECTION_ENV))
    return _sha(
        manifest_json["metadata"].get("dbt_version"),
        project_yml,
        {uid: m["macro_sql"] for uid, m in sorted(macros.items())},
        {k: v for k, v in sorted(dbt_vars.items()) if k not in ("as_of_date", STATE_VERSION_KEY)},
        {name: _sha(os.environ.get(name)) for name in env_names},
    )


def _macro_closure(manifest_json: Mapping[str, Any], macro_ids: list[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(macro_ids)
    while stack:
        uid = stack.pop()
        if uid in seen or uid not in manifest_json["macros"]:
            continue
        seen.add(uid)
        stack.extend(manifest_json["macros"][uid].get("depends_on", {}).get("macros", []))
    return seen


def _mentions(manifest_json: Mapping[str, Any], node: Mapping[str, Any], token: str) -> bool:
    """True when the model's SQL, or a project macro it calls, contains `token`."""
    if token in (node.get("raw_code") or ""):
        return True
    project_macros = _project_macros(manifest_json)
    return any(
        token in project_macros[uid]["macro_sql"]
        for uid in _macro_closure(manifest_json, node.get("depends_on", {}).get("macros", []))
        if uid in project_macros
    )


def depends_on_as_of(manifest_json: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """True when the model's SQL, or a project macro it calls, refers to the as-of date."""
    return _mentions(manifest_json, node, "as_of")


def depends_on_state(manifest_json: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """True when the model reads the history kept in the state store."""
    return _mentions(manifest_json, node, "stored_history")


def _table_name(props: Mapping[str, Any]) -> str:
    return props.get("alias") or props.get("identifier") or props["name"]


def _relation(props: Mapping[str, Any]) -> tuple[str, str]:
    """(schema, table) of a model or source from its manifest entry."""
    return props["schema"], _table_name(props)


def _source_watermark(wh: Warehouse, props: Mapping[str, Any]) -> Any:
    """Raw tables are append-only logs: their row count and newest file say whether they changed. Any other
    source (tables written by a Python step between dbt selections) is fingerprinted by its content."""
    schema, name = _relation(props)
    if not wh.table_exists(schema, name):
        return "missing"
    if "_file_id" in {column for column, _ in wh.columns(schema, name)}:
        row = wh.query_arrow(
            f"select count(*) as n, max(_file_id) as newest from {schema}.{name}"
        ).to_pylist()
        return [row[0]["n"], row[0]["newest"]]
    return wh.table_checksum(schema, name)


def fingerprints(
    wh: Warehouse,
    manifest_json: Mapping[str, Any],
    dbt_vars: Mapping[str, Any],
    project_yml: str,
) -> dict[str, str]:
    """The fingerprint of every model of the project for this run (see the module docstring)."""
    project = _project_fingerprint(manifest_json, dbt_vars, project_yml)
    nodes = manifest_json["nodes"]
    sources = manifest_json["sources"]
    watermarks: dict[str, Any] = {}
    result: dict[str, str] = {}

    def fingerprint(uid: str) -> str:
        if uid in result:
            return result[uid]
        node = nodes[uid]
        parents = []
        for parent in node.get("depends_on", {}).get("nodes", []):
            if parent in sources:
                if parent not in watermarks:
                    watermarks[parent] = _source_watermark(wh, sources[parent])
                parents.append((parent, watermarks[parent]))
            elif parent in nodes and nodes[parent]["resource_type"] == "model":
                parents.append((parent, fingerprint(parent)))
            else:  # a seed, snapshot or something unknown: never reused
                parents.append((parent, os.urandom(8).hex()))
        result[uid] = _sha(
            project,
            node["checksum"],
            node.get("config"),
            dbt_vars.get("as_of_date") if depends_on_as_of(manifest_json, node) else None,
            dbt_vars.get(STATE_VERSION_KEY) if depends_on_state(manifest_json, node) else None,
            parents,
        )
        return result[uid]

    for uid, node in nodes.items():
        if node["resource_type"] == "model":
            fingerprint(uid)
    return result


def topological(manifest_json: Mapping[str, Any], unique_ids: list[str]) -> list[str]:
    """`unique_ids` with every model after the models it depends on (Dagster wants materializations so)."""
    nodes = manifest_json["nodes"]
    depth: dict[str, int] = {}

    def level(uid: str) -> int:
        if uid not in depth:
            parents = [p for p in nodes[uid].get("depends_on", {}).get("nodes", []) if p in nodes]
            depth[uid] = 1 + max((level(p) for p in parents), default=0)
        return depth[uid]

    return sorted(unique_ids, key=lambda uid: (level(uid), uid))


def _recorded(wh: Warehouse) -> dict[str, dict[str, Any]]:
    """The recorded builds, by model unique_id."""
    if not wh.table_exists(STATE_SCHEMA, STATE_NAME):
        return {}
    rows = wh.query_arrow(f"select {', '.join(_STATE_COLUMNS.names)} from {STATE_TABLE}").to_pylist()
    return {row["unique_id"]: row for row in rows}


def _store(wh: Warehouse, recorded: Mapping[str, Mapping[str, Any]]) -> None:
    rows = [dict(row) for _, row in sorted(recorded.items())]
    wh.write_table(STATE_SCHEMA, STATE_NAME, pa.Table.from_pylist(rows, schema=_STATE_COLUMNS))


def plan(
    wh: Warehouse,
    manifest_json: Mapping[str, Any],
    dbt_vars: Mapping[str, Any],
    project_yml: str,
    candidates: list[str],
) -> ReusePlan:
    """Which of `candidates` (model unique_ids) can keep the table built by an earlier run."""
    prints = fingerprints(wh, manifest_json, dbt_vars, project_yml)
    recorded = _recorded(wh)
    reused: dict[str, dict[str, Any]] = {}
    for uid in candidates:
        state = recorded.get(uid)
        props = manifest_json["nodes"][uid]
        if state is None or state["fingerprint"] != prints[uid] or not wh.table_exists(*_relation(props)):
            continue
        if wh.row_count(*_relation(props)) != state["row_count"]:
            continue  # changed outside c360 (a manual dbt run, say): rebuild
        reused[uid] = state
    return ReusePlan(fingerprints=prints, reused=reused)


def forget(wh: Warehouse, unique_ids: list[str]) -> None:
    """Drop the records of models about to be rebuilt (or that failed): an interrupted build is never reused."""
    recorded = _recorded(wh)
    if any(uid in recorded for uid in unique_ids):
        _store(wh, {uid: row for uid, row in recorded.items() if uid not in unique_ids})


def build_marks(wh: Warehouse, manifest_json: Mapping[str, Any], names: list[str]) -> dict[str, str]:
    """For each model in `names` with a recorded build: a mark of that build (fingerprint, run, time and row
    count), which changes whenever c360 builds the table again. The publication keeps a table's published files
    when its mark is the one the version in place was published with (and its row count that of the version).
    Models without a record (being built, failed, or never built by c360) get no mark."""
    by_name = {
        props["name"]: uid
        for uid, props in manifest_json["nodes"].items()
        if props["resource_type"] == "model"
    }
    recorded = _recorded(wh)
    return {
        name: _sha(state["fingerprint"], state["run_id"], state["built_at"], state["row_count"])
        for name in names
        if (state := recorded.get(by_name.get(name, ""))) is not None
    }


def record(
    wh: Warehouse,
    manifest_json: Mapping[str, Any],
    plan: ReusePlan,
    built: list[str],
    *,
    run_id: str,
    as_of: str | None,
) -> dict[str, int]:
    """Remember the fingerprint and row count of every model this run built; returns the row counts."""
    recorded = _recorded(wh)
    counts = {}
    built_at = datetime.now(UTC).replace(tzinfo=None)
    for uid in built:
        counts[uid] = wh.row_count(*_relation(manifest_json["nodes"][uid]))
        recorded[uid] = {
            "unique_id": uid,
            "fingerprint": plan.fingerprints[uid],
            "row_count": counts[uid],
            "run_id": run_id,
            "as_of_date": date.fromisoformat(as_of) if as_of else None,
            "built_at": built_at,
        }
    if built:
        _store(wh, recorded)
    return counts
