"""The gate imports in every kind of process, including Dagster's run workers."""

from __future__ import annotations

import subprocess
import sys


def test_gx_imports_in_a_process_whose_main_has_no_file():
    """A multiprocessing spawn child (Dagster's run worker) has a bare ``__main__``, as ``python -c`` has. With
    pyspark installed, GX's import of ``pyspark.sql.connect`` used to end such a process with exit 0 and no word."""
    code = (
        "from expectations import GateConfig, run_table_suite\n"
        "import great_expectations as gx\n"
        "gx.get_context(mode='ephemeral')\n"
        "print('imported')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("imported"), done.stderr[-2000:]
