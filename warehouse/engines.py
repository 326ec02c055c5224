"""One dbt project on three engines: open an engine with the environment its dbt target reads, copy tables
between warehouses, and run dbt in this process.

dbt runs in-process (``dbt.cli.main.dbtRunner``) on every engine: on Spark it must (the session, and its
single-process Derby metastore, are this process's), and on DuckDB the warehouse connection opened here shares
dbt-duckdb's database instance (same file, same ``memory_limit``) instead of fighting it for the file lock.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from warehouse.base import Warehouse, check_identifier

ENGINES = ("duckdb", "postgres", "spark")

#: The dbt selection the fit step needs built first (the models tagged fit_input in dbt_project.yml, and their
#: ancestors), and its complement (the rest of the project).
FIT_UPSTREAM = "+tag:fit_input"
FIT_INPUT_TAG = FIT_UPSTREAM.removeprefix("+tag:")


def fit_upstream(nodes: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The unique ids of the models FIT_UPSTREAM selects in a manifest's ``nodes``: the models tagged fit_input
    and every model they are built from. (For callers that name models instead of passing the selector to dbt.)"""
    upstream: set[str] = set()
    stack = [
        uid
        for uid, node in nodes.items()
        if node["resource_type"] == "model" and FIT_INPUT_TAG in node.get("tags", [])
    ]
    while stack:
        uid = stack.pop()
        if uid in upstream or uid not in nodes or nodes[uid]["resource_type"] != "model":
            continue
        upstream.add(uid)
        stack.extend(nodes[uid]["depends_on"]["nodes"])
    return upstream


@dataclass
class Engine:
    """An open warehouse and the environment variables dbt's profile reads to build on it."""

    name: str
    wh: Warehouse
    env: dict[str, str] = field(default_factory=dict)


def postgres_dbt_env(dsn: str) -> dict[str, str]:
    """The C360_DBT_PG_* variables of profiles.yml's postgres output for a ``postgresql://`` DSN."""
    parts = urlsplit(dsn)
    return {
        "C360_DBT_PG_HOST": parts.hostname or "127.0.0.1",
        "C360_DBT_PG_PORT": str(parts.port or 5432),
        "C360_DBT_PG_USER": unquote(parts.username or ""),
        "C360_DBT_PG_PASSWORD": unquote(parts.password or ""),
        "C360_DBT_PG_DBNAME": parts.path.lstrip("/"),
    }


@contextmanager
def open_engine(name: str, root: Path, *, pg_dsn: str | None = None) -> Iterator[Engine]:
    """The warehouse of engine ``name`` with its dbt environment. DuckDB: ``root/build.duckdb``; Spark: the
    process's local session with its tables and metastore under ``root/spark``; PostgreSQL: the database of
    ``pg_dsn``."""
    if name == "duckdb":
        from warehouse.duckdb_warehouse import DuckDBWarehouse, connect

        path = root / "build.duckdb"
        # The same configuration as dbt-duckdb's connection, so both share one database instance.
        con = connect(path, memory_limit=os.environ.get("C360_DUCKDB_MEMORY_LIMIT", "16GB"))
        engine = Engine(name, DuckDBWarehouse(con), {"C360_DBT_TARGET": "duckdb", "C360_BUILD_DB": str(path)})
        try:
            yield engine
        finally:
            con.close()
    elif name == "postgres":
        from warehouse.postgres_warehouse import PostgresWarehouse

        if not pg_dsn:
            raise ValueError(
                "the postgres engine needs a DSN (postgresql://user:password@host:port/database)"
            )
        wh = PostgresWarehouse(pg_dsn)
        try:
            yield Engine(name, wh, {"C360_DBT_TARGET": "postgres", **postgres_dbt_env(pg_dsn)})
        finally:
            wh.close()
    elif name == "spark":
        from warehouse.spark_warehouse import SparkWarehouse, spark_session

        home = (root / "spark").resolve()
        yield Engine(
            name,
            SparkWarehouse(spark_session(home)),
            {"C360_DBT_TARGET": "spark", "C360_SPARK_HOME": str(home)},
        )
    else:
        raise ValueError(f"unknown engine {name!r}: one of {', '.join(ENGINES)}")


def copy_tables(source: Warehouse, target: Warehouse, tables: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Copies each ``(schema, name)`` table from ``source`` to ``target`` (replacing it) with its types; JSON
    columns become text. Returns the rows copied per table."""
    copied = {}
    for schema, name in tables:
        check_identifier(schema, name)
        data = source.query_arrow(f"select * from {schema}.{name}")
        if source.engine == "duckdb":  # DuckDB's JSON type reaches Arrow as an extension type: copy the text
            columns = source.query(
                "select column_name, data_type from information_schema.columns "
                f"where table_schema = '{schema}' and table_name = '{name}' order by ordinal_position"
            )
            json_columns = [
                c for c, t in zip(columns["column_name"], columns["data_type"], strict=True) if t == "JSON"
            ]
            if json_columns:
                select = ", ".join(
                    f"cast({c} as varchar) as {c}" if c in json_columns else c for c in columns["column_name"]
                )
                data = source.query_arrow(f"select {select} from {schema}.{name}")
        target.write_table(schema, name, data)
        copied[f"{schema}.{name}"] = data.num_rows
    return copied


@contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """Sets environment variables for the duration (dbt reads its profile from the environment)."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_dbt(args: list[str], *, env: Mapping[str, str], project_dir: Path, target_path: Path) -> Any:
    """``dbt <args>`` in this process on the project, with a private target path (each engine parses the project
    with its own configs, so each keeps its own partial-parse state). Returns dbt's result object."""
    from dbt.cli.main import dbtRunner

    full = [
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path / "logs"),
    ]
    with environment(env):
        return dbtRunner().invoke(full)


def build_with_fit(
    engine: Engine,
    *,
    project_dir: Path,
    target_path: Path,
    dbt_vars: str,
    fit: Callable[[Warehouse], Any],
    extra_args: Iterable[str] = (),
) -> tuple[Any, Any, Any]:
    """``dbt build`` of the fit step's upstream, the fit step, then ``dbt build`` of the rest of the project.
    Returns (first dbt result, the fit step's return value, second dbt result); stops after a failed build."""
    common = ["--vars", dbt_vars, *extra_args]
    # cautious: a test that also reads a model of the rest (every order's customer in the CRM) waits for the
    # second build, which selects it through that model
    first = run_dbt(
        ["build", "--select", FIT_UPSTREAM, "--indirect-selection", "cautious", *common],
        env=engine.env,
        project_dir=project_dir,
        target_path=target_path,
    )
    if not first.success:
        return first, None, None
    fitted = fit(engine.wh)
    second = run_dbt(
        ["build", "--exclude", FIT_UPSTREAM, *common],
        env=engine.env,
        project_dir=project_dir,
        target_path=target_path,
    )
    return first, fitted, second


@dataclass
class BuildOutcome:
    """dbt's results of both selections, the fit step's return value, the models (schema, table) of the project
    and the seconds spent loading the raw tables and building."""

    first: Any
    fitted: Any
    second: Any
    models: list[tuple[str, str]]
    seconds: dict[str, float]

    @property
    def success(self) -> bool:
        return bool(self.first.success and self.second is not None and self.second.success)

    def failures(self) -> list[str]:
        """The dbt nodes that did not pass (or why dbt did not run)."""
        problems = []
        for result in (self.first, self.second):
            if result is None:
                continue
            if result.result is None:
                problems.append(f"dbt did not run: {result.exception}")
                continue
            problems += [
                f"{r.node.unique_id}: {r.status}"
                for r in result.result.results
                if r.status not in ("success", "pass")
            ]
        return problems


@contextmanager
def built_from_raw(
    name: str,
    root: Path,
    raw_db: Path,
    *,
    project_dir: Path,
    dbt_vars: str,
    fit: Callable[[Warehouse], Any],
    pg_dsn: str | None = None,
    raw_tables: Iterable[tuple[str, str]] = (
        ("raw", "orders"),
        ("raw", "contacts"),
        ("raw", "survey_responses"),
    ),
    extra_args: Iterable[str] = (),
) -> Iterator[tuple[Engine, BuildOutcome]]:
    """The raw tables of the DuckDB file ``raw_db`` (as ingestion.loader writes them) loaded into engine ``name``
    (on DuckDB: the file becomes the build database), then :func:`build_with_fit`. Yields the open engine and the
    outcome, so that the caller reads the built tables before the engine closes."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    if name == "duckdb":
        root.mkdir(parents=True, exist_ok=True)
        shutil.copy(raw_db, root / "build.duckdb")
    with open_engine(name, root, pg_dsn=pg_dsn) as engine:
        if name != "duckdb":
            from warehouse.duckdb_warehouse import DuckDBWarehouse

            source = DuckDBWarehouse(raw_db, read_only=True)
            try:
                copy_tables(source, engine.wh, raw_tables)
            finally:
                source.close()
        seconds["load_raw"] = time.perf_counter() - started
        started = time.perf_counter()
        target_path = root / "target"
        first, fitted, second = build_with_fit(
            engine,
            project_dir=project_dir,
            target_path=target_path,
            dbt_vars=dbt_vars,
            fit=fit,
            extra_args=extra_args,
        )
        seconds["dbt_build_and_fit"] = time.perf_counter() - started
        manifest = json.loads((target_path / "manifest.json").read_text())
        models = sorted(
            (node["schema"], node["alias"])
            for node in manifest["nodes"].values()
            if node["resource_type"] == "model"
        )
        yield engine, BuildOutcome(first, fitted, second, models, seconds)
