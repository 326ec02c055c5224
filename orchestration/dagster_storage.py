"""Dagster's SQLite event log, keeping its SQLAlchemy engines between writes.

A c360 run stores about 650 events (one materialization and one check evaluation per dbt model and test, each
with its planned event and step output). Dagster's ``SqliteEventLogStorage`` builds a new SQLAlchemy engine for
every connection it opens, so every event pays for an engine and for compiling its INSERT statement again (the
compiled-statement cache lives in the engine), and every check event also inspects the schema with one more new
engine (``has_table``). Profiled on a daily run of 100k orders, that was about 4 s of the run's Python time,
a seventh of it.

:class:`ReusingSqliteEventLogStorage` is the same storage (same files, same schema, same locking, so a home can
switch between the two and every Dagster process reads what the other wrote) with three changes:

- one engine per database file, kept for the most recently used files (an engine holds no connection: its
  pool is ``NullPool``, as Dagster's, so every write still opens and closes its own SQLite connection and
  other processes see the same file behaviour);
- a table that was found stays found (tables are only ever added, by Dagster's migrations, which run before a
  storage object is created; ``wipe`` forgets them);
- nothing else: every read and write path is Dagster's.

It overrides ``_connect``, which is not a public Dagster API; ``tests/orchestration/test_dagster_storage.py``
checks it against the installed Dagster (the pin in pyproject.toml bounds the versions). ``c360`` writes it into
a home's ``dagster.yaml`` when it creates the file; an existing home keeps Dagster's default until the
``event_log_storage`` block is added (README: Dagster instance).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

#: Engines kept: the cross-run index and the shards of the runs being written or read.
MAX_ENGINES = 16


class ReusingSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` that reuses one SQLAlchemy engine per database file (see the module docstring).

    Configured in ``dagster.yaml``::

        event_log_storage:
          module: orchestration.dagster_storage
          class: ReusingSqliteEventLogStorage
          config: {}

    ``base_dir`` is optional: by default the folder Dagster's default storage uses,
    ``$DAGSTER_HOME/history/runs``.
    """

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        if base_dir is None:
            home = os.environ.get("DAGSTER_HOME")
            if not home:
                raise ValueError(
                    "ReusingSqliteEventLogStorage needs base_dir in its config or DAGSTER_HOME in the environment"
                )
            base_dir = os.path.join(home, "history", "runs")
        # before Dagster's __init__, which connects when it creates the index database
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables_found: set[str] = set()
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls) -> Any:
        from dagster import Field, StringSource

        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> ReusingSqliteEventLogStorage:
        return cls(base_dir=config_value.get("base_dir"), inst_data=inst_data)

    def _engine(self, shard: str) -> Engine:
        """The engine of one database file (the caller holds ``_db_lock``)."""
        engine = self._engines.get(shard)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=NullPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            self._engines[shard] = engine
            while len(self._engines) > MAX_ENGINES:
                self._engines.popitem(last=False)[1].dispose()
        else:
            self._engines.move_to_end(shard)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        if table_name in self._tables_found:
            return True
        found = super().has_table(table_name)
        if found:
            self._tables_found.add(table_name)
        return found

    def wipe(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()
            self._tables_found.clear()
        super().wipe()
