"""The landing sensor starts one run per batch of new files (issue 5), for the latest complete day."""

from pathlib import Path

import dagster as dg


def _evaluate(cursor: str | None):
    from orchestration.definitions import build_definitions
    from orchestration.defs.resources import C360Resource

    defs = build_definitions()

    sensor = defs.resolve_sensor_def("landing_sensor")
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            repository_def=defs.get_repository_def(),
            resources={"c360": C360Resource()},
        )
        result = sensor.evaluate_tick(context)
    return result


def test_one_run_per_batch_of_new_files(c360_home: Path):
    orders = c360_home / "landing" / "orders"
    orders.mkdir(parents=True)
    assert not _evaluate(None).run_requests  # empty landing zone: skip

    (orders / "orders_a.csv").write_text("order_id\n1\n")
    (orders / "orders_b.csv").write_text("order_id\n2\n")
    first = _evaluate(None)
    assert len(first.run_requests) == 1  # two files, one run
    request = first.run_requests[0]
    assert request.partition_key  # the latest complete day
    assert request.tags["c360/new_files"] == "2"

    again = _evaluate(first.cursor)
    assert not again.run_requests  # nothing new since the cursor

    (orders / "orders_c.csv").write_text("order_id\n3\n")
    third = _evaluate(first.cursor)
    assert len(third.run_requests) == 1
    assert third.run_requests[0].tags["c360/new_files"] == "1"
    assert third.run_requests[0].run_key != request.run_key
