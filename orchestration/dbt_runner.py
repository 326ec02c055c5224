"""dbt inside the run's process, through dbt's programmatic entry point `dbtRunner` (public API only).

Why in-process rather than a dbt subprocess per step (dagster-dbt's DbtCliResource): the run already holds the
warehouse (the DuckDB file, or the local SparkSession that dbt-spark's `session` method shares), and a
subprocess would pay dbt's import and parse again. The manifest is parsed once per process, in the background
while ingestion runs (`start_parsing`), and reused for every invocation of the run (`dbtRunner(manifest=...)`).

The as-of date reaches dbt through the environment variable C360_AS_OF_DATE, which the project reads only at
execution time (macros/as_of.sql), so a new date never invalidates dbt's partial parse; var overrides given by a
user do (dbt re-parses the project when --vars change), which costs a few seconds on those runs only.

Node results become the Dagster events dagster-dbt would emit: one materialization per model (row count, column
schema, preview of the marts) and one asset check result per dbt test; tests that did not run because a model
failed are reported as not run, never as failed.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from c360.settings import DBT_PROJECT_DIR

# The metadata key dagster-dbt puts on every asset check spec it builds from a dbt test.
UNIQUE_ID_METADATA_KEY = "dagster_dbt/unique_id"

_lock = threading.Lock()
_parse_thread: threading.Thread | None = None
_manifest: Any = None
_parse_error: BaseException | None = None
_parsed_target: str | None = None  # the dbt target the manifest was parsed for (configs differ per engine)


def current_target() -> str:
    """The dbt target of profiles.yml that this process's environment selects."""
    return os.environ.get("C360_DBT_TARGET") or "duckdb"


def base_args() -> list[str]:
    return ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]


def run_target_path() -> Path:
    """dbt's target folder for the runs of this home and dbt target: $C360_HOME/warehouse/dbt/<target>.

    dbt keeps its partial-parse cache there, and that cache is valid only for one connection profile (the profile's
    values, such as the build database's path, are part of its key). In a folder shared by several homes every run
    after a run of another home would parse the whole project again (6 s or more); per home, only a home's first
    run does, and runs of different homes at the same time never overwrite each other's compiled SQL.
    """
    home = os.environ.get("C360_HOME")
    if not home:
        return DBT_PROJECT_DIR / "target"
    return Path(home).expanduser().resolve() / "warehouse" / "dbt" / current_target()


def log_args() -> list[str]:
    """dbt's own loggers in a run: off unless dbt's variables ``DBT_LOG_LEVEL`` (the output) and
    ``DBT_LOG_LEVEL_FILE`` (the file, then kept per home in ``$C360_HOME/logs/dbt/dbt.log``) ask for them.

    Why off: a dbt logger formats every event (every SQL statement of every node) before it looks at its level, so
    even an output at ``warn`` and a file at ``info`` cost as much as full debug logging: measured on daily runs of
    100k orders, the output alone 3.5 s of 19.5 s of dbt, the file about as much again. Nothing is lost: node
    results, test results and dbt's errors come back in the build result, and :func:`invoke_build` passes dbt's
    warnings and errors to the run's log (the callback gets every event already built).
    """
    args = [
        "--log-level",
        os.environ.get("DBT_LOG_LEVEL") or "none",
        "--log-level-file",
        os.environ.get("DBT_LOG_LEVEL_FILE") or "none",
    ]
    home = os.environ.get("C360_HOME")
    if home:
        args += ["--log-path", str(Path(home).expanduser().resolve() / "logs" / "dbt")]
    return args


def run_args() -> list[str]:
    """The arguments every dbt invocation of a run adds: the project, the profile, the run's target folder and
    its log settings."""
    return [*base_args(), "--target-path", str(run_target_path()), *log_args()]


def _parse() -> None:
    global _manifest, _parse_error
    from dbt.cli.main import dbtRunner

    try:
        result = dbtRunner().invoke(["parse", "--no-write-json", *run_args()])
        if not result.success or result.result is None:
            raise RuntimeError(f"dbt could not parse the project: {result.exception}")
        _manifest = result.result
        # The manifest (about 300,000 objects) lives as long as the process: keep it out of the garbage
        # collector's scans, which otherwise walk it in every full collection during the build.
        gc.freeze()
    except BaseException as exc:  # noqa: BLE001 - re-raised by parsed_manifest() in the caller's thread
        _parse_error = exc


def start_parsing() -> None:
    """Parse the dbt project in a background thread, once per process and dbt target (a no-op when started
    already for the target of the environment; a new target is parsed again, since model configs depend on it).

    Started by the ingestion steps: they spend their time in DuckDB, which releases the GIL, so the parse costs
    the run little. dbt reads its connection settings (profiles.yml) from the environment, which the run's
    build-database resource sets before any step.
    """
    global _parse_thread, _manifest, _parse_error, _parsed_target
    with _lock:
        target = current_target()
        if _parsed_target != target:
            if _parse_thread is not None:
                _parse_thread.join()
            _parse_thread, _manifest, _parse_error, _parsed_target = None, None, None, target
        if _parse_thread is None and _manifest is None:
            _parse_thread = threading.Thread(target=_parse, name="c360-dbt-parse", daemon=True)
            _parse_thread.start()


def parsed_manifest() -> Any:
    """The dbt Manifest of this process (parsed here if the background parse was not started)."""
    start_parsing()
    assert _parse_thread is not None or _manifest is not None
    if _parse_thread is not None:
        _parse_thread.join()
    if _manifest is None:
        raise RuntimeError(f"dbt could not parse the project: {_parse_error}") from _parse_error
    return _manifest


def release_duckdb() -> None:
    """Let go of dbt-duckdb's process-wide database handle, so no file lock outlives the dbt invocation."""
    if current_target() != "duckdb":
        return
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    DuckDBConnectionManager.close_all_connections()
    gc.collect()


@contextlib.contextmanager
def as_of_environment(as_of: str) -> Iterator[None]:
    """C360_AS_OF_DATE for the duration of one dbt invocation (read by macros/as_of.sql at execution)."""
    previous = os.environ.get("C360_AS_OF_DATE")
    os.environ["C360_AS_OF_DATE"] = as_of
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("C360_AS_OF_DATE", None)
        else:
            os.environ["C360_AS_OF_DATE"] = previous


@dataclass
class NodeOutcome:
    unique_id: str
    name: str
    resource_type: str
    status: str  # success | error | pass | fail | warn | skipped | ...
    message: str | None
    seconds: float
    failures: int | None
    relation_name: str | None = None  # where a test stored its failing rows (store_failures), if it did


@dataclass
class BuildResult:
    """What one `dbt build` did, in node order."""

    nodes: list[NodeOutcome] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None  # dbt could not run at all

    def models(self, *statuses: str) -> list[NodeOutcome]:
        return [
            n for n in self.nodes if n.resource_type == "model" and (not statuses or n.status in statuses)
        ]

    @property
    def failed_models(self) -> list[NodeOutcome]:
        """Models that could not be built (skipped ones were not tried: a model or a test before them failed)."""
        return [n for n in self.models() if n.status not in ("success", "skipped")]


def invoke_build(
    *,
    select: Sequence[str],
    exclude: Sequence[str] = (),
    indirect_selection: str | None = None,
    vars_override: Mapping[str, Any] | None = None,
    full_refresh: bool = False,
    as_of: str,
    log: Any = None,
    warn: Any = None,
    expected_models: int | None = None,
) -> BuildResult:
    """`dbt build` of `select` minus `exclude` with the run's as-of date; unit tests are left to the test suite.

    `log(line)` gets a line per finished model and per test that did not pass; `warn(line)` every warning and
    error dbt reports (dbt's own output is off, see `log_args`)."""
    from dbt.cli.main import dbtRunner

    total_models = 0
    finished = {"models": 0}

    def on_event(event) -> None:
        if warn is not None and event.info.level in ("warn", "error") and event.info.msg.strip():
            warn(f"dbt: {event.info.msg.strip()}")
        if log is None or event.info.name != "NodeFinished":
            return
        node = event.data.node_info
        if node.resource_type == "model":
            finished["models"] += 1
            counter = f"[{finished['models']}/{total_models}] " if total_models else ""
            log(f"dbt {counter}model {node.node_name}: {node.node_status}")
        elif node.node_status not in ("pass", "success", "skipped"):
            log(f"dbt test {node.node_name}: {node.node_status}")

    args = ["build", "--select", *select]
    if exclude:
        args += ["--exclude", *exclude]
    if indirect_selection:
        args += ["--indirect-selection", indirect_selection]
    if vars_override:
        args += ["--vars", json.dumps(dict(vars_override), sort_keys=True)]
    args += ["--exclude-resource-type", "unit_test", "--no-write-json"]
    if full_refresh:
        args.append("--full-refresh")
    manifest = parsed_manifest()
    total_models = expected_models or 0
    started = time.monotonic()
    with as_of_environment(as_of):
        try:
            result = dbtRunner(manifest=manifest, callbacks=[on_event]).invoke([*args, *run_args()])
        finally:
            release_duckdb()
    outcome = BuildResult(seconds=time.monotonic() - started)
    if result.result is None:
        outcome.error = str(result.exception)
        return outcome
    for node_result in result.result.results:
        node = node_result.node
        outcome.nodes.append(
            NodeOutcome(
                unique_id=node.unique_id,
                name=node.name,
                resource_type=str(node.resource_type),
                status=str(node_result.status).lower(),
                message=node_result.message,
                seconds=float(node_result.execution_time or 0.0),
                failures=node_result.failures,
                relation_name=getattr(node, "relation_name", None),
            )
        )
    return outcome


def check_keys_by_test(assets_def: dg.AssetsDefinition) -> dict[str, dg.AssetCheckKey]:
    """dbt test unique_id -> the Dagster check key dagster-dbt gave it (from the public check specs)."""
    keys = {}
    for spec in assets_def.check_specs:
        unique_id = (spec.metadata or {}).get(UNIQUE_ID_METADATA_KEY)
        if unique_id:
            keys[unique_id] = spec.key
    return keys


def check_results(
    build: BuildResult,
    manifest_json: Mapping[str, Any],
    keys_by_test: Mapping[str, dg.AssetCheckKey],
    selected: set[dg.AssetCheckKey],
    details: Mapping[str, list[str]] | None = None,
) -> Iterator[dg.AssetCheckResult]:
    """One asset check result per dbt test that ran (skipped tests did not run: no result, see not_run_tests).
    `details` holds, per test unique_id, the sentences its failing rows give (see failure_details)."""
    for node in build.nodes:
        key = keys_by_test.get(node.unique_id)
        if key is None or key not in selected or node.status == "skipped":
            continue
        props = manifest_json["nodes"].get(node.unique_id, {})
        severity = str((props.get("config") or {}).get("severity") or "error").lower()
        passed = node.status == "pass"
        yield dg.AssetCheckResult(
            asset_key=key.asset_key,
            check_name=key.name,
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR if severity == "error" else dg.AssetCheckSeverity.WARN,
            description=None
            if passed
            else "; ".join(
                (details or {}).get(node.unique_id) or [f"dbt test {node.status}: {node.message}"]
            ),
            metadata={
                "observed": dg.MetadataValue.text(
                    f"{node.failures} failing rows" if node.failures is not None else node.status
                ),
                "expected": dg.MetadataValue.text("0 failing rows"),
                "dbt_status": dg.MetadataValue.text(node.status),
            },
        )


def not_run_tests(build: BuildResult, keys_by_test: Mapping[str, dg.AssetCheckKey]) -> list[str]:
    """Checks that dbt skipped because a model they test (or one upstream) failed."""
    return sorted(
        keys_by_test[n.unique_id].name
        for n in build.nodes
        if n.status == "skipped" and n.unique_id in keys_by_test
    )


SHOW_FAILURES_META = "c360_show_failures"


def failure_details(
    build: BuildResult, manifest_json: Mapping[str, Any], query: Any, limit: int = 10
) -> dict[str, list[str]]:
    """For failed tests whose config meta names a column (c360_show_failures: <column>) and that stored their
    failing rows: that column's values, which the test writes as readable sentences without personal data (the
    currency and file of orders without an exchange rate, say). `query(sql)` returns rows."""
    found: dict[str, list[str]] = {}
    for node in build.nodes:
        if node.resource_type != "test" or node.status not in ("fail", "warn") or not node.relation_name:
            continue
        meta = ((manifest_json["nodes"].get(node.unique_id) or {}).get("config") or {}).get("meta") or {}
        column = meta.get(SHOW_FAILURES_META)
        if not column or not str(column).isidentifier():
            continue
        try:
            rows = query(f"select {column} from {node.relation_name} limit {int(limit)}")
        except Exception:  # noqa: BLE001 - the details are a courtesy: the check result itself stands
            continue
        found[node.unique_id] = [str(row[0]) for row in rows]
    return found


def relation_name(props: Mapping[str, Any]) -> str:
    """The quoted schema.table of a model or source from its manifest entry."""
    table = props.get("alias") or props.get("identifier") or props["name"]
    return f'"{props["schema"]}"."{table}"'


def manifest_path() -> Path:
    return DBT_PROJECT_DIR / "target" / "manifest.json"


SOURCE_PATTERNS = ("dbt_project.yml", "profiles.yml", "models/**/*", "macros/**/*", "tests/**/*")


def sources_digest(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """A digest of what a parse of the dbt project reads: every source file's path and content, and dbt-core's
    version. The manifest is current when it was parsed from the same digest. Content rather than modification
    times: a copy that keeps the files' old times (`cp -a`, `rsync -a`, an unpacked archive) or an upgrade whose
    files are older than the last parse must still get a new manifest, or the runs would select from an old
    graph (a new model missing, a removed one still selected). Reading the project's files takes milliseconds."""
    from importlib.metadata import version

    digest = hashlib.sha256(f"dbt-core {version('dbt-core')}\0".encode())
    for pattern in SOURCE_PATTERNS:
        for path in sorted(project_dir.glob(pattern)):
            if path.is_file():
                digest.update(path.relative_to(project_dir).as_posix().encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _digest_path(manifest: Path) -> Path:
    return manifest.with_name("manifest.sources")


def prepare_manifest(force: bool = False) -> Path:
    """Write target/manifest.json (what Dagster builds its asset graph from) with `dbt parse` when it is missing or
    was parsed from other dbt sources (:func:`sources_digest`, kept next to it in target/manifest.sources). The dbt
    next to this Python is used, so no activated virtualenv is needed.

    Several c360 processes may start at once (the UI, a CLI run, test workers): one parses at a time (an OS file
    lock, released by the kernel if the process dies), into a private folder, and the manifest is then swapped in
    with one rename, so a reader sees the old file or the new one, never a part of either."""
    path = manifest_path()
    digest = sources_digest()
    if not force and _manifest_is_current(path, digest):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".manifest.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        digest = sources_digest()  # the files may have changed while this process waited
        if not force and _manifest_is_current(path, digest):  # another process parsed while this one waited
            return path
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".parse-") as private:
            dbt = Path(sys.executable).with_name("dbt")
            completed = subprocess.run(
                [str(dbt), "parse", "--quiet", *base_args(), "--target-path", private],
                cwd=DBT_PROJECT_DIR,
                capture_output=True,
                text=True,
            )
            if completed.returncode != 0:
                raise RuntimeError(
                    "dbt parse failed; fix the dbt project and retry:\n"
                    + (completed.stdout + completed.stderr)[-4000:]
                )
            # the manifest first, then its digest: a reader in between sees a mismatch and waits for the lock
            os.replace(Path(private) / "manifest.json", path)
            (Path(private) / "manifest.sources").write_text(digest + "\n")
            os.replace(Path(private) / "manifest.sources", _digest_path(path))
    return path


def _manifest_is_current(path: Path, digest: str) -> bool:
    try:
        return path.exists() and _digest_path(path).read_text().strip() == digest
    except FileNotFoundError:
        return False
