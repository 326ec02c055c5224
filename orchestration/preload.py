"""Imports warmed in the background while DuckDB works.

Great Expectations takes about 3 s to import and is first needed by the quality checks, after ingestion and dbt.
The ingestion steps start the import in a daemon thread: they spend their time in DuckDB, which releases the
GIL, so the import costs the run almost nothing. Started any earlier, it would only take turns with other Python
imports (Dagster, dbt, the instance's SQLAlchemy) on the GIL and on shared import locks.
"""

from __future__ import annotations

import sys
import threading

_lock = threading.Lock()
_started = False


def preload_quality_gate() -> None:
    """Start importing the GX suites in the background, once per process; a no-op when already imported.

    A failed import is ignored here: the checks import the same modules and report the error where it belongs.
    """
    global _started
    with _lock:
        if _started or "expectations.runner" in sys.modules:
            return
        _started = True

    def load() -> None:
        try:
            import expectations.runner  # noqa: F401
        except Exception:  # noqa: BLE001 - raised again by the checks' own import
            pass

    threading.Thread(target=load, name="c360-preload-gx", daemon=True).start()
