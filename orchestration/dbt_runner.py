"""dbt invoked in-process with a manifest parsed once per process.

dagster-dbt's DbtCliResource starts a dbt subprocess per step, and every change of `--vars` (the as-of date
changes every day) invalidates dbt's partial parse: together about 10-15 s of fixed cost per run on a small
machine. Here dbt runs through dbtRunner with the parsed Manifest object cached in memory (parsed without vars, so
the partial-parse file on disk stays valid across runs); the run's vars apply at compile time. The node results
are translated into the same Dagster events dagster-dbt would emit: one materialization per model, one asset
check result per dbt test (error severity blocks, warn severity is recorded).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import pickle
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import DagsterDbtTranslator
from dagster_dbt.asset_utils import (
    DAGSTER_DBT_EXCLUDE_METADATA_KEY,
    DAGSTER_DBT_SELECT_METADATA_KEY,
    DAGSTER_DBT_SELECTOR_METADATA_KEY,
    get_asset_check_key_for_test,
    get_subset_selection_for_context,
)

from c360.settings import DBT_PROJECT_DIR
from orchestration import dbt_reuse
from orchestration.dbt_manifest import MANIFEST, newest_source_mtime
from warehouse import connect

_lock = threading.Lock()
_manifest: Any = None


def _base_args() -> list[str]:
    return ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]


def _pickle_path() -> Path:
    import dbt.version

    return MANIFEST.with_name(f"c360_manifest_{dbt.version.__version__}.pickle")


def _manifest_fields(manifest: Any) -> dict[str, Any]:
    """The public fields of a Manifest. (Manifest.__reduce_ex__ passes its fields positionally and misses one,
    so a pickled Manifest comes back with shifted lookups; pickling the fields and rebuilding avoids that.)"""
    return {
        f.name: getattr(manifest, f.name) for f in dataclasses.fields(manifest) if not f.name.startswith("_")
    }


def _manifest_from_fields(fields: dict[str, Any]) -> Any:
    from dbt.contracts.graph.manifest import Manifest

    return Manifest(**fields)


def parsed_manifest() -> Any:
    """The dbt Manifest object, parsed once and kept as a pickle next to manifest.json.

    Loading the pickle takes milliseconds where a parse takes seconds; it is rebuilt whenever a dbt source file
    is newer than the pickle (the staleness rule of manifest.json) or dbt was upgraded. Builds run with
    --no-write-json, so they do not rewrite manifest.json; the pickle is compared with the dbt sources, not with
    that file.
    """
    global _manifest
    with _lock:
        if _manifest is None:
            pickled = _pickle_path()
            fresh = (
                pickled.exists()
                and MANIFEST.exists()
                and min(pickled.stat().st_mtime, MANIFEST.stat().st_mtime) >= newest_source_mtime()
            )
            if fresh:
                try:
                    _manifest = _manifest_from_fields(pickle.loads(pickled.read_bytes()))
                except Exception:  # noqa: BLE001 - a bad cache is rebuilt below
                    _manifest = None
            if _manifest is None:
                from dbt.cli.main import dbtRunner

                result = dbtRunner().invoke(["parse", "--quiet", *_base_args()])
                if not result.success or result.result is None:
                    raise RuntimeError(f"dbt parse failed: {result.exception}")
                _manifest = result.result
                tmp = pickled.with_suffix(".tmp")
                tmp.write_bytes(pickle.dumps(_manifest_fields(_manifest)))
                os.replace(tmp, pickled)
            # The manifest (about 300,000 objects) lives as long as the process: keep it out of the garbage
            # collector's scans, which otherwise walk it in every full collection during the build (1 s of a
            # 13 s run at 100k orders) and in release_duckdb's.
            gc.freeze()
        return _manifest


def release_duckdb() -> None:
    """Close dbt-duckdb's process-wide database handle so this process no longer holds the file lock.

    dbt-duckdb keeps one DuckDB instance per process and does not always close it after an in-process invocation;
    another process (a second run waiting for the pool slot, a BI tool on the build file) would get a lock error.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    conn = getattr(env, "conn", None)
    if conn is not None:
        conn.close()
        env.conn = None
        env.handle_count = 0
    DuckDBConnectionManager.close_all_connections()
    gc.collect()


def _materializations(
    built: list[tuple[Mapping[str, Any], float]],
    con: duckdb.DuckDBPyConnection,
    asset_key_for,
    reused: Mapping[str, Mapping[str, Any]],
) -> Iterator[dg.MaterializeResult]:
    """One materialization per built or reused model with what a data engineer looks at first in the UI: row
    count, column schema and (for the marts BI tools read) a five-row preview."""
    for props, seconds in built:
        relation = dbt_reuse.relation_name(props)
        rows = con.sql(f"select count(*) from {relation}").fetchone()[0]
        described = con.sql(f"describe {relation}").fetchall()
        columns = props.get("columns", {})
        schema = dg.TableSchema(
            columns=[
                dg.TableColumn(name, str(dtype), description=(columns.get(name) or {}).get("description"))
                for name, dtype, *_ in described
            ]
        )
        metadata = {
            "dagster/row_count": dg.MetadataValue.int(rows),
            "dagster/column_schema": dg.MetadataValue.table_schema(schema),
            "execution_seconds": dg.MetadataValue.float(round(seconds, 3)),
        }
        if props["fqn"][1] == "marts":
            preview = con.sql(f"select * from {relation} limit 5").fetchall()
            header = [name for name, *_ in described]
            metadata["preview"] = dg.MetadataValue.md(
                "| "
                + " | ".join(header)
                + " |\n|"
                + "---|" * len(header)
                + "\n"
                + "\n".join("| " + " | ".join(str(v) for v in row) + " |" for row in preview)
            )
        state = reused.get(props["unique_id"])
        if state is not None:
            metadata["c360/reused"] = dg.MetadataValue.text(
                f"not rebuilt: inputs unchanged since run {state['run_id']} (as-of {state['as_of_date']})"
            )
        yield dg.MaterializeResult(asset_key=asset_key_for(props), metadata=metadata)


def _selection(context: dg.AssetExecutionContext, manifest_json: Mapping[str, Any], translator) -> list[str]:
    tags = context.op_execution_context.op.tags
    args, indirect = get_subset_selection_for_context(
        context=context,
        manifest=manifest_json,
        select=tags.get(DAGSTER_DBT_SELECT_METADATA_KEY),
        exclude=tags.get(DAGSTER_DBT_EXCLUDE_METADATA_KEY),
        selector=tags.get(DAGSTER_DBT_SELECTOR_METADATA_KEY),
        dagster_dbt_translator=translator,
        current_dbt_indirect_selection_env=os.getenv("DBT_INDIRECT_SELECTION"),
    )
    if indirect:
        os.environ["DBT_INDIRECT_SELECTION"] = indirect
    return args


def _is_whole_project(context: dg.AssetExecutionContext) -> bool:
    assets_def = context.assets_def
    return (
        assets_def.keys_by_output_name == assets_def.node_keys_by_output_name
        and assets_def.check_specs_by_output_name == assets_def.node_check_specs_by_output_name
    )


def _selected_models(
    context: dg.AssetExecutionContext, manifest_json: Mapping[str, Any], asset_key_for
) -> list[str]:
    selected = set(context.selected_asset_keys)
    return [
        uid
        for uid, props in manifest_json["nodes"].items()
        if props["resource_type"] == "model" and asset_key_for(props) in selected
    ]


def run_dbt_build(
    context: dg.AssetExecutionContext,
    *,
    dbt_vars: Mapping[str, Any],
    manifest_json: Mapping[str, Any],
    translator: DagsterDbtTranslator,
    asset_key_for: Callable[[Mapping[str, Any]], dg.AssetKey],
    build_db: Path,
    full_refresh: bool = False,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """`dbt build` of the selected models and tests; yields Dagster events; raises if a model failed."""
    from dbt.cli.main import dbtRunner

    def on_event(event) -> None:
        # progress per model, and every test that did not pass (passing tests are summarized at the end)
        if event.info.name == "NodeFinished":
            node = event.data.node_info
            if node.resource_type == "model" or node.node_status not in ("pass", "success"):
                context.log.info(f"dbt {node.resource_type} {node.node_name}: {node.node_status}")

    selection = _selection(context, manifest_json, translator)
    models = _selected_models(context, manifest_json, asset_key_for)
    # reuse only on a whole-project run: a subset picked in the UI is rebuilt as asked
    whole_project = _is_whole_project(context) and not {"--exclude", "--selector"} & set(selection)
    allow_reuse = whole_project and not full_refresh and dbt_reuse.reuse_enabled()
    con = connect(build_db, read_only=False)
    try:
        reuse = dbt_reuse.plan(
            con,
            manifest_json,
            dbt_vars,
            (DBT_PROJECT_DIR / "dbt_project.yml").read_text(),
            candidates=models if allow_reuse else [],
        )
        # forget what is about to be rebuilt, so an interrupted build is never mistaken for a finished one
        dbt_reuse.forget(con, [m for m in models if m not in reuse.reused])
    finally:
        con.close()
    if reuse.reused:
        context.log.info(
            f"dbt: reusing {len(reuse.reused)} models whose inputs are unchanged (their tests still run): "
            + ", ".join(reuse.reused_names)
        )
        # the tests of the reused models stay selected: `fqn:*` selects them directly, and indirect selection
        # is off so that excluding a model does not exclude its tests
        selection = [*selection, "--exclude", *reuse.reused_names, "--indirect-selection", "empty"]

    args = [
        "build",
        *selection,
        "--vars",
        json.dumps(dict(dbt_vars)),
        "--exclude-resource-type",
        "unit_test",
        "--log-level",
        "warn",
        "--no-write-json",  # results go to Dagster; manifest.json stays the parsed one Dagster loaded
        *(["--full-refresh"] if full_refresh else []),
        *_base_args(),
    ]
    context.log.info("dbt " + " ".join(args[: args.index("--project-dir")]))
    try:
        result = dbtRunner(manifest=parsed_manifest(), callbacks=[on_event]).invoke(args)
    finally:
        release_duckdb()
    if result.result is None:
        raise dg.Failure(description=f"dbt build could not start: {result.exception}")

    statuses = [str(r.status).lower() for r in result.result.results]
    context.log.info(
        f"dbt build finished in {result.result.elapsed_time:.1f} s: "
        + ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
    )
    failed_models: list[str] = []
    failed_ids: list[str] = []
    built: list[tuple[Mapping[str, Any], float]] = []
    for node_result in result.result.results:
        node = node_result.node
        status = str(node_result.status).lower()
        props = manifest_json["nodes"].get(node.unique_id)
        if props is None:
            continue
        if node.resource_type == "model":
            if status == "success":
                built.append((props, node_result.execution_time))
            else:
                failed_models.append(f"{node.name}: {status} - {node_result.message}")
                failed_ids.append(node.unique_id)
        elif node.resource_type == "test":
            check_key = get_asset_check_key_for_test(manifest_json, translator, node.unique_id, None)
            if check_key is None:
                continue
            severity = str(getattr(node.config, "severity", "error")).lower()
            failures = node_result.failures
            yield dg.AssetCheckResult(
                asset_key=check_key.asset_key,
                check_name=check_key.name,
                passed=status == "pass",
                severity=dg.AssetCheckSeverity.ERROR if severity == "error" else dg.AssetCheckSeverity.WARN,
                description=None if status == "pass" else f"dbt test {status}: {node_result.message}",
                metadata={
                    "observed": dg.MetadataValue.text(
                        f"{failures} failing rows" if failures is not None else status
                    ),
                    "expected": dg.MetadataValue.text("0 failing rows"),
                    "dbt_status": dg.MetadataValue.text(status),
                },
            )
    built_ids = [props["unique_id"] for props, _ in built]
    con = connect(build_db, read_only=False)
    try:
        dbt_reuse.forget(con, failed_ids)
        dbt_reuse.record(
            con, manifest_json, reuse, built_ids, run_id=context.run.run_id, as_of=dbt_vars.get("as_of_date")
        )
        seconds = {props["unique_id"]: t for props, t in built} | dict.fromkeys(reuse.reused, 0.0)
        ordered = [
            (manifest_json["nodes"][uid], seconds[uid])
            for uid in dbt_reuse.topological(manifest_json, list(seconds))
        ]
        yield from _materializations(ordered, con, asset_key_for, reuse.reused)
    finally:
        con.close()
    if failed_models:
        raise dg.Failure(
            description="dbt models failed to build:\n" + "\n".join(failed_models),
            metadata={"failed_models": dg.MetadataValue.json(failed_models)},
        )
