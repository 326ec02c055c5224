"""dbt models as Dagster assets (one per model) and dbt tests as asset checks (error severity blocks)."""

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtProject,
    dbt_assets,
)

from c360.settings import DBT_PROJECT_DIR
from orchestration.dbt_runner import run_dbt_build
from orchestration.defs.resources import BUILD_DB_POOL, DAILY, ONE_DAY_PER_RUN, C360Settings

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()


class C360DbtTranslator(DagsterDbtTranslator):
    """Asset key = model name (the published table name); group = the model's folder (staging, intermediate, marts)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "model":
            return dg.AssetKey([dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props["resource_type"] == "model" and len(fqn) > 2:
            return {"staging": "dbt_staging", "intermediate": "dbt_intermediate"}.get(fqn[1], "marts")
        return super().get_group_name(dbt_resource_props)


class DbtRunConfig(dg.Config):
    """Extra dbt vars for this run, as a JSON object, e.g. {"churn_after_days": 120}; full_refresh rebuilds the
    incremental staging models from all raw data (history models are protected with full_refresh=false)."""

    vars_json: str = "{}"
    full_refresh: bool = False


TRANSLATOR = C360DbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@functools.cache
def _manifest_json() -> dict:
    return json.loads(Path(dbt_project.manifest_path).read_text())


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=TRANSLATOR,
    partitions_def=DAILY,
    backfill_policy=ONE_DAY_PER_RUN,
    pool=BUILD_DB_POOL,
)
def c360_dbt_models(context: dg.AssetExecutionContext, c360: C360Settings, config: DbtRunConfig):
    settings = c360.get()  # also exports C360_HOME / C360_BUILD_DB, which profiles.yml reads
    dbt_vars = {**json.loads(config.vars_json or "{}"), "as_of_date": context.partition_key}
    yield from run_dbt_build(
        context,
        dbt_vars=dbt_vars,
        manifest_json=_manifest_json(),
        translator=TRANSLATOR,
        asset_key_for=TRANSLATOR.get_asset_key,
        build_db=settings.build_db,
        full_refresh=config.full_refresh,
    )


defs = dg.Definitions(assets=[c360_dbt_models])
