"""Run the Great Expectations suites of `expectations.suites` against the build, on the pipeline's engine.

On DuckDB, why pandas and not GX's SQL datasource: GX 1.24 through SQLAlchemy (duckdb-engine) fails inside metric
bundling on DuckDB, so every expectation comes back unsuccessful with an exception attached. The suites therefore
validate customer-grain tables (one row per customer, or a handful of KPI rows) as pandas DataFrames, loading
only the columns the suite names. On Spark they validate Spark DataFrames through GX's Spark data source: the
table stays in Spark, GX computes its metrics there. Order-level data never leaves the engine: the facts needed
from it (newest completed order) and the distribution / volume metrics are computed with one aggregate SQL query
each (the same SQL on every engine) and validated as a one-row DataFrame.

A result that GX reports with an exception attached is an ``error`` outcome: never a pass, never a data failure,
and it makes `SuiteResult.passed` false.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import duckdb
import great_expectations as gx
import numpy as np
import pandas as pd
from great_expectations.core.expectation_validation_result import (
    ExpectationSuiteValidationResult,
    ExpectationValidationResult,
)
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from expectations.suites import (
    FRESHNESS_SOURCE,
    METRIC_DAYS_SINCE_NEWEST_ORDER,
    METRIC_VIP_SHARE,
    METRIC_VOLUME_RATIO,
    GateConfig,
    Severity,
    build_gate_metrics_suite,
    build_table_suite,
    has_gate_metrics,
    severity_of,
    suite_tables,
)
from warehouse import DuckDBWarehouse, Warehouse

# Older GX 1.x releases send usage statistics unless told otherwise; the contexts below also disable it in config.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

logger = logging.getLogger(__name__)

Status = Literal["passed", "failed", "error"]

_RESULT_FORMAT: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 5}
SCHEMA = "main"  # the schema of the marts the suites validate
_SAMPLE_VALUES = 5


@dataclass(frozen=True)
class ExpectationOutcome:
    """The outcome of one expectation, flattened for Dagster asset-check metadata and run summaries.

    Attributes:
        suite: GX suite name (the table name, or ``<table>__gate_metrics`` for the one-row metrics suite).
        table: the table the check is about.
        expectation: readable call, e.g. ``expect_column_values_to_be_between(churn_risk_score, 0, 100)``.
        column: the column checked, if any.
        status: ``passed``, ``failed`` (the data broke the expectation) or ``error`` (the check itself raised).
        severity: ``blocking`` failures hold back the publication; ``warning`` ones are only recorded.
        observed: what was found (observed value, or unexpected count and sample); None for errors.
        expected: what the expectation requires, in words.
        detail: exception text for errors, unexpected values / context for failures, notes otherwise.
    """

    suite: str
    table: str
    expectation: str
    column: str | None
    status: Status
    severity: Severity
    observed: str | None
    expected: str
    detail: str | None

    def describe(self) -> str:
        """One line for logs and run summaries."""
        text = f"[{self.severity} {self.status}] {self.table}: {self.expectation} expected {self.expected}"
        if self.observed is not None:
            text += f", observed {self.observed}"
        if self.status != "passed" and self.detail:
            text += f" ({self.detail})"
        return text


@dataclass(frozen=True)
class SuiteResult:
    """Outcomes of every suite run for one table.

    Attributes:
        suite: the table's suite name (the table name).
        table: the validated table.
        outcomes: one outcome per expectation, in suite order (table suite first, then gate metrics).
        rows: rows in the table (0 when it could not be read).
        seconds: wall time of the whole run.
        notes: checks that were skipped and why (e.g. no previous publication to compare volume with).
    """

    suite: str
    table: str
    outcomes: list[ExpectationOutcome]
    rows: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every blocking expectation passed and no expectation raised."""
        return not self.failed_blocking and not self.errors

    @property
    def failed_blocking(self) -> list[ExpectationOutcome]:
        """Blocking expectations that the data failed."""
        return [o for o in self.outcomes if o.status == "failed" and o.severity == "blocking"]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        """Warning-severity expectations that the data failed (recorded, not blocking)."""
        return [o for o in self.outcomes if o.status == "failed" and o.severity == "warning"]

    @property
    def errors(self) -> list[ExpectationOutcome]:
        """Expectations that could not be evaluated (they raised); they block like failures."""
        return [o for o in self.outcomes if o.status == "error"]

    def summary(self) -> str:
        """Multi-line summary naming each failed, erroring and warning check."""
        state = "passed" if self.passed else "FAILED"
        lines = [
            f"{self.table}: {state} - {len(self.outcomes)} checks, {len(self.failed_blocking)} failed blocking, "
            f"{len(self.errors)} errors, {len(self.warnings)} warnings ({self.rows} rows, {self.seconds:.2f} s)"
        ]
        lines += [f"  {o.describe()}" for o in (*self.errors, *self.failed_blocking, *self.warnings)]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def run_table_suite(
    warehouse: Warehouse | duckdb.DuckDBPyConnection,
    table: str,
    *,
    as_of: date,
    config: GateConfig,
    previous_row_count: int | None = None,
) -> SuiteResult:
    """Validate one customer-grain table of the build database with its suite.

    Args:
        warehouse: the build's warehouse (or a connection to the build DuckDB database); `table` is read from
            schema ``main``.
        table: one of `suite_tables()`.
        as_of: the run's as-of date (freshness is measured against it).
        config: gate thresholds.
        previous_row_count: rows of the table in the last publication; None (first run) skips the volume check
            with a note.

    Returns:
        The outcomes. A missing table, column or staging model gives ``error`` outcomes; nothing raises for data
        problems.

    Raises:
        ValueError: `table` has no suite.
    """
    started = time.perf_counter()
    if table not in suite_tables():
        raise ValueError(f"No expectation suite for table {table!r}; known tables: {suite_tables()}")
    options: dict[str, Any] = dict(
        as_of=as_of,
        config=config,
        previous_row_count=previous_row_count,
        started=started,
    )
    if not isinstance(warehouse, duckdb.DuckDBPyConnection):
        return _run(warehouse, table, **options)
    cursor = warehouse.cursor()  # own cursor: safe when the caller shares the connection between threads
    try:
        return _run(DuckDBWarehouse(cursor), table, **options)
    finally:
        cursor.close()


# --------------------------------------------------------------------------------------------------------------
# Orchestration of one table
# --------------------------------------------------------------------------------------------------------------


@dataclass
class _Batch:
    """A suite and the DataFrame it validates (pandas, or Spark), plus context for failure details."""

    suite: gx.ExpectationSuite
    frame: Any
    details: dict[str, str] = field(default_factory=dict)  # column -> context shown with a failure


def _run(
    wh: Warehouse,
    table: str,
    *,
    as_of: date,
    config: GateConfig,
    previous_row_count: int | None,
    started: float,
) -> SuiteResult:
    table_suite = build_table_suite(table, config)
    existing = [name for name, _ in wh.columns(SCHEMA, table)]
    if not existing:
        return SuiteResult(
            suite=table_suite.name,
            table=table,
            outcomes=[
                _error_outcome(
                    table_suite.name,
                    table,
                    "table exists",
                    f"{table} is missing from the build database (no table {SCHEMA}.{table}); "
                    "run the dbt build for it before the quality gate.",
                )
            ],
            rows=0,
            seconds=time.perf_counter() - started,
        )

    # Load only the columns the suite names: a column missing from the table stays missing from the DataFrame,
    # and GX reports an error for exactly the expectations that need it.
    wanted = [c for c in _suite_columns(table_suite) if c in existing] or existing
    frame, rows = _frame(wh, table, wanted)
    batches = [_Batch(table_suite, frame)]
    outcomes: list[ExpectationOutcome] = []
    notes: list[str] = []
    if has_gate_metrics(table):
        metrics_batch, metric_errors, metric_notes = _gate_metrics(
            wh, table, as_of=as_of, config=config, previous_row_count=previous_row_count, rows=rows
        )
        batches.append(metrics_batch)
        outcomes += metric_errors
        notes += metric_notes

    batches = [b for b in batches if b.suite.expectations]
    results: list[ExpectationSuiteValidationResult] = []
    try:
        results = _validate_all(batches, as_of=as_of)
    except Exception as exc:  # a crash of GX itself: report, never pass
        logger.exception("Great Expectations failed while validating %s", table)
        outcomes.insert(
            0,
            _error_outcome(
                table_suite.name, table, "run suite", f"Great Expectations raised {type(exc).__name__}: {exc}"
            ),
        )
        results = []
    finally:
        if not isinstance(frame, pd.DataFrame):
            frame.unpersist()  # GX's Spark data source caches the DataFrame it validates

    converted: list[ExpectationOutcome] = []
    for batch, result in zip(batches, results, strict=False):
        converted += _outcomes(batch, result, table)
    return SuiteResult(
        suite=table_suite.name,
        table=table,
        outcomes=converted + outcomes,
        rows=rows,
        seconds=time.perf_counter() - started,
        notes=notes,
    )


def _frame(wh: Warehouse, table: str, columns: list[str]) -> tuple[Any, int]:
    """The columns of the table as the DataFrame GX validates, and its row count: a Spark DataFrame on Spark (the
    data stays in Spark), else pandas."""
    if wh.engine == "spark":
        frame = wh.spark.table(f"{SCHEMA}.{table}").select(*(f"`{c}`" for c in columns))  # type: ignore[attr-defined]
        return frame, frame.count()
    frame = _vectorizable(
        wh.query(f"select {', '.join(_quote(c) for c in columns)} from {SCHEMA}.{_quote(table)}")
    )
    return frame, len(frame)


def _vectorizable(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable numeric columns (DuckDB's nullable INTEGER arrives as pandas ``Int32``) as float64.

    GX's pandas range check is vectorized only for NumPy int/float dtypes; on extension dtypes it calls a Python
    function per value (about 1 s per million rows and column). Scores and counts are far below 2**53, so float64
    is exact for them.
    """
    for name, dtype in frame.dtypes.items():
        if (
            not isinstance(dtype, np.dtype)
            and pd.api.types.is_numeric_dtype(dtype)
            and not pd.api.types.is_bool_dtype(dtype)
        ):
            frame[name] = frame[name].astype("float64")
    return frame


def _suite_columns(suite: gx.ExpectationSuite) -> list[str]:
    columns: list[str] = []
    for expectation in suite.expectations:
        column = getattr(expectation, "column", None)
        if column and column not in columns:
            columns.append(column)
    return columns


# --------------------------------------------------------------------------------------------------------------
# Gate metrics (one row, computed in DuckDB)
# --------------------------------------------------------------------------------------------------------------


def _gate_metrics(
    wh: Warehouse,
    table: str,
    *,
    as_of: date,
    config: GateConfig,
    previous_row_count: int | None,
    rows: int,
) -> tuple[_Batch, list[ExpectationOutcome], list[str]]:
    """Compute the one-row metrics DataFrame of `table` and its suite.

    Returns the batch to validate, error outcomes for metrics that could not be computed (their expectations are
    left out of the suite), and notes for skipped checks.
    """
    suite_name = f"{table}__gate_metrics"
    errors: list[ExpectationOutcome] = []
    notes: list[str] = []
    values: dict[str, float] = {}
    details: dict[str, str] = {}

    check_vip_share = True
    try:
        vip_customers, customers = _one_row(
            wh, f"select sum(case when value_tier = 'vip' then 1 else 0 end), count(*) from {SCHEMA}.{table}"
        )
        vip_customers = vip_customers or 0
    except Exception as exc:  # noqa: BLE001 - whatever the engine raises, the check reports it as an error
        check_vip_share = False
        errors.append(
            _error_outcome(
                suite_name,
                table,
                f"expect_column_max_to_be_between({METRIC_VIP_SHARE}, {config.vip_share_min:g}, "
                f"{config.vip_share_max:g})",
                f"vip share could not be computed from {table}: {_first_line(exc)}",
                column=METRIC_VIP_SHARE,
                expected=f"between {config.vip_share_min:g} and {config.vip_share_max:g}",
            )
        )
    else:
        values[METRIC_VIP_SHARE] = vip_customers / customers if customers else 0.0
        details[METRIC_VIP_SHARE] = f"{vip_customers} vip of {customers} customers"

    check_volume = previous_row_count is not None and previous_row_count > 0
    if check_volume:
        values[METRIC_VOLUME_RATIO] = rows / previous_row_count
        details[METRIC_VOLUME_RATIO] = f"{rows} rows now vs {previous_row_count} in the previous publication"
    elif previous_row_count is None:
        notes.append(f"volume change of {table} not checked: no previous publication (first run)")
    else:
        notes.append(f"volume change of {table} not checked: the previous publication had 0 rows")

    freshness_expectation = (
        f"expect_column_max_to_be_between({METRIC_DAYS_SINCE_NEWEST_ORDER}, 0, {config.freshness_max_days})"
    )
    check_freshness = True
    try:
        relation = _find_relation(wh, FRESHNESS_SOURCE)
        day = f"date '{as_of.isoformat()}'"
        newest, later = _one_row(
            wh,
            f"""
            select
                max(case when cast(order_date as date) <= {day} then cast(order_date as date) end),
                sum(case when cast(order_date as date) > {day} then 1 else 0 end)
            from {relation}
            where lower(order_status) = 'completed'
            """,
        )
    except Exception as exc:  # noqa: BLE001 - a missing model or the engine's error: the check reports it
        check_freshness = False
        errors.append(
            _error_outcome(
                suite_name,
                table,
                freshness_expectation,
                f"freshness could not be computed from {FRESHNESS_SOURCE}: {_first_line(exc)}",
                column=METRIC_DAYS_SINCE_NEWEST_ORDER,
                expected=f"between 0 and {config.freshness_max_days}",
            )
        )
    else:
        newest_date = newest.date() if isinstance(newest, datetime) else newest
        values[METRIC_DAYS_SINCE_NEWEST_ORDER] = (
            float((as_of - newest_date).days) if newest_date is not None else math.nan
        )
        context = (
            f"newest completed order {newest_date} in {relation}, as-of {as_of}"
            if newest_date is not None
            else f"no completed order on or before {as_of} in {relation}"
        )
        if later:
            context += f"; {later} completed orders after the as-of date are ignored"
        details[METRIC_DAYS_SINCE_NEWEST_ORDER] = context

    suite = build_gate_metrics_suite(
        table,
        config,
        check_vip_share=check_vip_share,
        check_volume=check_volume,
        check_freshness=check_freshness,
    )
    frame = pd.DataFrame({name: [value] for name, value in values.items()}, dtype="float64")
    return _Batch(suite, frame, details), errors, notes


def _one_row(wh: Warehouse, sql: str) -> tuple:
    """The values of a one-row query, in column order."""
    result = wh.query_arrow(sql)
    return tuple(column[0].as_py() for column in result.columns)


def _find_relation(wh: Warehouse, name: str) -> str:
    """Qualified name of the table or view `name`: schema main first, else a staging schema, else any."""
    if wh.engine == "spark":
        spark = wh.spark  # type: ignore[attr-defined]
        schemas = sorted(d.name for d in spark.catalog.listDatabases() if wh.table_exists(d.name, name))
    else:
        schemas = [
            row[0]
            for row in wh.rows(  # type: ignore[attr-defined]
                "select table_schema from information_schema.tables "
                "where table_name = ? and table_catalog = current_database() order by table_schema",
                [name],
            )
        ]
    if not schemas:
        raise LookupError(
            f"{name} not found in any schema of the build database; build the dbt staging models first"
        )
    if SCHEMA in schemas:
        schema = SCHEMA
    else:
        schema = next((s for s in schemas if "staging" in s), schemas[0])
    return f"{schema}.{name}"


# --------------------------------------------------------------------------------------------------------------
# Great Expectations plumbing
# --------------------------------------------------------------------------------------------------------------


def _make_context() -> Any:
    """An ephemeral GX context (nothing written to disk): no progress bars, no analytics."""
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _validate_all(batches: list[_Batch], *, as_of: date) -> list[ExpectationSuiteValidationResult]:
    """Validate every batch in one fresh context."""
    context = _make_context()
    return [_validate(context, batch, as_of=as_of) for batch in batches]


def _validate(context: Any, batch: _Batch, *, as_of: date) -> ExpectationSuiteValidationResult:
    """Run one suite on its DataFrame through a Checkpoint."""
    name = batch.suite.name
    if isinstance(batch.frame, pd.DataFrame):
        datasource = context.data_sources.add_pandas(name=f"{name}__pandas")
    else:
        datasource = context.data_sources.add_spark(name=f"{name}__spark")
    batch_definition = datasource.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe("whole")
    suite = context.suites.add_or_update(batch.suite)
    batch.suite = suite  # the stored suite carries the expectation ids used to order the outcomes
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=f"{name}__checkpoint",
            validation_definitions=[definition],
            result_format=_RESULT_FORMAT,
        )
    )
    result = checkpoint.run(
        batch_parameters={"dataframe": batch.frame},
        run_id=RunIdentifier(run_name=f"as_of={as_of.isoformat()}"),
    )
    (suite_result,) = result.run_results.values()
    return suite_result


# --------------------------------------------------------------------------------------------------------------
# Results -> outcomes
# --------------------------------------------------------------------------------------------------------------


def _outcomes(
    batch: _Batch, result: ExpectationSuiteValidationResult, table: str
) -> list[ExpectationOutcome]:
    """Convert GX results to outcomes, in the order the suite lists its expectations."""
    order = {e.id: i for i, e in enumerate(batch.suite.expectations)}
    ranked = sorted(
        result.results, key=lambda r: order.get(getattr(r.expectation_config, "id", None), len(order))
    )
    return [_outcome(batch, r, table) for r in ranked]


def _outcome(batch: _Batch, result: ExpectationValidationResult, table: str) -> ExpectationOutcome:
    config = result.expectation_config
    kwargs = dict(config.kwargs)
    column = kwargs.get("column")
    severity = severity_of(config.meta)
    label = _label(config.type, kwargs)
    expected = _expected(config.type, kwargs)
    notes = _notes_text(getattr(config, "notes", None))

    error = _exception_message(result.exception_info)
    if error is not None:
        return ExpectationOutcome(
            suite=batch.suite.name,
            table=table,
            expectation=label,
            column=column,
            status="error",
            severity=severity,
            observed=None,
            expected=expected,
            detail=error,
        )
    status: Status = "passed" if result.success else "failed"
    observed, sample = _observed(dict(result.result or {}))
    context = batch.details.get(column or "")
    detail_parts = [sample, context, notes] if status == "failed" else [context]
    detail_parts = [p for p in detail_parts if p]
    return ExpectationOutcome(
        suite=batch.suite.name,
        table=table,
        expectation=label,
        column=column,
        status=status,
        severity=severity,
        observed=observed,
        expected=expected,
        detail="; ".join(detail_parts) or None,
    )


def _error_outcome(
    suite: str,
    table: str,
    expectation: str,
    detail: str,
    *,
    column: str | None = None,
    expected: str = "the check can run",
) -> ExpectationOutcome:
    return ExpectationOutcome(
        suite=suite,
        table=table,
        expectation=expectation,
        column=column,
        status="error",
        severity="blocking",
        observed=None,
        expected=expected,
        detail=detail,
    )


def _exception_message(info: Any) -> str | None:
    """The exception text if GX reports that the expectation raised, else None.

    GX attaches ``{"raised_exception": ..., "exception_message": ...}`` for the expectation itself, or a mapping
    from metric id to such a dict when a metric it depends on failed to resolve.
    """
    if not info:
        return None
    if not isinstance(info, dict):
        info = getattr(
            info, "to_json_dict", lambda: {"raised_exception": True, "exception_message": str(info)}
        )()
    entries: Iterable[Any] = [info] if "raised_exception" in info else info.values()
    messages: list[str] = []
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            message = str(entry.get("exception_message") or "unknown error").strip()
            if message not in messages:
                messages.append(message)
    return "; ".join(messages) if messages else None


def _observed(result: dict[str, Any]) -> tuple[str | None, str | None]:
    """(observed, unexpected sample) from a GX result dict in SUMMARY format."""
    if "observed_value" in result:
        return _fmt(result["observed_value"]), None
    if "unexpected_count" not in result:
        return None, None
    count = int(result.get("unexpected_count") or 0)
    total = int(result.get("element_count") or 0)
    percent = float(result.get("unexpected_percent") or 0.0)
    if count == 0:
        return f"0 of {total} rows unexpected", None
    # Distinct values of GX's partial sample (its counts are counts within the sample, not in the table).
    values: list[str] = []
    for value in result.get("partial_unexpected_list") or []:
        text = _fmt(value)
        if text not in values:
            values.append(text)
    sample = ", ".join(values[:_SAMPLE_VALUES])
    if values == ["null"]:
        return f"{count} of {total} rows ({percent:.3g}%) null", None
    observed = f"{count} of {total} rows ({percent:.3g}%) unexpected"
    if sample:
        observed += f": {sample}"
    return observed, (f"unexpected values include {sample}" if sample else None)


def _label(kind: str, kwargs: dict[str, Any]) -> str:
    """``expect_column_values_to_be_between(churn_risk_score, 0, 100)``-style call text."""
    args: list[str] = []
    if kwargs.get("column") is not None:
        args.append(str(kwargs["column"]))
    if "min_value" in kwargs or "max_value" in kwargs:
        args += [_fmt(kwargs.get("min_value")), _fmt(kwargs.get("max_value"))]
    if kwargs.get("value_set") is not None:
        args.append(_fmt_set(kwargs["value_set"]))
    if kwargs.get("regex") is not None:
        args.append(f"'{kwargs['regex']}'")
    if kwargs.get("mostly") is not None and kwargs["mostly"] < 1:
        args.append(f"mostly={_fmt(kwargs['mostly'])}")
    return f"{kind}({', '.join(args)})"


def _expected(kind: str, kwargs: dict[str, Any]) -> str:
    """What the expectation requires, in words."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and high is not None:
        text = f"between {_fmt(low)} and {_fmt(high)}"
    elif low is not None:
        text = f">= {_fmt(low)}"
    elif high is not None:
        text = f"<= {_fmt(high)}"
    elif kwargs.get("value_set") is not None:
        text = f"in {_fmt_set(kwargs['value_set'])}"
    elif kwargs.get("regex") is not None:
        text = f"not matching '{kwargs['regex']}'"
    elif kind.endswith("to_not_be_null"):
        text = "not null"
    elif kind.endswith("to_be_unique"):
        text = "unique"
    else:
        text = kind
    if kind.startswith("expect_table_row_count"):
        text = f"row count {text}"
    mostly = kwargs.get("mostly")
    if mostly is not None and mostly < 1:
        text += f" for at least {mostly:.0%} of rows"
    return text


def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return "null" if math.isnan(value) else f"{value:.6g}"
    try:
        if pd.isna(value):
            return "null"
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return _fmt(value.item())
    return str(value)


def _fmt_set(values: Sequence[Any]) -> str:
    return "{" + ", ".join(_fmt(v) for v in values) + "}"


def _notes_text(notes: Any) -> str | None:
    if not notes:
        return None
    return notes if isinstance(notes, str) else " ".join(str(n) for n in notes)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
