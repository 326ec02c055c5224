"""Publication: the marts are copied to the published area only when every blocking check of the run passed.

Dagster enforces the gate: every blocking check (input contracts, dbt tests of error severity, GX suites) runs
before this asset, and a failed one skips it. When that happens the run fails and the held-back outcome is
written to the publication log by publishing.outcome (from the CLI or the run-failure sensor).
"""

from datetime import date

import dagster as dg

from orchestration.defs.dbt import manifest_json
from orchestration.defs.resources import ONE_DAY_PER_RUN, BuildDatabase
from publishing.duckdb_file import publish_tables
from publishing.gate import collect_check_results
from reporting import render_report


def published_table_names() -> list[str]:
    """Models under models/marts/ unless their config says meta.publish: false."""
    names = []
    for node in manifest_json()["nodes"].values():
        if node["resource_type"] != "model" or len(node["fqn"]) < 3 or node["fqn"][1] != "marts":
            continue
        if (node.get("config", {}).get("meta") or {}).get("publish", True) is False:
            continue
        names.append(node["name"])
    return sorted(names)


def build_publication_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    tables = published_table_names()

    @dg.asset(
        name="published_tables",
        group_name="publication",
        deps=[dg.AssetKey(name) for name in tables],
        partitions_def=partitions_def,
        backfill_policy=ONE_DAY_PER_RUN,
        kinds={"duckdb", "parquet"},
        description=(
            "The published area BI tools read: warehouse/published.duckdb (replaced atomically, readable by DuckDB "
            "1.4+) and published/<table>.parquet, plus publication_log. Runs only when every blocking check passed."
        ),
    )
    def published_tables(context: dg.AssetExecutionContext, build_db: BuildDatabase) -> dg.MaterializeResult:
        settings = build_db.settings
        checks = collect_check_results(context.instance, context.run.run_id)
        record = publish_tables(
            settings,
            run_id=context.run.run_id,
            as_of=date.fromisoformat(context.partition_key),
            tables=tables,
            checks=checks,
        )
        postgres_counts = None
        if settings.postgres_dsn:
            from publishing.postgres import publish_to_postgres, safe_target

            postgres_counts = publish_to_postgres(
                settings,
                settings.published_dir,
                [*tables, "publication_log"],
                run_id=context.run.run_id,
            )
            context.log.info(
                f"published {len(postgres_counts)} tables to PostgreSQL {safe_target(settings.postgres_dsn)} "
                f"schema {settings.postgres_schema}"
            )
        report = render_report(settings.published_db, settings.reports_dir, run_id=context.run.run_id)
        for warning in record.warnings:
            context.log.warning(f"warning (not blocking): {warning.line()}")
        context.log.info(
            f"published {len(record.row_counts)} tables to {settings.published_db}: "
            + ", ".join(f"{t}={n:,}" for t, n in record.row_counts.items())
        )
        return dg.MaterializeResult(
            metadata={
                "published_db": dg.MetadataValue.path(str(settings.published_db)),
                "parquet_dir": dg.MetadataValue.path(str(settings.published_dir)),
                "row_counts": dg.MetadataValue.json(record.row_counts),
                "report": dg.MetadataValue.path(str(report)),
                "postgres": dg.MetadataValue.text(
                    f"schema {settings.postgres_schema}: {sum(postgres_counts.values()):,} rows"
                    if postgres_counts is not None
                    else "off (set C360_PG_DSN)"
                ),
                "checks_passed": dg.MetadataValue.int(sum(1 for c in checks if c.passed)),
                "warnings": dg.MetadataValue.int(len(record.warnings)),
            }
        )

    return published_tables
