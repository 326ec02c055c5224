"""Great Expectations quality gate of c360 (SPEC §5): suites as code and the function that runs them.

Typical use (one call per table, from the Dagster asset checks)::

    from expectations import GateConfig, run_table_suite, suite_tables

    config = GateConfig.from_env()
    for table in suite_tables():
        result = run_table_suite(con, table, as_of=as_of, config=config, previous_row_count=previous.get(table))
        if not result.passed:
            ...  # hold back the publication; result.summary() names each failed check
"""

from expectations.runner import ExpectationOutcome, SuiteResult, run_table_suite
from expectations.suites import (
    CHURN_RISK_LEVELS,
    LIFECYCLE_STAGES,
    VALUE_TIERS,
    GateConfig,
    build_gate_metrics_suite,
    build_table_suite,
    suite_tables,
)

__all__ = [
    "CHURN_RISK_LEVELS",
    "LIFECYCLE_STAGES",
    "VALUE_TIERS",
    "ExpectationOutcome",
    "GateConfig",
    "SuiteResult",
    "build_gate_metrics_suite",
    "build_table_suite",
    "run_table_suite",
    "suite_tables",
]
