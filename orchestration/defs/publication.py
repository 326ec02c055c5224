"""Publication: the audited build becomes the published tables, only when every blocking check of the run passed.

Dagster enforces the gate: every blocking check (input contracts, dbt tests of error severity, GX suites) runs
before this asset, and a failed one skips it. The run then fails and its outcome goes to the publication log
(publishing/outcome.py, from the CLI or the run-failure sensor). What a publication changes, atomically as a
set, is described in publishing/publish.py.
"""

from collections.abc import Mapping
from datetime import date
from typing import Any

import dagster as dg

from c360.dbt_vars import defaults
from orchestration.dbt_reuse import build_marks
from orchestration.defs.dbt import manifest_json
from orchestration.defs.resources import ONE_DAY_PER_RUN, BuildDatabase
from publishing.gate import collect_check_results
from publishing.log import entries
from publishing.publish import TableSpec, publish
from publishing.state import state_tables
from reporting import render_report


def _meta(node: Mapping[str, Any]) -> Mapping[str, Any]:
    return (node.get("config") or {}).get("meta") or {}


def _primary_key(manifest: Mapping[str, Any], unique_id: str) -> tuple[str, ...]:
    """A single column the dbt tests declare both unique and not null."""
    tested: dict[str, set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or node.get("attached_node") != unique_id:
            continue
        name = (node.get("test_metadata") or {}).get("name")
        column = node.get("column_name")
        if name in ("unique", "not_null") and column:
            tested.setdefault(column, set()).add(name)
    keys = sorted(c for c, names in tested.items() if names == {"unique", "not_null"})
    return (keys[0],) if len(keys) == 1 else ()


def published_table_specs() -> list[TableSpec]:
    """Models under models/marts/ unless their config says meta.publish: false, with their documentation."""
    manifest = manifest_json()
    specs = []
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] != "model" or len(node["fqn"]) < 3 or node["fqn"][1] != "marts":
            continue
        if _meta(node).get("publish", True) is False:
            continue
        specs.append(
            TableSpec(
                name=node["name"],
                history=bool(_meta(node).get("c360_history")),
                description=node.get("description") or None,
                columns={name: col.get("description") or "" for name, col in node.get("columns", {}).items()},
                primary_key=_primary_key(manifest, uid),
            )
        )
    return sorted(specs, key=lambda spec: spec.name)


def published_table_names() -> list[str]:
    return [spec.name for spec in published_table_specs()]


def build_publication_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    specs = published_table_specs()

    @dg.asset(
        name="published_tables",
        group_name="publication",
        deps=[dg.AssetKey(spec.name) for spec in specs],
        partitions_def=partitions_def,
        backfill_policy=ONE_DAY_PER_RUN,
        kinds={"duckdb", "parquet"},
        description=(
            "The published area BI tools read: warehouse/published.duckdb and published/<table>.parquet, switched "
            "in as one set, plus publication_log. Runs only when every blocking check passed. A run for an older "
            "as-of date than the one in place updates only the history tables. The tables are exported from the "
            "engine that built them (DuckDB or Spark) to Parquet; the DuckDB file is built from those files."
        ),
    )
    def published_tables(context: dg.AssetExecutionContext, build_db: BuildDatabase) -> dg.MaterializeResult:
        settings = build_db.settings
        as_of = date.fromisoformat(context.partition_key)
        checks = collect_check_results(context.instance, context.run.run_id)
        postgres: dict[str, int] = {}

        def to_postgres(parquet_dir, tables):
            if not settings.postgres_dsn:
                return
            from publishing.postgres import publish_to_postgres, safe_target

            postgres.update(
                publish_to_postgres(settings, parquet_dir, tables, run_id=context.run.run_id, specs=specs)
            )
            context.log.info(
                f"published {len(postgres)} tables to PostgreSQL {safe_target(settings.postgres_dsn)} "
                f"schema {settings.postgres_schema}"
            )

        with build_db.warehouse() as wh:
            publication = publish(
                settings,
                warehouse=wh,
                run_id=context.run.run_id,
                as_of=as_of,
                tables=specs,
                state_tables=state_tables(manifest_json()),
                checks=checks,
                before_commit=to_postgres,
                # a table whose model was not built again since the version in place keeps its published files
                build_marks=build_marks(wh, manifest_json(), [spec.name for spec in specs]),
            )
        for warning in publication.warnings:
            context.log.warning(f"warning (not blocking): {warning.line()}")
        context.log.info(publication.entry.message)
        return dg.MaterializeResult(
            metadata={
                "published_db": dg.MetadataValue.path(str(settings.published_db)),
                "parquet_dir": dg.MetadataValue.path(str(settings.published_dir)),
                "version": dg.MetadataValue.text(publication.version.name),
                "scope": dg.MetadataValue.text("every table" if publication.full else "history tables only"),
                "kept": dg.MetadataValue.text(
                    ", ".join(publication.kept) if publication.kept else "none (every table written)"
                ),
                "current_as_of": dg.MetadataValue.text(publication.current_as_of.isoformat()),
                "row_counts": dg.MetadataValue.json(publication.row_counts),
                "postgres": dg.MetadataValue.text(
                    f"schema {settings.postgres_schema}: {sum(postgres.values()):,} rows"
                    if settings.postgres_dsn
                    else "off (set C360_PG_DSN)"
                ),
                "checks_passed": dg.MetadataValue.int(sum(1 for c in checks if c.passed)),
                "warnings": dg.MetadataValue.int(len(publication.warnings)),
            }
        )

    return published_tables


def build_report_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="run_report",
        group_name="publication",
        deps=["published_tables"],
        partitions_def=partitions_def,
        backfill_policy=ONE_DAY_PER_RUN,
        kinds={"html"},
        description="reports/latest.html: a self-contained page with the charts of the publication in place "
        "(tiers, stages, risk, satisfaction, cohorts, transitions, predictions) and the publication log.",
    )
    def run_report(context: dg.AssetExecutionContext, build_db: BuildDatabase) -> dg.MaterializeResult:
        settings = build_db.settings
        path = render_report(
            settings.published_db,
            settings.reports_dir,
            run_id=context.run.run_id,
            currency=defaults().get("reporting_currency"),
            log_rows=entries(settings),
        )
        return dg.MaterializeResult(metadata={"report": dg.MetadataValue.path(str(path))})

    return run_report
