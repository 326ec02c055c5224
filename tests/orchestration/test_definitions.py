"""The Dagster code location loads, and wires landing files -> raw tables -> dbt models -> published tables."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg


def test_definitions_load_with_the_full_asset_graph():
    from orchestration.definitions import build_definitions

    defs = build_definitions()

    repo = defs.get_repository_def()
    keys = {key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()}
    assert {"raw_orders", "raw_contacts", "raw_survey_responses"} <= keys
    assert {"stg_shop__orders", "customer_360", "customer_value_tier", "published_tables"} <= keys

    graph = repo.asset_graph
    upstream_of_published = graph.get(dg.AssetKey("published_tables")).parent_keys
    assert dg.AssetKey("customer_360") in upstream_of_published
    assert dg.AssetKey("customer_states_daily") not in upstream_of_published  # build-only history

    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert ("raw_orders", "input_contract") in checks
    assert ("customer_360", "gx_suite") in checks
    assert any(asset == "customer_360" and name.startswith("unique_") for asset, name in checks), checks


def test_job_schedule_and_sensors_exist():
    from orchestration.definitions import build_definitions

    defs = build_definitions()

    job = defs.resolve_job_def("c360_pipeline")
    assert job.partitions_def is not None
    assert defs.resolve_schedule_def("c360_daily").cron_schedule == "0 2 * * *"
    assert defs.resolve_sensor_def("landing_sensor") is not None
    assert defs.resolve_sensor_def("held_back_alert") is not None


def test_daily_schedule_runs_for_the_previous_day():
    from orchestration.definitions import build_definitions

    defs = build_definitions()

    schedule = defs.resolve_schedule_def("c360_daily")
    import datetime as dt

    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 7, 1, 2, 0, tzinfo=dt.UTC),
        repository_def=defs.get_repository_def(),
    )
    requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert [r.partition_key for r in requests] == ["2026-06-30"]


def test_definitions_load_without_great_expectations(fresh_python):
    """GX takes seconds to import: the code location must not need it until a check runs (c360 run preloads it
    in the background). Run in a fresh interpreter, since other tests of this session import GX."""
    code = (
        "import sys; import orchestration.definitions as d; "
        "assert d.defs().get_repository_def() is not None; "
        "print('great_expectations' in sys.modules)"
    )
    result = fresh_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_loading_the_definitions_under_dagster_dev_does_not_parse_the_dbt_project_again(fresh_python):
    """`dagster dev` (c360 ui) marks its processes with DAGSTER_IS_DEV_CLI; each run worker loads the definitions
    again, so a dbt parse there delays every run launched from the UI, the schedule or a backfill. The manifest,
    parsed from the same dbt files, must stay untouched."""
    from orchestration.dbt_runner import manifest_path, prepare_manifest

    prepare_manifest()
    before = manifest_path().stat().st_mtime_ns
    code = (
        "import os; os.environ['DAGSTER_IS_DEV_CLI'] = '1'; import orchestration.definitions as d; "
        "assert d.defs().get_repository_def() is not None"
    )
    result = fresh_python(code)
    assert result.returncode == 0, result.stderr
    assert manifest_path().stat().st_mtime_ns == before


def test_every_partitioned_asset_backfills_one_day_per_run():
    """A backfill of any selection (the dbt assets alone, say) must be one run per as-of date: dagster-dbt's
    default for partitioned dbt assets is one run for the whole range, which has no single as-of date."""
    from orchestration.definitions import build_definitions

    defs = build_definitions()

    graph = defs.get_repository_def().asset_graph
    policies = {
        key.to_user_string(): graph.get(key).backfill_policy
        for key in graph.executable_asset_keys
        if graph.get(key).is_partitioned
    }
    assert "customer_360" in policies and "raw_orders" in policies and "published_tables" in policies
    assert set(policies.values()) == {dg.BackfillPolicy.multi_run(max_partitions_per_run=1)}, policies
    assert defs.resolve_job_def("c360_pipeline").backfill_policy == dg.BackfillPolicy.multi_run(1)


def test_loading_the_definitions_prints_no_warnings(fresh_python):
    """Every `c360 run` loads the definitions: Dagster's warnings about beta/preview features and mixed backfill
    policies used to be printed on each run. Run in a fresh interpreter with Python's default warning filters, as
    the CLI runs."""
    code = (
        "from orchestration.definitions import defs; d = defs(); "
        "d.get_repository_def(); d.resolve_job_def('c360_pipeline'); d.resolve_job_def('c360_audit_publish')"
    )
    result = fresh_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_importing_the_code_location_has_no_side_effects(fresh_python, tmp_path):
    """Importing the definitions module reads no setting, creates no folder and parses nothing: Dagster loads the
    definitions lazily (`@dg.definitions`), when the code location or a command asks for them."""
    home = tmp_path / "not-created"
    code = (
        "import os, sys; os.environ['C360_HOME'] = sys.argv[1]; import orchestration.definitions; "
        "print(os.path.exists(sys.argv[1]), 'dbt.cli.main' in sys.modules)"
    )
    result = fresh_python(code, str(home))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_gx_suite_checks_match_the_suites():
    from datetime import date

    from expectations import suite_tables
    from orchestration.defs.quality import build_gx_checks
    from orchestration.defs.resources import daily_partitions

    gx_checks = build_gx_checks(daily_partitions(date(2024, 1, 1)))

    checked = {key.asset_key.to_user_string() for check in gx_checks for key in check.check_keys}
    assert checked == set(suite_tables())


def test_every_dbt_test_is_a_check_of_the_step_that_builds_its_inputs():
    """Each dbt test is one Dagster check, in the dbt step that builds its model; every model it reads is built
    in that step or before (a check on the CRM that reads the orders sits in the second step)."""
    from orchestration.dbt_runner import UNIQUE_ID_METADATA_KEY
    from orchestration.definitions import build_definitions
    from orchestration.defs.dbt import dbt_steps, manifest_json

    manifest = manifest_json()
    defs = build_definitions()
    graph = defs.get_repository_def().asset_graph
    steps = list(dbt_steps(manifest))
    model_step, test_step = {}, {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assets_def = node.assets_def
        if assets_def.node_def.name not in steps:
            continue
        index = steps.index(assets_def.node_def.name)
        model_step[key.path[-1]] = index
        for spec in assets_def.check_specs:
            unique_id = spec.metadata[UNIQUE_ID_METADATA_KEY]
            assert test_step.setdefault(unique_id, index) == index
    tests = {uid for uid, n in manifest["nodes"].items() if n["resource_type"] == "test"}
    assert set(test_step) == tests
    # the inputs of the fit step (tagged fit_input) are built by the first step, the models on the fits by the second
    fit_inputs = {n["name"] for n in manifest["nodes"].values() if "fit_input" in n.get("tags", [])}
    assert len(fit_inputs) == 4 and all(model_step[name] == 0 for name in fit_inputs)
    assert model_step["customer_clv"] == model_step["model_backtest"] == 1
    for uid, index in test_step.items():
        for parent in manifest["nodes"][uid]["depends_on"]["nodes"]:
            parent_node = manifest["nodes"].get(parent)
            if parent_node and parent_node["resource_type"] == "model":
                assert model_step[parent_node["name"]] <= index, (uid, parent)


def test_check_descriptions_show_enumerations_and_open_bounds():
    """The manifest keeps accepted_values read from var c360_enums unrendered; the UI shows the values."""
    from orchestration.defs.dbt import describe_test

    tiers = {
        "column_name": "value_tier",
        "test_metadata": {
            "name": "accepted_values",
            "kwargs": {"values": "{{ var('c360_enums')['value_tiers'] }}", "column_name": "value_tier"},
        },
    }
    assert describe_test(tiers) == "value_tier is one of vip, high, medium, low, none"
    at_least = {
        "column_name": "net_revenue_365d",
        "test_metadata": {"name": "between", "kwargs": {"min_value": 0, "column_name": "net_revenue_365d"}},
    }
    assert describe_test(at_least) == "net_revenue_365d is at least 0"


def test_the_manifest_is_out_of_date_when_a_dbt_file_changes_whatever_its_time(tmp_path: Path):
    """The manifest is parsed again when a dbt file's content changes, even if the new file carries an older time
    (copied with `cp -a` or `rsync -a`, unpacked from an archive), or a file is added or removed; a file touched
    without a change does not make it out of date (dbt_runner.sources_digest)."""
    from c360.settings import DBT_PROJECT_DIR
    from orchestration.dbt_runner import sources_digest

    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    first = sources_digest(project)
    model = project / "models" / "marts" / "customers" / "customer_360.sql"
    times = model.stat()
    os.utime(model, ns=(times.st_atime_ns, times.st_mtime_ns + 10**9))
    assert sources_digest(project) == first  # touched, not changed
    model.write_text(model.read_text() + "\n-- a comment\n")
    os.utime(model, ns=(times.st_atime_ns, times.st_mtime_ns - 86_400 * 10**9))  # a day older than before
    changed = sources_digest(project)
    assert changed != first
    added = project / "models" / "marts" / "customers" / "another_model.sql"
    added.write_text("select 1 as one\n")
    assert sources_digest(project) not in (first, changed)
    added.unlink()
    assert sources_digest(project) == changed
    (project / "macros" / "as_of.sql").unlink()
    assert sources_digest(project) not in (first, changed)


def test_processes_preparing_the_manifest_at_once_never_leave_a_partial_file(tmp_path: Path):
    """The UI, a CLI run and test workers may all find the manifest out of date at once: one parses at a time and
    the new manifest replaces the old one whole, so a reader never sees a part of it (two `dbt parse` writing the
    same file at once once left a manifest that no process could load)."""
    from orchestration.dbt_runner import manifest_path

    script = tmp_path / "prepare.py"
    script.write_text("from orchestration.dbt_runner import prepare_manifest; prepare_manifest(force=True)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    workers = [
        subprocess.Popen([sys.executable, str(script)], env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    reads = unreadable = 0
    while any(w.poll() is None for w in workers):
        try:
            json.loads(manifest_path().read_text())
        except json.JSONDecodeError:
            unreadable += 1
        reads += 1
        # often enough to catch a partial file; a busy loop would slow down the parses it watches
        time.sleep(0.005)
    assert [w.wait() for w in workers] == [0, 0, 0], [w.stderr.read()[-2000:] for w in workers]
    assert reads > 10 and unreadable == 0, (reads, unreadable)
    assert "model.c360.customer_360" in json.loads(manifest_path().read_text())["nodes"]
