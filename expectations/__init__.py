"""Great Expectations quality gate of c360: suites as code and the function that runs them.

Typical use (one call per table, from the Dagster asset checks)::

    from expectations import GateConfig, run_table_suite, suite_tables

    config = GateConfig.from_env()
    for table in suite_tables():
        result = run_table_suite(con, table, as_of=as_of, config=config, previous_row_count=previous.get(table))
        if not result.passed:
            ...  # hold back the publication; result.summary() names each failed check
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Importing Great Expectations takes seconds, so the names below load on first use (PEP 562): Dagster can build
# its definitions from expectations.tables without paying for GX, and `c360 run` imports GX in the background.
_LAZY = {
    "ExpectationOutcome": "expectations.runner",
    "SuiteResult": "expectations.runner",
    "run_table_suite": "expectations.runner",
    "GateConfig": "expectations.suites",
    "build_gate_metrics_suite": "expectations.suites",
    "build_table_suite": "expectations.suites",
    "suite_tables": "expectations.suites",
}

if TYPE_CHECKING:
    from expectations.runner import ExpectationOutcome, SuiteResult, run_table_suite
    from expectations.suites import (
        GateConfig,
        build_gate_metrics_suite,
        build_table_suite,
        suite_tables,
    )


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'expectations' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ExpectationOutcome",
    "GateConfig",
    "SuiteResult",
    "build_gate_metrics_suite",
    "build_table_suite",
    "run_table_suite",
    "suite_tables",
]
