"""What a finished run means for BI users: published, held back by a failed blocking check, or failed.

- published (exit 0): every blocking check passed and the tables were published;
- held back (exit 1): the run completed its work, a blocking check failed, the previous publication stays;
- failed (exit 2): something else went wrong (a model error, a lock, a full disk, a bug); the root cause comes
  first, and checks that could not run because of it are listed as not run, never as failed.

The CLI summarizes its in-process runs; the run-failure sensor handles runs started by the daemon, the UI or a
backfill. Both are idempotent per run id.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import dagster as dg

from c360.settings import Settings
from publishing.gate import CheckRecord, collect_check_results

EXIT_PUBLISHED, EXIT_HELD_BACK, EXIT_FAILED = 0, 1, 2
OUTCOME_TAG = "c360/outcome"
_CHECK_FAILURE_ERRORS = ("DagsterAssetCheckFailedError",)


@dataclass
class RunOutcome:
    run_id: str
    as_of: date
    status: str  # published | published_history | held_back | failed
    checks: list[CheckRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # root causes, most important first
    not_run: list[str] = field(default_factory=list)  # checks that did not run because of a failure

    @property
    def exit_code(self) -> int:
        return {
            "published": EXIT_PUBLISHED,
            "published_history": EXIT_PUBLISHED,
            "held_back": EXIT_HELD_BACK,
        }.get(self.status, EXIT_FAILED)

    @property
    def failed_checks(self) -> list[CheckRecord]:
        return [c for c in self.checks if c.blocks]

    @property
    def warnings(self) -> list[CheckRecord]:
        return [c for c in self.checks if c.is_warning]

    @property
    def root_cause(self) -> str | None:
        return self.errors[0] if self.errors else None

    def message(self) -> str:
        if self.status == "published":
            return f"run {self.run_id} published the tables for as-of date {self.as_of}"
        if self.status == "published_history":
            return (
                f"run {self.run_id} published the history of as-of date {self.as_of} (tier history, transitions, "
                "fit history); the current tables stay at their newer as-of date"
            )
        if self.status == "held_back":
            lines = [
                f"run {self.run_id} (as-of {self.as_of}) was HELD BACK: {len(self.failed_checks)} blocking "
                "check(s) failed; the previous publication stays in place.",
                *(f"  - {c.line()}" for c in self.failed_checks),
            ]
            return "\n".join(lines)
        lines = [f"run {self.run_id} (as-of {self.as_of}) FAILED; nothing was published."]
        lines += [f"  cause: {e}" for e in self.errors] or [
            "  cause: unknown (see the run's log in the Dagster UI)"
        ]
        if self.failed_checks:
            lines.append(f"  and {len(self.failed_checks)} blocking check(s) failed:")
            lines += [f"  - {c.line()}" for c in self.failed_checks]
        if self.not_run:
            lines.append(f"  {len(self.not_run)} check(s) not run because of it")
        return "\n".join(lines)


def _root_cause(event: dg.DagsterEvent) -> tuple[str, bool, list[str]]:
    """(one-line cause, whether it is only a failed blocking check, checks not run) of a failure event."""
    data = event.event_specific_data
    user = getattr(data, "user_failure_data", None)
    not_run: list[str] = []
    if user is not None:
        metadata = dict(user.metadata or {})
        value = metadata.get("not_run_checks")
        if value is not None:
            not_run = list(getattr(value, "value", value) or [])
        if user.description:
            where = f"{event.step_key}: " if event.step_key else ""
            return where + user.description.strip().splitlines()[0], False, not_run
    error = getattr(data, "error", None)
    chain = []
    while error is not None:
        chain.append(error)
        error = error.cause
    if not chain:
        return f"{event.step_key or 'run'}: unknown error", False, not_run
    only_checks = any(e.cls_name in _CHECK_FAILURE_ERRORS for e in chain)
    deepest = chain[-1]
    text = (deepest.message or "").strip().splitlines()
    where = f"{event.step_key}: " if event.step_key else ""
    return f"{where}{deepest.cls_name}: {text[0] if text else ''}".rstrip(": "), only_checks, not_run


def _failures(instance: dg.DagsterInstance, run_id: str) -> tuple[list[str], list[str]]:
    """Root causes of the run's step and run failures (blocking-check failures excluded), and checks not run."""
    causes: list[str] = []
    not_run: list[str] = []
    for event_type in (dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE):
        for record in instance.get_records_for_run(run_id=run_id, of_type=event_type).records:
            event = record.event_log_entry.dagster_event
            if event is None:
                continue
            if event_type == dg.DagsterEventType.RUN_FAILURE and (
                causes or getattr(event.event_specific_data, "error", None) is None
            ):
                continue  # the step failures above say why (the run's failure repeats the first of them)
            cause, only_checks, skipped = _root_cause(event)
            not_run += skipped
            if not only_checks and cause not in causes:
                causes.append(cause)
    return causes, sorted(set(not_run))


def summarize_run(
    instance: dg.DagsterInstance, run_id: str, as_of: date, success: bool, settings: Settings | None = None
) -> RunOutcome:
    checks = collect_check_results(instance, run_id)
    if success:
        status = "published"
        if settings is not None:
            from publishing.log import entries

            logged = [row["status"] for row in entries(settings) if row["run_id"] == run_id]
            status = logged[-1] if logged else status
        return RunOutcome(run_id, as_of, status, checks)
    causes, not_run = _failures(instance, run_id)
    failed = [c for c in checks if c.blocks]
    status = "held_back" if failed and not causes else "failed"
    return RunOutcome(run_id, as_of, status, checks, causes, not_run)


def write_alert(settings: Settings, outcome: RunOutcome) -> None:
    """The notification point: a readable message appended to C360_ALERT_LOG (plug e-mail or chat in here).
    On a full disk the space kept in reserve is freed for it."""
    from publishing.log import with_reserve

    settings.alert_log.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = f"[{stamp}] {outcome.status.upper()} {outcome.message()}\n".encode()

    def write() -> None:
        fd = os.open(settings.alert_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, text)
        finally:
            os.close(fd)

    with_reserve(settings, write)


def handle_failed_run(
    settings: Settings, instance: dg.DagsterInstance, run_id: str, as_of: date
) -> RunOutcome:
    """Record a held-back or failed run in the publication log (tables untouched), tag it, raise the alert."""
    from publishing.publish import record_outcome

    outcome = summarize_run(instance, run_id, as_of, success=False)
    instance.add_run_tags(run_id, {OUTCOME_TAG: outcome.status})
    disk_full = False
    try:
        disk_full = record_outcome(
            settings,
            run_id=run_id,
            as_of=as_of,
            status=outcome.status,
            checks=outcome.checks,
            message=outcome.message(),
        )
    except OSError as exc:  # the alert below must still go out
        outcome.errors.append(f"the publication log could not be written: {exc}")
    if disk_full:
        outcome.errors.insert(
            0, "the disk is full: the log entry used the space kept in reserve; free space now"
        )
    if outcome.status == "held_back":
        _refresh_report(settings, run_id, as_of)
    write_alert(settings, outcome)
    return outcome


def _refresh_report(settings: Settings, run_id: str, as_of: date) -> None:
    """The report shows the held-back banner over the last published data; a report problem never hides the alert."""
    from reporting import render_report

    try:
        from c360.dbt_vars import defaults
        from publishing.log import entries

        if not settings.published_db.exists():
            return  # nothing published yet: no report to put the banner on
        render_report(
            settings.published_db,
            settings.reports_dir,
            run_id=run_id,
            currency=defaults().get("reporting_currency"),
            log_rows=entries(settings),
        )
    except Exception as exc:  # noqa: BLE001 - the alert below matters more than the report
        write_alert(settings, RunOutcome(run_id, as_of, "failed", errors=[f"report not refreshed: {exc}"]))
