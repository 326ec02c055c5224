"""Phase timings of the latest Dagster run of an instance (DAGSTER_HOME must be set), printed as JSON.

    DAGSTER_HOME=$C360_HOME/dagster python -m benchmarks.run_stats

Phases from ``instance.get_run_step_stats``: ingestion = raw_* steps, dbt = the two dbt steps (c360_dbt_upstream,
c360_dbt_models), fit = the fit step (model_fits), checks = *_gx_suite steps, publication = published_tables; anything else is
listed under ``other``. Also the run's own start/end,
the per-model ``execution_seconds`` dbt reported in the materialization events, and the step list.
"""

from __future__ import annotations

import json
import sys

# The fit step of orchestration/defs/analytics.py (FIT_STEP), and its name in runs recorded before it also fitted
# the spend model and the backtest.
FIT_STEPS = ("model_fits", "bgnbd_fit")


def phase_of(step_key: str) -> str:
    if step_key.startswith("raw_"):
        return "ingestion"
    if step_key in ("c360_dbt_upstream", "c360_dbt_models"):
        return "dbt"
    if step_key in FIT_STEPS:
        return "fit"
    if step_key.endswith("_gx_suite") or "gx_suite" in step_key:
        return "checks"
    if step_key == "published_tables":
        return "publication"
    return "other"


def main() -> int:
    import dagster as dg

    instance = dg.DagsterInstance.get()
    runs = instance.get_runs(limit=1)
    if not runs:
        print(json.dumps({"error": "no run in this instance"}))
        return 1
    run = runs[0]
    stats = instance.get_run_stats(run.run_id)
    steps = sorted(instance.get_run_step_stats(run.run_id), key=lambda s: s.start_time or 0)
    phases: dict[str, float] = {}
    step_rows = []
    for s in steps:
        if s.start_time is None or s.end_time is None:
            continue
        seconds = s.end_time - s.start_time
        phase = phase_of(s.step_key)
        phases[phase] = phases.get(phase, 0.0) + seconds
        step_rows.append(
            {
                "step": s.step_key,
                "phase": phase,
                "status": str(s.status.value if s.status else None),
                "start_offset_s": round(s.start_time - stats.start_time, 3),
                "seconds": round(seconds, 3),
            }
        )
    models = []
    records = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=1000
    ).records
    for record in records:
        mat = record.event_log_entry.dagster_event.event_specific_data.materialization
        value = mat.metadata.get("execution_seconds")
        if value is not None:
            models.append({"name": mat.asset_key.path[-1], "seconds": round(float(value.value), 3)})
    run_s = (stats.end_time - stats.start_time) if stats.start_time and stats.end_time else None
    print(
        json.dumps(
            {
                "run_id": run.run_id,
                "status": str(run.status.value),
                "run_s": run_s,
                "phases": phases,
                "steps_sum_s": sum(phases.values()),
                "steps": step_rows,
                "dbt_models": sorted(models, key=lambda m: -m["seconds"]),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
