"""The whole pipeline on generated data: what BI users get in the published database (issue 2: the published tables, their access and the command-line interface)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from e2e_helpers import AS_OF, c360_env, published, published_fingerprints, run

from c360.settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.e2e


def _landing_customers(home: Path) -> int:
    con = duckdb.connect()
    files = sorted(str(p) for p in (home / "landing" / "contacts").glob("*") if p.is_file())
    assert files, "the demo generator wrote no contacts"
    return con.sql(
        "select count(distinct customer_id) from read_csv($files, all_varchar=true, union_by_name=true)",
        params={"files": files},
    ).fetchone()[0]


def test_customer_360_has_one_row_per_crm_customer(demo_home: Path):
    con = published(demo_home)
    rows, distinct = con.sql("select count(*), count(distinct customer_id) from customer_360").fetchone()
    assert rows == distinct == _landing_customers(demo_home)


def test_every_published_table_is_also_a_parquet_file(demo_home: Path):
    con = published(demo_home)
    tables = [t for (t,) in con.sql("select table_name from information_schema.tables").fetchall()]
    assert {
        "customer_360",
        "customer_value_tier",
        "customer_lifecycle_stage",
        "customer_churn_indicators",
        "customer_tier_history",
        "customer_actions",
        "publication_log",
    } <= set(tables)
    assert any(t.startswith("kpi_") for t in tables)
    for table in tables:
        parquet = demo_home / "published" / f"{table}.parquet"
        assert parquet.exists(), parquet
        in_db = con.sql(f"select count(*) from {table}").fetchone()[0]
        in_parquet = duckdb.sql(f"select count(*) from read_parquet('{parquet}')").fetchone()[0]
        assert in_db == in_parquet, table


def test_every_customer_in_exactly_one_tier_and_stage_with_scores_in_range(demo_home: Path):
    con = published(demo_home)
    bad = con.sql(
        """
        select count(*) from customer_360
        where value_tier not in ('vip', 'high', 'medium', 'low', 'none') or value_tier is null
           or lifecycle_stage not in ('prospect', 'churned', 'reactivated', 'new', 'declining', 'growing', 'mature')
           or lifecycle_stage is null
           or churn_risk_score not between 0 and 100 or health_score not between 0 and 100
           or (p_alive is not null and p_alive not between 0 and 1)
        """
    ).fetchone()[0]
    assert bad == 0
    nps = con.sql("select min(nps), max(nps) from kpi_satisfaction_by_tier").fetchone()
    assert all(v is None or -100 <= v <= 100 for v in nps)


def test_publication_is_logged_with_checks(demo_home: Path):
    con = published(demo_home)
    status, passed, failed, counts = con.sql(
        "select status, checks_passed, checks_failed, row_counts from publication_log order by logged_at desc limit 1"
    ).fetchone()
    assert status == "published" and failed == 0 and passed > 20
    assert '"customer_360"' in counts


def test_same_as_of_date_twice_gives_identical_published_tables(demo_home: Path):
    from orchestration.dbt_runner import manifest_path

    before = published_fingerprints(demo_home)
    parsed = manifest_path().stat().st_mtime_ns
    with c360_env(demo_home):
        assert run() == 0
    after = published_fingerprints(demo_home)
    assert before == after
    # a run does not rewrite manifest.json (the file Dagster's asset graph comes from)
    assert manifest_path().stat().st_mtime_ns == parsed
    con = published(demo_home)
    # the second run reuses every model, and still runs every check (the dbt tests on the tables it keeps)
    checks = con.sql("select checks_passed from publication_log where status = 'published'").fetchall()
    assert len(checks) == 2 and checks[0] == checks[1]
    # and writes again only the published tables whose models it built again (those reading the stored history,
    # which moves with each publication): the other files of the new version are those of the version before
    run_id, tables, message, version = con.sql(
        "select run_id, tables_published, message, version from publication_log order by logged_at desc limit 1"
    ).fetchone()
    build = duckdb.connect(str(demo_home / "warehouse" / "build.duckdb"), read_only=True)
    try:
        states = dict(build.sql("select unique_id, run_id from c360_meta.dbt_model_state").fetchall())
    finally:
        build.close()
    folders = sorted(p for p in (demo_home / "publications").iterdir() if p.is_dir() and p.name[0] != ".")
    before_version, after_version = folders[-2], folders[-1]
    assert after_version.name == version
    files = {p.stem: p for p in (after_version / "parquet").glob("*.parquet") if p.stem != "publication_log"}
    assert len(files) == tables
    kept = {name for name, path in files.items() if path.samefile(before_version / "parquet" / path.name)}
    rebuilt = {name for name in files if states[f"model.c360.{name}"] == run_id}
    assert kept == set(files) - rebuilt
    assert {"customer_360", "customer_value_tier", "customer_actions"} <= kept
    assert message.endswith(f"({len(rebuilt)} written, {len(kept)} unchanged and kept)"), message


def test_each_check_evaluation_is_tied_to_the_materialization_it_checked(demo_home: Path):
    """In the UI a check result belongs to a materialization: Dagster ties it to the latest materialization of
    its asset partition when the result is stored. Every check of the last run on an asset that run materialized
    must point at that run's materialization, not at an earlier run's."""
    import dagster as dg

    with c360_env(demo_home):
        instance = dg.DagsterInstance.get()
        try:
            run_id = instance.get_runs(limit=1)[0].run_id

            def events(event_type):
                records = instance.get_records_for_run(
                    run_id=run_id, of_type=event_type, limit=100_000
                ).records
                return [r.event_log_entry.dagster_event for r in records]

            materialized = {e.asset_key for e in events(dg.DagsterEventType.ASSET_MATERIALIZATION)}
            evaluations = [
                e.asset_check_evaluation_data for e in events(dg.DagsterEventType.ASSET_CHECK_EVALUATION)
            ]
        finally:
            instance.dispose()
    on_materialized = [e for e in evaluations if e.asset_key in materialized]
    assert len(on_materialized) > 100, "the run should check the tables it built"
    elsewhere = sorted(
        f"{e.asset_key.to_user_string()}:{e.check_name}"
        for e in on_materialized
        if e.target_materialization_data is None or e.target_materialization_data.run_id != run_id
    )
    assert not elsewhere, f"{len(elsewhere)} checks tied to another run's materialization: {elsewhere[:5]}"


def test_dbt_unit_tests_pass_against_the_built_database(demo_home: Path, tmp_path: Path):
    """The YAML unit tests of every business rule (ties, thresholds, empty windows, refunds, missing cost...)."""
    dbt = Path(sys.executable).with_name("dbt")
    env = {"C360_HOME": str(demo_home), "PATH": str(Path(sys.executable).parent), "HOME": str(demo_home)}
    completed = subprocess.run(
        [
            str(dbt),
            "test",
            "--select",
            "test_type:unit",
            "--vars",
            f'{{"as_of_date": "{AS_OF}"}}',
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",  # never the project's target/, which other processes read the manifest from
            str(tmp_path / "target"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=DBT_PROJECT_DIR,
    )
    assert completed.returncode == 0, completed.stdout[-5000:]
    assert (
        "PASS=" in completed.stdout
        and " ERROR=0" in completed.stdout
        and "FAIL=" not in completed.stdout.replace("FAIL=0", "")
    )


def test_planted_behaviours_are_found(demo_home: Path):
    """The generator's archetypes (demo/truth.parquet) come out as the rules say, within stated tolerances."""
    con = published(demo_home)
    truth = str(demo_home / "demo" / "truth.parquet")
    rows = con.sql(
        f"""
        select t.archetype,
               count(*) as customers,
               avg(case when c.value_tier in ('vip', 'high') then 1 else 0 end) as share_vip_or_high,
               avg(case when c.lifecycle_stage = 'churned' then 1 else 0 end) as share_churned,
               avg(case when c.lifecycle_stage = 'declining' or c.churn_flags <> '' then 1 else 0 end)
                   as share_declining_or_flagged,
               avg(case when c.lifecycle_stage = 'new' then 1 else 0 end) as share_new,
               avg(case when c.lifecycle_stage = 'reactivated' then 1 else 0 end) as share_reactivated,
               avg(case when c.lifecycle_stage = 'prospect' then 1 else 0 end) as share_prospect
        from read_parquet('{truth}') as t
        join customer_360 as c using (customer_id)
        group by t.archetype
        """
    ).fetchall()
    by_type = {r[0]: r[1:] for r in rows}
    customers, vip_high, churned, declining, new, reactivated, prospect = range(7)
    assert by_type["vip"][customers] >= 5
    assert by_type["vip"][vip_high] >= 0.95, by_type["vip"]
    assert by_type["churned"][churned] >= 0.95, by_type["churned"]
    assert by_type["declining"][declining] >= 0.90, by_type["declining"]
    assert by_type["new"][new] >= 0.90, by_type["new"]
    assert by_type["reactivated"][reactivated] >= 0.90, by_type["reactivated"]
    assert by_type["prospect"][prospect] == 1.0
    # and steady customers are not mistaken for churned ones
    assert by_type["steady"][churned] <= 0.02


def test_no_raw_personal_data_in_published_outputs(demo_home: Path):
    """Scan every column of every published table (DuckDB and Parquet) for e-mail addresses and phone numbers."""
    email = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
    phone = r"(\+|00)?[0-9(][0-9 ()/-]{6,}[0-9]"
    con = published(demo_home)
    tables = [t for (t,) in con.sql("select table_name from information_schema.tables").fetchall()]
    sources = [(t, t) for t in tables] + [
        (f"read_parquet('{p}')", p.name) for p in sorted((demo_home / "published").glob("*.parquet"))
    ]
    findings = []
    for relation, label in sources:
        rel = con.sql(f"select * from {relation} limit 0")
        text_columns = [
            c for c, t in zip(rel.columns, rel.types, strict=True) if str(t) in ("VARCHAR", "JSON")
        ]
        for column in text_columns:
            hits = con.sql(
                f"""select count(*), any_value(v) from (select cast("{column}" as varchar) as v from {relation})
                    where regexp_matches(v, '{email}') or (regexp_matches(v, '^{phone}$') and v not like '%*%'
                          and not regexp_matches(v, '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}'))"""
            ).fetchone()
            if hits[0]:
                findings.append(f"{label}.{column}: {hits[0]} values like {hits[1]!r}")
    assert not findings, "\n".join(findings)
    forbidden = {"email", "phone", "phone_e164", "birthday", "respondent_email"}
    for table in tables:
        assert not forbidden & set(con.sql(f"select * from {table} limit 0").columns), table
    masked = con.sql(
        "select email_masked, phone_masked from customer_360 where email_masked is not null limit 1"
    ).fetchone()
    assert "***@" in masked[0]


def test_status_shows_the_last_publication_and_report(demo_home: Path, capsys: pytest.CaptureFixture):
    from c360.cli import main

    with c360_env(demo_home):
        assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "published" in out and "customer_360=" in out
    assert "report:" in out and (demo_home / "reports" / "latest.html").exists()


def test_every_published_column_is_documented_in_dbt(demo_home: Path):
    import json

    from orchestration.dbt_runner import manifest_path

    nodes = {
        n["name"]: n
        for n in json.loads(manifest_path().read_text())["nodes"].values()
        if n["resource_type"] == "model"
    }
    con = published(demo_home)
    undocumented = []
    for (table,) in con.sql("select table_name from information_schema.tables").fetchall():
        if table == "publication_log":  # written by the publication step, documented in the README
            continue
        assert nodes[table]["description"], table
        for column in con.sql(f"select * from {table} limit 0").columns:
            if not (nodes[table]["columns"].get(column) or {}).get("description"):
                undocumented.append(f"{table}.{column}")
    assert not undocumented
