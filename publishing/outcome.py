"""What a finished run means for BI users: published, held back by a failed blocking check, or failed.

The CLI calls summarize_run() after an in-process run; the run-failure sensor calls handle_failed_run() for runs
started from the UI or the schedule. Both are idempotent per run id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import dagster as dg

from c360.settings import Settings
from publishing.duckdb_file import record_held_back
from publishing.gate import CheckRecord, collect_check_results

EXIT_PUBLISHED, EXIT_HELD_BACK, EXIT_FAILED = 0, 1, 2


@dataclass
class RunOutcome:
    run_id: str
    as_of: date
    status: str  # published | held_back | failed
    checks: list[CheckRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return {"published": EXIT_PUBLISHED, "held_back": EXIT_HELD_BACK}.get(self.status, EXIT_FAILED)

    @property
    def failed_checks(self) -> list[CheckRecord]:
        return [c for c in self.checks if c.blocks]

    @property
    def warnings(self) -> list[CheckRecord]:
        return [c for c in self.checks if c.is_warning]

    def message(self) -> str:
        if self.status == "published":
            return f"run {self.run_id} published the tables for as-of date {self.as_of}"
        if self.status == "held_back":
            lines = [
                f"run {self.run_id} (as-of {self.as_of}) was HELD BACK: {len(self.failed_checks)} blocking "
                "check(s) failed; the previous publication stays in place.",
                *(f"  - {c.line()}" for c in self.failed_checks),
            ]
            return "\n".join(lines)
        lines = [f"run {self.run_id} (as-of {self.as_of}) FAILED before publication; nothing was published."]
        lines += [f"  - {e}" for e in self.errors]
        return "\n".join(lines)


def _step_errors(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    records = instance.get_records_for_run(run_id=run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    errors = []
    for record in records:
        event = record.event_log_entry.dagster_event
        error = getattr(event.event_specific_data, "error", None)
        message = error.message.strip() if error else "unknown error"
        errors.append(f"{event.step_key}: {message.splitlines()[0] if message else message}")
    return errors


def summarize_run(instance: dg.DagsterInstance, run_id: str, as_of: date, success: bool) -> RunOutcome:
    checks = collect_check_results(instance, run_id)
    if success:
        return RunOutcome(run_id, as_of, "published", checks)
    failed = [c for c in checks if c.blocks]
    status = "held_back" if failed else "failed"
    return RunOutcome(run_id, as_of, status, checks, _step_errors(instance, run_id))


def write_alert(settings: Settings, outcome: RunOutcome) -> None:
    """The notification point: a readable message appended to C360_ALERT_LOG (plug e-mail or chat in here)."""
    settings.alert_log.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(settings.alert_log, "a", encoding="utf-8") as handle:
        handle.write(f"[{stamp}] {outcome.status.upper()} {outcome.message()}\n")


def handle_failed_run(
    settings: Settings, instance: dg.DagsterInstance, run_id: str, as_of: date
) -> RunOutcome:
    """Record a held-back run in publication_log (tables untouched) and raise the alert."""
    outcome = summarize_run(instance, run_id, as_of, success=False)
    if outcome.status == "held_back":
        record_held_back(
            settings, run_id=run_id, as_of=as_of, checks=outcome.checks, message=outcome.message()
        )
        _refresh_report(settings, run_id, as_of)
    write_alert(settings, outcome)
    return outcome


def _refresh_report(settings: Settings, run_id: str, as_of: date) -> None:
    """The report shows the held-back banner over the last published data; a report problem never hides the alert."""
    from reporting import render_report

    try:
        render_report(settings.published_db, settings.reports_dir, run_id=run_id)
    except Exception as exc:  # noqa: BLE001 - the alert below matters more than the report
        write_alert(settings, RunOutcome(run_id, as_of, "failed", errors=[f"report not refreshed: {exc}"]))
