"""dbt models as Dagster assets (one per model) and dbt tests as asset checks (error severity blocks)."""

import functools
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject, dbt_assets

from c360.dbt_vars import VarError, check_vars
from c360.enums import enum_values
from c360.settings import DBT_PROJECT_DIR
from orchestration import dbt_reuse
from orchestration.dbt_runner import (
    BuildResult,
    check_keys_by_test,
    check_results,
    failure_details,
    invoke_build,
    manifest_path,
    not_run_tests,
)
from orchestration.defs.resources import ONE_DAY_PER_RUN, BuildDatabase
from publishing import state as state_store
from publishing import versions
from warehouse import Warehouse
from warehouse.engines import FIT_UPSTREAM, fit_upstream

_GROUPS = {"staging": "dbt_staging", "intermediate": "dbt_intermediate"}

# A test argument that reads an enumeration of var c360_enums (the manifest keeps it unrendered).
_ENUM_REFERENCE = re.compile(r"\{\{\s*var\(['\"]c360_enums['\"]\)\[['\"](?P<name>\w+)['\"]\]\s*\}\}")

# How a dbt generic test reads in the UI, by test name: {column} and the test's own arguments are filled in.
_TEST_PHRASES = {
    "unique": "{column} is unique",
    "not_null": "{column} is never null",
    "accepted_values": "{column} is one of {values}",
    "relationships": "{column} refers to an existing row of {to}",
    "between": "{column} is between {min_value} and {max_value}",
    "expression_is_true": "every row satisfies: {expression}",
    "unique_combination": "the combination {columns} is unique",
    "row_count_matches": "one row per row of {compare_model}",
    "has_fx_rate": "every {column} has an exchange rate to the reporting currency",
}


def dbt_project() -> DbtProject:
    # No prepare_if_dev(): the definitions prepare the manifest on every path (dbt_runner.prepare_manifest parses
    # the project when the dbt files differ from those it was parsed from). Under `dagster dev` prepare_if_dev
    # would run `dbt --version` and `dbt parse` per dbt multi-asset in every process that loads the definitions,
    # each run worker included: about 20 s before every run launched from the UI, the schedule or a backfill.
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def describe_test(props: Mapping[str, Any]) -> str:
    """A sentence for a dbt test: its YAML description, else one built from the generic test and its arguments."""
    if props.get("description"):
        return props["description"]
    metadata = props.get("test_metadata") or {}
    name = metadata.get("name") or props.get("name", "test")
    kwargs = {k: v for k, v in (metadata.get("kwargs") or {}).items() if not str(k).startswith("model")}
    column = props.get("column_name") or kwargs.get("column_name") or "the row"
    phrase = _TEST_PHRASES.get(name)
    if name == "between" and kwargs.get("max_value") is None:
        phrase = "{column} is at least {min_value}"
    if phrase:
        try:
            return phrase.format(column=column, **{k: _short(v) for k, v in kwargs.items()})
        except (KeyError, IndexError):
            pass
    return f"dbt test {name} on {column}"


def _short(value: Any) -> str:
    enum = _ENUM_REFERENCE.fullmatch(value.strip()) if isinstance(value, str) else None
    if enum:  # accepted_values read from var c360_enums: show the values themselves
        value = list(enum_values(enum["name"]))
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    text = text.replace("{{ ", "").replace(" }}", "").replace("get_where_subquery(", "").rstrip(")")
    return text if len(text) <= 120 else text[:117] + "..."


class C360DbtTranslator(DagsterDbtTranslator):
    """Asset key = model name (the table name); group = the model's folder; checks belong to the daily partition
    and say in words what they check."""

    def __init__(self, partitions_def: dg.PartitionsDefinition | None = None) -> None:
        # Both tables of the BG/NBD fit step are one Dagster asset (bgnbd_fit), hence duplicate source keys.
        super().__init__(
            settings=DagsterDbtTranslatorSettings(
                enable_asset_checks=True, enable_duplicate_source_asset_keys=True
            )
        )
        self._partitions_def = partitions_def

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "model":
            return dg.AssetKey([dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props["resource_type"] == "model" and len(fqn) > 2:
            return _GROUPS.get(fqn[1], "marts")
        return super().get_group_name(dbt_resource_props)

    def get_asset_check_spec(
        self, asset_spec: dg.AssetSpec, manifest: Mapping[str, Any], unique_id: str, project: Any
    ) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return None
        return dg.AssetCheckSpec(
            name=spec.name,
            asset=spec.asset_key,
            description=describe_test(manifest["nodes"][unique_id]),
            additional_deps=spec.additional_deps,
            blocking=spec.blocking,
            metadata=spec.metadata,
            partitions_def=self._partitions_def,
        )


class DbtRunConfig(dg.Config):
    """Var overrides for this run as a JSON object, e.g. {"churn_after_days": 120} (checked against their declared
    types and ranges); full_refresh rebuilds the incremental staging models from all raw data. The same values
    go to both dbt steps and the fit step between them."""

    vars_json: str = "{}"
    full_refresh: bool = False


def dbt_steps(manifest: Mapping[str, Any]) -> dict[str, str]:
    """The dbt steps of a run and their selections: the models the fit step needs (FIT_UPSTREAM: the models
    tagged fit_input and their ancestors), then every other model, named one by one. (A selection written with
    --exclude would also drop, as dbt's indirect selection does, the tests of the second step that read a model
    of the first one, such as the check that every order's customer is in the CRM.)"""
    nodes = manifest["nodes"]
    upstream = fit_upstream(nodes)
    rest = sorted(
        node["name"]
        for uid, node in nodes.items()
        if node["resource_type"] == "model" and uid not in upstream
    )
    return {"c360_dbt_upstream": FIT_UPSTREAM, "c360_dbt_models": " ".join(rest)}


def build_all_dbt_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [
        build_dbt_assets(partitions_def, name=name, select=select)
        for name, select in dbt_steps(manifest_json()).items()
    ]


@functools.cache
def manifest_json() -> dict[str, Any]:
    return json.loads(manifest_path().read_text())


def build_dbt_assets(
    partitions_def: dg.PartitionsDefinition,
    *,
    name: str = "c360_dbt_models",
    select: str = "fqn:*",
    exclude: str | None = None,
) -> dg.AssetsDefinition:
    """One dbt multi-asset over `select` minus `exclude`; every partition (as-of date) is one `dbt build`."""
    translator = C360DbtTranslator(partitions_def)
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        name=name,
        select=select,
        exclude=exclude,
        dagster_dbt_translator=translator,
        partitions_def=partitions_def,
        backfill_policy=ONE_DAY_PER_RUN,
    )
    def _dbt_models(context: dg.AssetExecutionContext, build_db: BuildDatabase, config: DbtRunConfig):
        try:
            overrides = check_vars(json.loads(config.vars_json or "{}"))
        except (VarError, ValueError) as exc:
            raise dg.Failure(description=f"invalid dbt vars: {exc}") from None
        yield from _build(
            context,
            build_db,
            translator,
            overrides=overrides,
            full_refresh=config.full_refresh,
            everything=everything,
        )

    # what the asset covers before any subsetting (a run of all of it may use dbt's own selection and reuse)
    everything = (frozenset(_dbt_models.keys), frozenset(_dbt_models.check_keys))
    return _dbt_models


def _build(
    context: dg.AssetExecutionContext,
    build_db: BuildDatabase,
    translator: C360DbtTranslator,
    *,
    overrides: Mapping[str, Any],
    full_refresh: bool,
    everything: tuple[frozenset, frozenset],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    settings = build_db.settings
    manifest = manifest_json()
    assets_def = context.assets_def
    keys_by_test = check_keys_by_test(assets_def)
    selected_assets = set(context.selected_asset_keys)
    selected_checks = set(context.selected_asset_check_keys)
    models = {
        uid: props
        for uid, props in manifest["nodes"].items()
        if props["resource_type"] == "model" and translator.get_asset_key(props) in selected_assets
    }
    whole = selected_assets == everything[0] and selected_checks == everything[1]
    # Exactly the models and tests of this step (as Dagster expects them), named one by one: dbt's indirect
    # selection would otherwise pull a test into the step of any of its parents, or drop the tests of reused models.
    tests = sorted(uid.split(".")[2] for uid, key in keys_by_test.items() if key in selected_checks)
    if not models and not tests:
        context.log.info("dbt: nothing selected")
        return
    as_of = context.partition_key
    version = versions.current(settings)
    dbt_vars = {
        **overrides,
        "as_of_date": as_of,
        dbt_reuse.STATE_VERSION_KEY: version.name if version else None,
    }
    allow_reuse = whole and not full_refresh and settings.dbt_reuse
    with build_db.warehouse() as wh:
        stored = state_store.register(wh, version, state_store.state_tables(manifest))
        if any(stored.values()):
            context.log.info(
                "history of earlier publications from the state store ("
                + ", ".join(f"{table}: {n} as-of dates" for table, n in stored.items())
                + f", version {version.name})"
            )
        reuse = dbt_reuse.plan(
            wh,
            manifest,
            dbt_vars,
            (DBT_PROJECT_DIR / "dbt_project.yml").read_text(),
            candidates=list(models) if allow_reuse else [],
        )
        # forget what is about to be rebuilt, so an interrupted build is never mistaken for a finished one
        dbt_reuse.forget(wh, [m for m in models if m not in reuse.reused])
    if reuse.reused:
        context.log.info(
            f"dbt: reusing {len(reuse.reused)} models whose inputs are unchanged (their tests still run): "
            + ", ".join(reuse.reused_names)
        )
    select = sorted(props["name"] for uid, props in models.items() if uid not in reuse.reused) + tests
    context.log.info(f"dbt build: {len(select) - len(tests)} models and {len(tests)} tests")
    build = invoke_build(
        select=select,
        indirect_selection="empty",
        vars_override=overrides,
        full_refresh=full_refresh,
        as_of=as_of,
        log=context.log.info,
        warn=context.log.warning,
        expected_models=len(models) - len(reuse.reused),
    )
    if build.error is not None:
        raise dg.Failure(description=f"dbt could not run: {build.error}")
    statuses = [n.status for n in build.nodes]
    context.log.info(
        f"dbt build finished in {build.seconds:.1f} s: "
        + ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
    )
    with build_db.warehouse() as wh:
        details = failure_details(
            build, manifest, lambda sql: list(wh.query(sql).itertuples(index=False, name=None))
        )
    # Materializations first: Dagster ties each check evaluation to the latest materialization of its asset
    # partition at the time it is stored, so the UI shows this run's checks on this run's tables (checks first
    # would attach them to the previous run's materialization).
    yield from _record_and_materialize(context, build_db, manifest, translator, build, reuse)
    yield from check_results(build, manifest, keys_by_test, selected_checks, details)
    if build.failed_models:
        _raise_model_failure(build, keys_by_test)
    skipped = [n.name for n in build.models("skipped")]
    if skipped:  # a blocking dbt test failed: the check results above hold the run back
        context.log.warning(f"not built because a blocking check failed: {', '.join(skipped)}")


def _record_and_materialize(
    context, build_db: BuildDatabase, manifest, translator, build: BuildResult, reuse
):
    built = {n.unique_id: n.seconds for n in build.models("success")}
    failed = [n.unique_id for n in build.failed_models]
    with build_db.warehouse() as wh:
        dbt_reuse.forget(wh, failed)
        counts = dbt_reuse.record(
            wh, manifest, reuse, list(built), run_id=context.run.run_id, as_of=context.partition_key
        )
        counts |= {uid: state["row_count"] for uid, state in reuse.reused.items()}
        seconds = built | dict.fromkeys(reuse.reused, 0.0)
        for uid in dbt_reuse.topological(manifest, list(seconds)):
            props = manifest["nodes"][uid]
            yield dg.MaterializeResult(
                asset_key=translator.get_asset_key(props),
                metadata=_metadata(wh, props, counts[uid], seconds[uid], reuse.reused.get(uid)),
            )


def _metadata(
    wh: Warehouse, props: Mapping[str, Any], rows: int, seconds: float, reused: Mapping[str, Any] | None
) -> dict:
    """What a data engineer looks at first in the UI: row count, column schema and (marts) a five-row preview."""
    schema_name, table = props["schema"], props.get("alias") or props["name"]
    described = wh.columns(schema_name, table)
    columns = props.get("columns", {})
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn(name, str(dtype), description=(columns.get(name) or {}).get("description"))
            for name, dtype in described
        ]
    )
    metadata: dict[str, Any] = {
        "dagster/row_count": dg.MetadataValue.int(rows),
        "dagster/column_schema": dg.MetadataValue.table_schema(schema),
        "execution_seconds": dg.MetadataValue.float(round(seconds, 3)),
    }
    if props["fqn"][1] == "marts":
        preview = wh.query_arrow(f"select * from {schema_name}.{table} limit 5").to_pylist()
        header = [name for name, _ in described]
        metadata["preview"] = dg.MetadataValue.md(
            "| "
            + " | ".join(header)
            + " |\n|"
            + "---|" * len(header)
            + "\n"
            + "\n".join("| " + " | ".join(str(row.get(name)) for name in header) + " |" for row in preview)
        )
    if reused is not None:
        metadata["c360/reused"] = dg.MetadataValue.text(
            f"not rebuilt: inputs unchanged since run {reused['run_id']} (as-of {reused['as_of_date']})"
        )
    return metadata


def _raise_model_failure(build: BuildResult, keys_by_test: Mapping[str, dg.AssetCheckKey]) -> None:
    """The root cause first: which model failed and dbt's error; then what could not run because of it."""
    failed = build.failed_models
    first = failed[0]
    lines = [f"dbt model {n.name} failed: {(n.message or n.status).strip()}" for n in failed]
    skipped_models = [n.name for n in build.models("skipped")]
    not_run = not_run_tests(build, keys_by_test)
    if skipped_models:
        lines.append(
            f"not built because of it: {len(skipped_models)} models ({', '.join(skipped_models[:8])}"
            + (", …" if len(skipped_models) > 8 else "")
            + ")"
        )
    if not_run:
        lines.append(f"not run because of it: {len(not_run)} checks")
    raise dg.Failure(
        description="\n".join(lines),
        metadata={
            "root_cause": dg.MetadataValue.text(
                f"dbt model {first.name} failed: {(first.message or '').strip()}"
            ),
            "failed_models": dg.MetadataValue.json([n.name for n in failed]),
            "not_run_checks": dg.MetadataValue.json(not_run),
            "not_built_models": dg.MetadataValue.json(skipped_models),
        },
    )
