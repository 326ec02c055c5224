"""Ingestion assets: landing files -> raw tables of the build (DuckDB or Spark), with the input contract as a
check."""

from collections.abc import Iterator

import dagster as dg

from ingestion.loader import SOURCES, SourceLoadResult
from ingestion.warehouse_sink import ingest_into
from orchestration.dbt_runner import start_parsing
from orchestration.defs.resources import ONE_DAY_PER_RUN, BuildDatabase, record_data_range
from orchestration.preload import preload_quality_gate


def _contract_result(result: SourceLoadResult, max_share: float) -> dg.AssetCheckResult:
    failed = result.failed_files
    share = result.rows_quarantined / result.rows_read if result.rows_read else 0.0
    problems = [f"{f.path}: {f.error}" for f in failed]
    if share > max_share:
        problems.append(
            f"{result.rows_quarantined:,} of {result.rows_read:,} rows read this run were quarantined "
            f"({share:.1%} > C360_MAX_QUARANTINE_SHARE={max_share:.1%}); see raw.quarantine for the reasons"
        )
    return dg.AssetCheckResult(
        check_name="input_contract",
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems) if problems else "every file readable, quarantine share within limit",
        metadata={
            "observed": dg.MetadataValue.text(f"{len(failed)} failed files, quarantine share {share:.2%}"),
            "expected": dg.MetadataValue.text(f"0 failed files, quarantine share <= {max_share:.1%}"),
            "failed_files": dg.MetadataValue.json([{"file": f.path, "error": f.error} for f in failed]),
            "quarantine_share": dg.MetadataValue.float(share),
        },
    )


def build_ingestion_asset(source: str, partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"raw_{source}",
        group_name="ingestion",
        partitions_def=partitions_def,
        backfill_policy=ONE_DAY_PER_RUN,
        kinds={"duckdb"},
        description=(
            f"Every accepted row of the landing files in landing/{source}/ (append-only, one version per delivery). "
            "Bad rows go to raw.quarantine with file, line, column, value and reason; raw.ingestion_log has "
            "one row per file with rows read = loaded + quarantined. Files already loaded (same content hash) "
            "are skipped."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                "input_contract",
                asset=f"raw_{source}",
                blocking=True,
                partitions_def=partitions_def,
                description="Every file readable with its required columns; quarantined share within the limit.",
            )
        ],
    )
    def _ingest(context: dg.AssetExecutionContext, build_db: BuildDatabase) -> Iterator:
        # GX and the dbt manifest load in the background while DuckDB loads files (DuckDB releases the GIL)
        preload_quality_gate()
        start_parsing()
        settings = build_db.settings
        with build_db.warehouse() as wh:
            result = ingest_into(
                wh,
                source,
                settings.landing_dir,
                encoding=settings.source_encoding(source),
                progress=context.log.info,
                settle_seconds=settings.landing_settle_seconds,
                staging_dir=settings.build_db.parent,
                memory_limit=settings.duckdb_memory_limit,
            )
            total_rows = wh.row_count("raw", source)
            if source == "orders":
                (dates,) = wh.query_arrow(
                    "select cast(min(order_ts) as date) as first, cast(max(order_ts) as date) as last "
                    "from raw.orders"
                ).to_pylist()
                record_data_range(settings, dates["first"], dates["last"])
        context.log.info(
            f"{len(result.new_files)} new files, {result.rows_loaded:,} rows loaded, "
            f"{result.rows_quarantined:,} quarantined, {len(result.failed_files)} failed files; "
            f"{total_rows:,} rows in raw.{source}"
        )
        for waiting in result.waiting_files:
            context.log.warning(f"not read yet, loaded by a later run: {waiting.path} ({waiting.error})")
        for ignored in result.ignored_files:
            context.log.warning(f"ignored: {ignored.path} ({ignored.error})")
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(total_rows),
                "rows_loaded_this_run": dg.MetadataValue.int(result.rows_loaded),
                "rows_quarantined_this_run": dg.MetadataValue.int(result.rows_quarantined),
                "files_waiting": dg.MetadataValue.int(len(result.waiting_files)),
                "entries_ignored": dg.MetadataValue.int(len(result.ignored_files)),
                "files": dg.MetadataValue.md(
                    "| file | status | read | loaded | quarantined | note |\n|---|---|---|---|---|---|\n"
                    + "\n".join(
                        f"| {f.path} | {f.status} | {f.rows_read} | {f.rows_loaded} | {f.rows_quarantined} "
                        f"| {f.error or ''} |"
                        for f in result.files
                    )
                ),
            },
            check_results=[_contract_result(result, settings.max_quarantine_share)],
        )

    return _ingest


def build_ingestion_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [build_ingestion_asset(source, partitions_def) for source in SOURCES]
