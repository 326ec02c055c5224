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
import importlib.util
import sys
import warnings
from typing import TYPE_CHECKING

# GX imports pyspark whenever it is installed (the Spark extra), and pyspark then warns that it does not yet fully
# support pandas 3. c360 hands Spark data to pandas only through Arrow, which the Spark tests cover with pandas 3;
# in the output of every run, on DuckDB too, the warning is noise.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

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


def _import_gx_in_a_bare_process() -> None:
    """Import GX at once, marked interactive, in a process whose ``__main__`` has neither ``__spec__`` nor
    ``__file__`` (Dagster's run workers, which multiprocessing spawns). GX imports ``pyspark.sql.connect`` whenever
    pyspark is installed, and that module calls ``sys.exit(0)`` on import in such a process when the Spark Connect
    extras are missing (it takes the process for a doctest run): the run worker would end silently in the middle of
    the quality gate. The interactive mark (``sys.ps1``) skips that branch; the import then fails as an ordinary
    ImportError, which GX handles."""
    main = sys.modules.get("__main__")
    bare = main is not None and getattr(main, "__spec__", None) is None and not hasattr(main, "__file__")
    if not bare or hasattr(sys, "ps1") or "great_expectations" in sys.modules:
        return
    if importlib.util.find_spec("pyspark") is None:
        return
    sys.ps1 = ""
    try:
        importlib.import_module("great_expectations")
    finally:
        del sys.ps1


_import_gx_in_a_bare_process()

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
