"""A dbt-duckdb plugin (dbt-duckdb's public extension point) that hands secrets to DuckDB at connect time.

The key of the e-mail hash (C360_PII_HASH_KEY) is set as a DuckDB variable on every connection dbt opens, and the
SQL reads it with getvariable('c360_pii_hash_key') (macros/pii.sql). The key is therefore never rendered into
SQL, so it never lands in dbt's target/ folder (compiled SQL, run SQL, manifest, partial-parse cache) or in logs.
"""

from __future__ import annotations

import os

from dbt.adapters.duckdb.plugins import BasePlugin

from c360.settings import DEMO_PII_KEY

PII_KEY_ENV = "C360_PII_HASH_KEY"
PII_KEY_VARIABLE = "c360_pii_hash_key"


class Plugin(BasePlugin):
    def configure_connection(self, conn) -> None:
        self.configure_cursor(conn)

    def configure_cursor(self, cursor) -> None:
        cursor.execute(f"SET VARIABLE {PII_KEY_VARIABLE} = ?", [os.environ.get(PII_KEY_ENV) or DEMO_PII_KEY])
