"""The dbt manifest Dagster builds its asset graph from: prepared once (dbt parse), reused until dbt files change.

Nothing here runs at import time; `c360` and the tests call ensure_manifest() before loading the definitions,
and `dagster dev` prepares it through DbtProject.prepare_if_dev().
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from c360.settings import DBT_PROJECT_DIR

MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"


def newest_source_mtime() -> float:
    newest = 0.0
    for pattern in ("dbt_project.yml", "profiles.yml", "models/**/*", "macros/**/*", "tests/**/*"):
        for path in DBT_PROJECT_DIR.glob(pattern):
            if path.is_file():
                newest = max(newest, path.stat().st_mtime)
    return newest


def manifest_is_stale() -> bool:
    return not MANIFEST.exists() or MANIFEST.stat().st_mtime < newest_source_mtime()


def ensure_manifest(force: bool = False) -> Path:
    """Run `dbt parse` when the manifest is missing or older than any dbt source file."""
    if force or manifest_is_stale():
        dbt = Path(sys.executable).with_name("dbt")
        completed = subprocess.run(
            [
                str(dbt),
                "parse",
                "--quiet",
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
            ],
            cwd=DBT_PROJECT_DIR,
            capture_output=True,
            text=True,
        )
        if completed.returncode != 0:
            raise RuntimeError(
                "dbt parse failed; fix the dbt project and retry:\n"
                + (completed.stdout + completed.stderr)[-4000:]
            )
        MANIFEST.touch()
    return MANIFEST
