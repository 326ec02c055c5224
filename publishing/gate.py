"""The quality gate's view of a run: every asset check evaluation of the run, and the verdict."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import dagster as dg


@dataclass(frozen=True)
class CheckRecord:
    """One asset check evaluation, flattened for the publication log and the run summary."""

    asset: str
    check: str
    passed: bool
    severity: str  # "ERROR" blocks publication, "WARN" is recorded only
    blocking: bool
    observed: str | None
    expected: str | None
    description: str | None

    @property
    def blocks(self) -> bool:
        return not self.passed and self.severity == "ERROR"

    @property
    def is_warning(self) -> bool:
        return not self.passed and not self.blocks

    def line(self) -> str:
        where = f"{self.check} on {self.asset}"
        parts = [where]
        if self.observed:
            parts.append(f"observed {self.observed}")
        if self.expected:
            parts.append(f"expected {self.expected}")
        if self.description:
            parts.append(self.description)
        return " - ".join(parts)


def _text(value: object) -> str | None:
    if value is None:
        return None
    inner = getattr(value, "value", value)
    if isinstance(inner, (dict, list)):
        return json.dumps(inner, default=str)
    return str(inner)


def collect_check_results(instance: dg.DagsterInstance, run_id: str) -> list[CheckRecord]:
    """All asset check evaluations recorded for `run_id`, in the order they happened."""
    records = instance.get_records_for_run(
        run_id=run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, limit=100_000
    ).records
    results: list[CheckRecord] = []
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        evaluation = event.event_specific_data
        metadata = dict(evaluation.metadata or {})
        results.append(
            CheckRecord(
                asset=evaluation.asset_key.to_user_string(),
                check=evaluation.check_name,
                passed=bool(evaluation.passed),
                severity=evaluation.severity.value,
                blocking=bool(getattr(evaluation, "blocking", False)),
                observed=_text(metadata.get("observed") or metadata.get("dagster_dbt/failed_row_count")),
                expected=_text(metadata.get("expected")),
                description=evaluation.description,
            )
        )
    return results


def checks_as_json(checks: list[CheckRecord]) -> str:
    return json.dumps([asdict(c) for c in checks], default=str)
