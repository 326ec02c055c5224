"""Hostile settings and personal data, end to end (issue 14): odd data homes, a renamed build database, an as-of
date far in the past, the hash key, file permissions, and a person's data planted in a broken file that must
not show up anywhere a run writes."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest
from e2e_helpers import AS_OF, generate

pytestmark = pytest.mark.e2e

C360 = str(Path(sys.executable).with_name("c360"))
PERSON = ("Zoë Quintanilla-Okafor", "zoe.quintanilla@example.org", "+44 7700 900123", "1984-02-29")


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("C360_") and k != "DAGSTER_HOME"}
    env.update(C360_HOME=str(home), C360_LANDING_SETTLE_SECONDS="0", PYTHONUNBUFFERED="1", **extra)
    return env


def _cli(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([C360, *args], env=_env(home, **extra), capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("landing") / "c360"
    generate(home, orders=3_000, seed=51)
    return home / "landing"


def _home(landing: Path, home: Path, *, demo: bool = True) -> Path:
    shutil.copytree(landing, home / "landing")
    if demo:
        (home / ".c360-demo-home").write_text("demo\n")
    return home


def test_a_data_home_with_spaces_quotes_and_non_ascii_works_end_to_end(landing: Path, tmp_path: Path):
    home = _home(landing, tmp_path / 'l\'équipe "données" 2026')
    result = _cli(home, "run", "--as-of", str(AS_OF))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    con = duckdb.connect(str(home / "warehouse" / "published.duckdb"), read_only=True)
    assert con.sql("select count(*) from customer_360").fetchone()[0] > 0
    assert (home / "published" / "customer_360.parquet").exists()


def test_a_build_database_with_another_name(landing: Path, tmp_path: Path):
    home = _home(landing, tmp_path / "c360")
    build = tmp_path / "elsewhere" / "nightly_build.duckdb"
    result = _cli(home, "run", "--as-of", str(AS_OF), C360_BUILD_DB=str(build))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert build.exists() and not (home / "warehouse" / "build.duckdb").exists()
    con = duckdb.connect(str(build), read_only=True)
    assert con.sql("select count(*) from main.customer_360").fetchone()[0] > 0


def test_any_as_of_date_with_data_works_without_extra_settings(tmp_path: Path):
    home = tmp_path / "c360"
    generate(home, orders=2_000, seed=53, as_of=date(1997, 9, 30))
    result = _cli(home, "run", "--as-of", "1997-09-30")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    con = duckdb.connect(str(home / "warehouse" / "published.duckdb"), read_only=True)
    assert con.sql("select max(as_of_date) from customer_360").fetchone()[0] == date(1997, 9, 30)


def test_the_hash_key(landing: Path, tmp_path: Path):
    """Outside a demo home c360 refuses to run without a key of its own (exit 2, before any work); with one, the
    key never lands on disk through dbt, and published hashes change with it."""
    from c360.settings import DBT_PROJECT_DIR, DEMO_PII_KEY

    home = _home(landing, tmp_path / "c360", demo=False)
    refused = _cli(home, "run", "--as-of", str(AS_OF))
    assert refused.returncode == 2 and "C360_PII_HASH_KEY is not set" in refused.stderr
    assert not (home / "warehouse").exists()
    demo_key = _cli(home, "run", "--as-of", str(AS_OF), C360_PII_HASH_KEY=DEMO_PII_KEY)
    assert demo_key.returncode == 2 and "built-in demo key" in demo_key.stderr

    key = "7f3a9c1e5b8d2f4a6c0e9b7d5f3a1c8e"
    result = _cli(home, "run", "--as-of", str(AS_OF), C360_PII_HASH_KEY=key)
    assert result.returncode == 0, result.stdout[-3000:]
    leaks = [
        str(path)
        for path in (DBT_PROJECT_DIR / "target").rglob("*")
        if path.is_file() and key.encode() in path.read_bytes()
    ]
    assert not leaks
    con = duckdb.connect(str(home / "warehouse" / "published.duckdb"), read_only=True)
    hashes = con.sql(
        "select email_hash from customer_360 where email_hash is not null order by 1 limit 5"
    ).fetchall()
    assert hashes
    con.close()
    again = _cli(home, "run", "--as-of", str(AS_OF), C360_PII_HASH_KEY=key + "-rotated")
    assert again.returncode == 0
    con = duckdb.connect(str(home / "warehouse" / "published.duckdb"), read_only=True)
    assert (
        con.sql(
            "select email_hash from customer_360 where email_hash is not null order by 1 limit 5"
        ).fetchall()
        != hashes
    )


def test_private_files_are_owner_only_and_published_ones_readable(landing: Path, tmp_path: Path):
    home = _home(landing, tmp_path / "c360")
    assert _cli(home, "run", "--as-of", str(AS_OF)).returncode == 0

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(home / "warehouse" / "build.duckdb") & 0o077 == 0
    assert mode(home / "dagster") & 0o077 == 0 and mode(home / "logs") & 0o077 == 0
    for path in (home / "dagster").rglob("*"):
        assert mode(path) & 0o077 == 0 or not (mode(path.parent) & 0o005), path
    assert mode(home / "warehouse" / "published.duckdb") == 0o644
    assert mode(home / "published" / "customer_360.parquet") == 0o644
    assert mode((home / "published").resolve()) & 0o005 == 0o005  # others may list and enter
    assert mode(home / "reports" / "latest.html") & 0o044 == 0o044


def test_a_persons_data_in_a_broken_file_shows_up_nowhere(landing: Path, tmp_path: Path):
    """A contacts export without its header line: its first line is a person. The run is held back (the file
    fails the input contract) and nothing it writes outside the build database holds that person's data."""
    home = _home(landing, tmp_path / "c360")
    name, email, phone, birthday = PERSON
    person = f"K-99001,C-99001,{name},{email},{phone},{birthday}"
    (home / "landing" / "contacts" / "contacts_headerless.csv").write_text(
        f"{person}\n{person.replace('1,', '2,')}\n"
    )
    result = _cli(home, "run", "--as-of", str(AS_OF))
    assert result.returncode == 1, result.stdout[-3000:]
    written = result.stdout + result.stderr
    places = [
        p for p in home.rglob("*") if p.is_file() and "landing" not in p.parts and p.suffix != ".duckdb"
    ]
    places += (
        [home / "warehouse" / "published.duckdb"]
        if (home / "warehouse" / "published.duckdb").exists()
        else []
    )
    assert any(p.parent.name == "log" for p in places) and any("storage" in p.parts for p in places)
    needles = [name, email, phone, birthday, "Quintanilla", "zoe.quintanilla"]
    for needle in needles:
        assert needle not in written, f"{needle!r} in the run's output"
        for path in places:
            assert needle.encode() not in path.read_bytes(), f"{needle!r} in {path.relative_to(home)}"
