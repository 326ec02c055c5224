"""Each home keeps its own dbt target folder, so a run parses the dbt project again only when something changed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

# One parse as a run does it (dbt_runner._parse), in a new process: prints whether dbt could reuse its partial-parse
# cache and where it kept it.
_PARSE = """
import json, os, sys
os.environ["C360_HOME"] = sys.argv[1]
os.environ["C360_BUILD_DB"] = os.path.join(sys.argv[1], "warehouse", "build.duckdb")
from dbt.cli.main import dbtRunner
from orchestration.dbt_runner import run_args, run_target_path

events = []
result = dbtRunner(callbacks=[lambda e: events.append(e.info.name)]).invoke(
    ["parse", "--quiet", "--no-write-json", *run_args()]
)
print(json.dumps({
    "success": result.success,
    "full_parse": "UnableToPartialParse" in events or "PartialParsingNotEnabled" in events,
    "target": str(run_target_path()),
}))
"""


def _parse_in(home: Path, fresh_python: Callable) -> dict:
    completed = fresh_python(_PARSE, str(home))
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_a_run_in_another_home_does_not_make_the_next_run_here_parse_everything_again(
    tmp_path: Path, fresh_python: Callable
) -> None:
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    first_a = _parse_in(home_a, fresh_python)
    first_b = _parse_in(home_b, fresh_python)
    again_a = _parse_in(home_a, fresh_python)

    assert first_a["success"] and first_b["success"] and again_a["success"]
    # each home has its own target folder (partial-parse cache, compiled SQL) under its warehouse folder
    assert Path(first_a["target"]) == (home_a / "warehouse" / "dbt" / "duckdb").resolve()
    assert Path(first_b["target"]) == (home_b / "warehouse" / "dbt" / "duckdb").resolve()
    assert (Path(first_a["target"]) / "partial_parse.msgpack").is_file()
    # the build database's path is part of dbt's cache key: a shared cache would be invalid here after home b's parse
    assert not again_a["full_parse"]


def test_dbt_writes_its_log_file_only_when_asked_and_then_in_the_home(
    tmp_path: Path, fresh_python: Callable, monkeypatch
) -> None:
    quiet, logged = tmp_path / "quiet", tmp_path / "logged"
    monkeypatch.delenv("DBT_LOG_LEVEL_FILE", raising=False)
    completed = fresh_python(_PARSE, str(quiet))
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert not (quiet / "logs" / "dbt" / "dbt.log").exists()
    assert "Running with dbt" not in completed.stdout  # dbt's own output is off as well

    monkeypatch.setenv("DBT_LOG_LEVEL_FILE", "debug")  # dbt's own variable turns the file on
    completed = fresh_python(_PARSE, str(logged))
    assert completed.returncode == 0, completed.stderr[-3000:]
    log = (logged / "logs" / "dbt" / "dbt.log").read_text()
    assert "Running with dbt" in log and "[debug]" in log
