"""The run's console log: one short line per message (time, step, message) instead of Dagster's full prefix."""

from __future__ import annotations

import logging
import sys
from datetime import datetime

import dagster as dg

# Dagster events worth a line on the console; the rest (resource set-up, outputs, log capture) stays in the
# event log the UI shows.
_EVENTS = {"STEP_START", "STEP_FAILURE", "STEP_SKIPPED", "RUN_FAILURE"}


class _ShortFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        message = meta.get("orig_message", record.getMessage())
        step = meta.get("step_key")
        event = meta.get("dagster_event")
        if event is not None and event.event_type_value == "STEP_FAILURE":
            message = f"FAILED: {failure_text(event)}"
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        return f"{stamp} {step}: {message}" if step else f"{stamp} {message}"


class _Filter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        event = (getattr(record, "dagster_meta", None) or {}).get("dagster_event")
        return event is None or event.event_type_value in _EVENTS


def failure_text(event) -> str:
    """The root cause of a step failure in one line: the user's Failure description, else the innermost error."""
    data = event.event_specific_data
    user = getattr(data, "user_failure_data", None)
    if user is not None and user.description:
        return user.description.strip().splitlines()[0]
    error = getattr(data, "error", None)
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None:
        return "unknown error"
    return (
        f"{error.cls_name}: {(error.message or '').strip().splitlines()[0] if error.message else ''}".strip()
    )


@dg.logger(
    config_schema={"log_level": dg.Field(str, is_required=False, default_value="INFO")},
    description="Short console lines: time, step, message.",
)
def c360_console(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.getLogger("c360.console")
    logger.setLevel(init_context.logger_config["log_level"].upper())
    logger.propagate = False
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_ShortFormatter())
    handler.addFilter(_Filter())
    logger.addHandler(handler)
    return logger
