"""The analytics package is pure math with a documented public API.

Both checks run in a fresh interpreter: started as ``.venv/bin/pytest``, pytest puts ``tests/`` first on
``sys.path`` and ``import analytics`` then resolves to the test folder of the same name (a namespace
package), not to the package under test.
"""

from __future__ import annotations

import json

_PROBE = """
import json, sys
import analytics
banned = ('orchestration', 'dagster', 'dbt', 'duckdb', 'great_expectations', 'publishing', 'warehouse')
functions = [n for n in analytics.__all__ if callable(getattr(analytics, n)) and n[0].islower()]
print(json.dumps({
    "file": analytics.__file__,
    "missing": [n for n in analytics.__all__ if not hasattr(analytics, n)],
    "undocumented": [n for n in functions if f"{n}(" not in analytics.__doc__ and not n.startswith("simulate_")
                     and not n.endswith("_log_likelihood")],
    "no_docstring": [n for n in functions if not getattr(analytics, n).__doc__],
    "loaded": sorted({m.split('.')[0] for m in sys.modules} & set(banned)),
}))
"""


def test_public_api_is_documented_and_loads_no_orchestration_or_io_library(fresh_python):
    proc = fresh_python(_PROBE)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["file"].endswith("analytics/__init__.py")
    assert found["missing"] == [] and found["undocumented"] == [] and found["no_docstring"] == []
    assert found["loaded"] == []
