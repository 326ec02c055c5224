"""Where things live and how they are tuned: every setting comes from an environment variable with a default.

SPEC 7 fixes the layout under C360_HOME (default ./data):
  landing/{orders,contacts,survey_responses}/   incoming files
  warehouse/build.duckdb                        build area (dbt builds and checks here)
  warehouse/published.duckdb                    published area (BI tools read here; replaced atomically)
  published/<table>.parquet                     the same published tables as Parquet
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
SOURCES = ("orders", "contacts", "survey_responses")


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    """Resolved configuration of one pipeline process."""

    home: Path
    build_db: Path
    published_db: Path
    max_quarantine_share: float
    alert_log: Path
    postgres_dsn: str | None
    postgres_schema: str
    postgres_reader_role: str
    duckdb_memory_limit: str | None
    start_date: str
    gx_data_docs: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(_env("C360_HOME", "data")).expanduser().resolve()
        return cls(
            home=home,
            build_db=Path(_env("C360_BUILD_DB", str(home / "warehouse" / "build.duckdb"))).resolve(),
            published_db=Path(
                _env("C360_PUBLISHED_DB", str(home / "warehouse" / "published.duckdb"))
            ).resolve(),
            max_quarantine_share=float(_env("C360_MAX_QUARANTINE_SHARE", "0.05")),
            alert_log=Path(_env("C360_ALERT_LOG", str(home / "logs" / "alerts.log"))).resolve(),
            postgres_dsn=os.environ.get("C360_PG_DSN") or None,
            postgres_schema=_env("C360_PG_SCHEMA", "c360"),
            postgres_reader_role=_env("C360_PG_READER_ROLE", "c360_reader"),
            duckdb_memory_limit=os.environ.get("C360_DUCKDB_MEMORY_LIMIT") or None,
            start_date=_env("C360_START_DATE", "2024-01-01"),
            gx_data_docs=_env("C360_GX_DATA_DOCS", "0").lower() in ("1", "true", "yes", "on"),
        )

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @property
    def published_dir(self) -> Path:
        return self.home / "published"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def dagster_home(self) -> Path:
        return Path(_env("DAGSTER_HOME", str(self.home / "dagster"))).resolve()

    def source_encoding(self, source: str) -> str | None:
        return os.environ.get(f"C360_{source.upper()}_ENCODING") or None

    def ensure_dirs(self) -> None:
        for path in (
            self.landing_dir / "orders",
            self.landing_dir / "contacts",
            self.landing_dir / "survey_responses",
            self.build_db.parent,
            self.published_db.parent,
            self.published_dir,
            self.reports_dir,
            self.alert_log.parent,
            self.dagster_home,
        ):
            path.mkdir(parents=True, exist_ok=True)

    def export_for_subprocesses(self) -> None:
        """dbt runs as a subprocess and reads its connection from the environment (dbt_project/profiles.yml)."""
        os.environ["C360_HOME"] = str(self.home)
        os.environ["C360_BUILD_DB"] = str(self.build_db)
        os.environ.setdefault("DAGSTER_HOME", str(self.dagster_home))
