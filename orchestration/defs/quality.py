"""Great Expectations suites (expectations/) as blocking asset checks on the marts they guard.

Each check validates one table of the build on the engine's backend (pandas on DuckDB, Spark DataFrames on Spark;
customer grain only; order-level facts such as freshness are reduced to one row by SQL in the engine first). A
validation that raised counts as a failed blocking check with the exception in its description: never as a pass.
"""

from datetime import date
from typing import TYPE_CHECKING

import dagster as dg

from expectations.tables import SUITE_TABLES
from orchestration.defs.resources import BuildDatabase
from publishing.log import last_published_row_count

if TYPE_CHECKING:
    from expectations import SuiteResult


def _to_check_result(result: "SuiteResult") -> dg.AssetCheckResult:
    failed = result.failed_blocking + result.errors
    lines = [
        f"{o.status.upper()}: {o.expectation} observed {o.observed} expected {o.expected}"
        + (f" ({o.detail})" if o.detail else "")
        for o in failed + result.warnings
    ]
    severity = dg.AssetCheckSeverity.ERROR if failed else dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(
        passed=not failed and not result.warnings,
        severity=severity,
        description="; ".join(lines) if lines else f"{len(result.outcomes)} expectations passed",
        metadata={
            "observed": dg.MetadataValue.text(
                "; ".join(f"{o.expectation}: {o.observed}" for o in failed) or "ok"
            ),
            "expected": dg.MetadataValue.text(
                "; ".join(f"{o.expectation}: {o.expected}" for o in failed) or "-"
            ),
            "expectations": dg.MetadataValue.int(len(result.outcomes)),
            "failed_blocking": dg.MetadataValue.int(len(result.failed_blocking)),
            "errors": dg.MetadataValue.int(len(result.errors)),
            "warnings": dg.MetadataValue.int(len(result.warnings)),
            "rows": dg.MetadataValue.int(result.rows),
            "seconds": dg.MetadataValue.float(round(result.seconds, 3)),
            "outcomes": dg.MetadataValue.md(
                "| expectation | status | severity | observed | expected |\n|---|---|---|---|---|\n"
                + "\n".join(
                    f"| {o.expectation} | {o.status} | {o.severity} | {o.observed} | {o.expected} |"
                    for o in result.outcomes
                )
            ),
        },
    )


def build_gx_check(table: str, partitions_def: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=table,
        name="gx_suite",
        blocking=True,
        partitions_def=partitions_def,
        description=f"Great Expectations suite for {table}: what the dbt tests cannot express (masked contact "
        "data, null rates, the vip share band, volume against the last publication, freshness; "
        "expectations/suites.py).",
    )
    def _check(context: dg.AssetCheckExecutionContext, build_db: BuildDatabase) -> dg.AssetCheckResult:
        # GX loads here, unless orchestration.preload already did
        from expectations import GateConfig, run_table_suite

        settings = build_db.settings
        as_of = date.fromisoformat(context.partition_key)
        with build_db.warehouse() as wh:
            result = run_table_suite(
                wh,
                table,
                as_of=as_of,
                config=GateConfig.from_env(),
                previous_row_count=last_published_row_count(settings, table),
            )
        context.log.info(
            f"gx_suite on {table}: {len(result.outcomes)} expectations, {len(result.failed_blocking)} failed, "
            f"{len(result.errors)} errors, {len(result.warnings)} warnings"
        )
        return _to_check_result(result)

    return _check


def build_gx_checks(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    return [build_gx_check(table, partitions_def) for table in SUITE_TABLES]
