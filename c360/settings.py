"""Every setting of c360: one declaration each (environment variable, type, range, default, meaning).

Reading the settings has no side effects: nothing is created and no environment variable is written. The layout
under C360_HOME (default ./data):

  landing/{orders,contacts,survey_responses}/   incoming files (the source of truth: keep them)
  warehouse/build.duckdb                        build area: dbt builds and checks here (owner-only)
  warehouse/published.duckdb                    published database BI tools read (replaced atomically)
  published/<table>.parquet                     the published tables as Parquet (a link to the current version)
  publications/<version>/                       the Parquet versions behind published/ (the last few are kept)
  state/                                        what cannot be rebuilt from the landing zone: per-run snapshots
                                                behind the history tables, fit history, the publication log
  reports/latest.html                           the run report
  logs/alerts.log                               held-back and failed-run alerts
  dagster/                                      Dagster instance: run history, schedules (owner-only)
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


# The built-in key of the e-mail hash, for demo data only: c360 refuses to run with it (or without a key) outside a
# home made by `c360 demo-data`, since anyone holding the repository could confirm a guessed e-mail against it.
DEMO_PII_KEY = "c360-demo-key-change-me"


# The targets of dbt_project/profiles.yml, and those `c360 run` runs the whole pipeline on (ingestion, dbt, the
# quality gate, publication): the others are dbt targets only (docs/engines.md).
DBT_TARGETS = ("duckdb", "spark", "postgres", "spark_thrift", "spark_http")
PIPELINE_ENGINES = ("duckdb", "spark")


class SettingsError(ValueError):
    """A setting has a value c360 cannot use; the message names the variable, the value's problem and the range."""


@dataclass(frozen=True)
class Setting:
    """One environment variable: its type, allowed range, default and meaning (the README table is built from it)."""

    env: str
    kind: str  # path | float | int | bool | text | date | choice | secret
    default: str | None
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    def parse(self, raw: str | None) -> Any:
        text = (raw or "").strip()
        if not text:
            text = self.default or ""
            if not text:
                return None
        parser = _PARSERS[self.kind]
        try:
            value = parser(text, self)
        except SettingsError:
            raise
        except (ValueError, TypeError):
            raise SettingsError(f"{self.env}: {self.expected()}, got a value that is not") from None
        if (
            self.minimum is not None
            and value < self.minimum
            or self.maximum is not None
            and value > self.maximum
        ):
            raise SettingsError(f"{self.env}: {self.expected()}")
        return value

    def expected(self) -> str:
        what = {
            "float": "a number",
            "int": "a whole number",
            "bool": "on/off (1, 0, true, false, yes, no)",
            "date": "a date YYYY-MM-DD",
            "choice": "one of " + ", ".join(self.choices),
        }.get(self.kind, "a value")
        if self.minimum is not None and self.maximum is not None:
            what += f" from {_fmt(self.minimum)} to {_fmt(self.maximum)}"
        elif self.minimum is not None:
            what += f" of at least {_fmt(self.minimum)}"
        return f"expected {what}"


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _float(text: str, setting: Setting) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _bool(text: str, setting: Setting) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _cron(text: str, setting: Setting) -> str:
    if not re.fullmatch(r"\S+( \S+){4}", text.strip()):
        raise SettingsError(f"{setting.env}: expected a cron schedule of five fields, e.g. '0 2 * * *'")
    return text.strip()


def _choice(text: str, setting: Setting) -> str:
    if text.lower() not in setting.choices:
        raise SettingsError(f"{setting.env}: {setting.expected()}")
    return text.lower()


_PARSERS: dict[str, Callable[[str, Setting], Any]] = {
    "path": lambda text, _: Path(text).expanduser(),
    "float": _float,
    "int": lambda text, _: int(text),
    "bool": _bool,
    "text": lambda text, _: text,
    "secret": lambda text, _: text,
    "date": lambda text, _: date.fromisoformat(text),
    "choice": _choice,
    "cron": _cron,
}

# The one declaration of every setting. Paths default relative to C360_HOME when their default is None.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "C360_HOME", "path", "data", "data root: landing/, warehouse/, published/, state/, reports/, logs/"
    ),
    Setting("C360_BUILD_DB", "path", None, "build database (default `$C360_HOME/warehouse/build.duckdb`)"),
    Setting(
        "C360_PUBLISHED_DB",
        "path",
        None,
        "published database (default `$C360_HOME/warehouse/published.duckdb`)",
    ),
    Setting(
        "C360_ALERT_LOG", "path", None, "held-back / failed-run alerts (default `$C360_HOME/logs/alerts.log`)"
    ),
    Setting(
        "C360_MAX_QUARANTINE_SHARE",
        "float",
        "0.05",
        "input contract: share of the rows read in a run that may be quarantined",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "C360_LANDING_SETTLE_SECONDS",
        "float",
        "10",
        "a landing file modified more recently than this is not read yet (reported as waiting)",
        minimum=0,
        maximum=86400,
    ),
    Setting(
        "C360_START_DATE",
        "date",
        None,
        "first daily partition in Dagster (default: the first order date in the data)",
    ),
    Setting(
        "C360_SCHEDULE_CRON",
        "cron",
        "0 2 * * *",
        "when the daily schedule runs (cron, UTC); each run is for the day before the tick",
    ),
    Setting(
        "C360_DUCKDB_MEMORY_LIMIT", "text", None, "DuckDB memory limit, e.g. `4GB` (spills to disk beyond it)"
    ),
    Setting(
        "C360_DBT_TARGET",
        "choice",
        "duckdb",
        "engine of dbt and the whole pipeline: `duckdb`, or `spark` (local Spark in the process, "
        "docs/engines.md); `postgres`, `spark_thrift` and `spark_http` are targets of dbt alone",
        choices=DBT_TARGETS,
    ),
    Setting("C360_DBT_THREADS", "int", "2", "dbt models built at once", minimum=1, maximum=64),
    Setting(
        "C360_DBT_REUSE", "bool", "1", "reuse dbt models whose inputs did not change (see Running daily)"
    ),
    Setting(
        "C360_PUBLISHED_VERSIONS_KEPT",
        "int",
        "3",
        "Parquet publications kept under publications/ (readers of an older one finish undisturbed)",
        minimum=2,
        maximum=100,
    ),
    Setting(
        "C360_PII_HASH_KEY",
        "secret",
        None,
        "key of `email_hash` in published tables: **set it in production**",
    ),
    Setting(
        "C360_PG_DSN", "secret", None, "PostgreSQL publication target, e.g. `postgresql://user:pass@host/db`"
    ),
    Setting("C360_PG_SCHEMA", "text", "c360", "schema of the published tables in PostgreSQL"),
    Setting("C360_PG_READER_ROLE", "text", "c360_reader", "read-only role granted on that schema"),
    Setting(
        "C360_PUBLISHED_FILE_MODE",
        "text",
        "0644",
        "file mode of published files (octal); build database, logs and Dagster storage are owner-only",
    ),
    Setting("DAGSTER_HOME", "path", None, "Dagster instance (default `$C360_HOME/dagster`)"),
)
_BY_ENV = {s.env: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Resolved configuration of one pipeline process."""

    home: Path
    build_db: Path
    published_db: Path
    alert_log: Path
    dagster_home: Path
    max_quarantine_share: float
    landing_settle_seconds: float
    start_date: date | None
    schedule_cron: str
    duckdb_memory_limit: str | None
    dbt_target: str
    dbt_threads: int
    dbt_reuse: bool
    published_versions_kept: int
    pii_hash_key: str | None
    postgres_dsn: str | None
    postgres_schema: str
    postgres_reader_role: str
    published_file_mode: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse every setting from `environ` (default: the process environment); raises SettingsError."""
        env = os.environ if environ is None else environ
        raw = {s.env: s.parse(env.get(s.env)) for s in SETTINGS}
        home = raw["C360_HOME"].resolve()
        mode_text = raw["C360_PUBLISHED_FILE_MODE"]
        try:
            file_mode = int(mode_text, 8)
        except ValueError:
            raise SettingsError(
                "C360_PUBLISHED_FILE_MODE: expected an octal file mode such as 0644"
            ) from None
        if not 0 <= file_mode <= 0o777:
            raise SettingsError("C360_PUBLISHED_FILE_MODE: expected an octal file mode such as 0644")
        return cls(
            home=home,
            build_db=(raw["C360_BUILD_DB"] or home / "warehouse" / "build.duckdb").resolve(),
            published_db=(raw["C360_PUBLISHED_DB"] or home / "warehouse" / "published.duckdb").resolve(),
            alert_log=(raw["C360_ALERT_LOG"] or home / "logs" / "alerts.log").resolve(),
            dagster_home=(raw["DAGSTER_HOME"] or home / "dagster").resolve(),
            max_quarantine_share=raw["C360_MAX_QUARANTINE_SHARE"],
            landing_settle_seconds=raw["C360_LANDING_SETTLE_SECONDS"],
            start_date=raw["C360_START_DATE"],
            schedule_cron=raw["C360_SCHEDULE_CRON"],
            duckdb_memory_limit=raw["C360_DUCKDB_MEMORY_LIMIT"],
            dbt_target=raw["C360_DBT_TARGET"],
            dbt_threads=raw["C360_DBT_THREADS"],
            dbt_reuse=raw["C360_DBT_REUSE"],
            published_versions_kept=raw["C360_PUBLISHED_VERSIONS_KEPT"],
            pii_hash_key=raw["C360_PII_HASH_KEY"],
            postgres_dsn=raw["C360_PG_DSN"],
            postgres_schema=raw["C360_PG_SCHEMA"],
            postgres_reader_role=raw["C360_PG_READER_ROLE"],
            published_file_mode=file_mode,
        )

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @property
    def published_dir(self) -> Path:
        """The stable Parquet path BI tools read: a link to the current version under publications/."""
        return self.home / "published"

    @property
    def publications_dir(self) -> Path:
        return self.home / "publications"

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def logs_dir(self) -> Path:
        return self.alert_log.parent

    @property
    def demo_marker(self) -> Path:
        """Written by `c360 demo-data`: this home holds generated demo data (the demo hash key is allowed)."""
        return self.home / ".c360-demo-home"

    def pii_key(self) -> str:
        """The e-mail hash key to use: C360_PII_HASH_KEY, or the demo key in a demo home; raises SettingsError
        (naming the fix) when a real home has no key of its own."""
        is_demo = self.demo_marker.exists()
        if self.pii_hash_key and (self.pii_hash_key != DEMO_PII_KEY or is_demo):
            return self.pii_hash_key
        if is_demo:
            return DEMO_PII_KEY
        problem = "is the built-in demo key" if self.pii_hash_key else "is not set"
        raise SettingsError(
            f"C360_PII_HASH_KEY {problem}, and {self.home} is not a demo home (made by `c360 demo-data`): "
            "published tables would carry e-mail hashes anyone with the repository can check guesses against. "
            "Set C360_PII_HASH_KEY to a long random secret (e.g. `openssl rand -hex 32`) kept outside the "
            "repository, and keep it: changing it changes every email_hash."
        )

    @property
    def engine(self) -> str:
        """The engine of the whole pipeline (C360_DBT_TARGET); raises SettingsError for a dbt-only target."""
        if self.dbt_target not in PIPELINE_ENGINES:
            raise SettingsError(
                f"C360_DBT_TARGET={self.dbt_target}: the pipeline (c360 run, backfill, publish) runs on "
                f"{' or '.join(PIPELINE_ENGINES)}; {self.dbt_target} is a target of dbt alone (dbt build "
                "--target ..., docs/engines.md). Use C360_DBT_TARGET=spark for Spark, and C360_PG_DSN to "
                "publish to PostgreSQL."
            )
        return self.dbt_target

    def source_encoding(self, source: str) -> str | None:
        return os.environ.get(f"C360_{source.upper()}_ENCODING") or None


def setting(env: str) -> Setting:
    """The declaration of one setting."""
    return _BY_ENV[env]


def settings_table() -> str:
    """The README's settings table, from the declarations above (`python -m c360.settings`)."""
    lines = ["| variable | type and range | default | meaning |", "|---|---|---|---|"]
    for s in SETTINGS:
        kind = {"path": "path", "secret": "secret", "text": "text", "cron": "cron (UTC)"}.get(s.kind)
        if kind is None:
            kind = s.expected().removeprefix("expected ")
        default = f"`{s.default}`" if s.default else "—"
        lines.append(f"| `{s.env}` | {kind} | {default} | {s.doc} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    sys.stdout.write(settings_table() + "\n")
