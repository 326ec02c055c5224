"""The Dagster code location loads, and wires landing files -> raw tables -> dbt models -> published tables."""

import dagster as dg


def test_definitions_load_with_the_full_asset_graph():
    from orchestration.definitions import defs

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
    from orchestration.definitions import defs

    job = defs.resolve_job_def("c360_pipeline")
    assert job.partitions_def is not None
    assert defs.resolve_schedule_def("c360_daily").cron_schedule == "0 2 * * *"
    assert defs.resolve_sensor_def("landing_sensor") is not None
    assert defs.resolve_sensor_def("held_back_alert") is not None


def test_daily_schedule_runs_for_the_previous_day():
    from orchestration.definitions import defs

    schedule = defs.resolve_schedule_def("c360_daily")
    import datetime as dt

    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 7, 1, 2, 0, tzinfo=dt.UTC))
    requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert [r.partition_key for r in requests] == ["2026-06-30"]
