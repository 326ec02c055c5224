"""Comparison of one model's table across engines, with the written list of tolerated differences.

Tolerated (and nothing else):
- float noise: two doubles are equal when they differ by at most 1e-9 relative (1e-12 absolute near zero);
- types: integer widths (INTEGER vs BIGINT), decimal precision and scale (PostgreSQL's numeric of a CASE or a
  sum has no declared scale; values compare as numbers, text made from them compares as text), a double where an
  engine computes an integer (Spark's ceil is BIGINT), text type names (VARCHAR, TEXT, STRING), timestamps with
  or without a time zone when both are UTC, and array element types of the same kind;
- column order: Spark stores the partition column of a table (as_of_date of the history models) last;
- the values of `rules_key` (staging models, int_customer_order_totals): a hash of the SQL the engine ran,
  which is written in its dialect, and of `orders_rules_key` (int_customer_order_totals: the orders' staging
  model's rules_key). The column must be there on both sides and hold one value per table.
Values are compared as values: Decimal('97.2') equals Decimal('97.20'), an array as the sequence of its elements.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa

# Columns whose values differ by engine by design (see the module docstring).
ENGINE_SPECIFIC_COLUMNS = ("rules_key", "orders_rules_key")
REL_TOL = 1e-9
ABS_TOL = 1e-12


def _kind(arrow_type: pa.DataType) -> str:
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type):
        return "float"
    if pa.types.is_decimal(arrow_type):
        return "decimal"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "text"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"array of {_kind(arrow_type.value_type)}"
    return str(arrow_type)


def _compatible(expected: pa.DataType, actual: pa.DataType) -> bool:
    kinds = {_kind(expected), _kind(actual)}
    return len(kinds) == 1 or kinds == {"integer", "float"}


def _value(value: Any) -> Any:
    """A plain Python value for comparison: None for every kind of null, tuples for arrays, naive UTC times."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.ndarray | list | tuple):
        return tuple(_value(v) for v in value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, str | bool) or isinstance(b, str | bool):
            return False
        return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return not isinstance(a, bool | str) and not isinstance(b, bool | str) and Decimal(a) == Decimal(b)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b or (isinstance(a, int) and isinstance(b, int) and a == b)


def _sort_key(row: tuple) -> tuple:
    """Rows sorted by every column, floats at 9 significant digits (so that noise does not reorder them)."""
    key = []
    for v in row:
        if v is None:
            key.append((0, ""))
        elif isinstance(v, float | Decimal | int) and not isinstance(v, bool):
            key.append((1, float(f"{float(v):.9g}")))
        else:
            key.append((2, repr(v)))
    return tuple(key)


def _identical(expected: pa.Table, actual: pa.Table) -> bool:
    """The fast path: the same rows once `actual` is cast to `expected`'s types (a safe cast, which fails rather
    than change a value), sorted the same way. Identical rows are also equal under the tolerances below, so a
    True needs no further look; False (noise in a float, a cast that cannot be made) leaves the row-by-row
    comparison to decide. Comparing 100,000 rows row by row takes seconds of Python; this takes milliseconds."""
    try:
        actual = actual.cast(expected.schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return False
    keys = [
        (f.name, "ascending")
        for f in expected.schema
        if not (pa.types.is_list(f.type) or pa.types.is_large_list(f.type) or pa.types.is_struct(f.type))
    ]
    if keys:
        expected, actual = expected.sort_by(keys), actual.sort_by(keys)
    return expected.equals(actual)


def table_differences(expected: pa.Table, actual: pa.Table, *, max_reported: int = 5) -> list[str]:
    """What differs between two versions of a table beyond the tolerated differences (empty when equal). The
    messages name columns and row numbers only, never values."""
    problems: list[str] = []
    exp_fields = {f.name: f.type for f in expected.schema}
    act_fields = {f.name: f.type for f in actual.schema}
    if set(exp_fields) != set(act_fields):
        missing = sorted(set(exp_fields) - set(act_fields))
        extra = sorted(set(act_fields) - set(exp_fields))
        return [f"columns differ: missing {missing}, unexpected {extra}"]
    for name in ENGINE_SPECIFIC_COLUMNS:
        if name in exp_fields:
            for side, table in (("expected", expected), ("actual", actual)):
                if table.num_rows and len(table.column(name).unique()) != 1:
                    problems.append(f"column {name}: more than one value in the {side} table")
            del exp_fields[name], act_fields[name]
    for name, exp_type in exp_fields.items():
        if not _compatible(exp_type, act_fields[name]):
            problems.append(
                f"column {name}: type {exp_type} vs {act_fields[name]} is not a tolerated difference"
            )
    if expected.num_rows != actual.num_rows:
        problems.append(f"row count {expected.num_rows} vs {actual.num_rows}")
        return problems
    names = list(exp_fields)
    if not problems and _identical(expected.select(names), actual.select(names)):
        return []
    exp_rows = (
        sorted(zip(*(map(_value, expected.column(n).to_pylist()) for n in names), strict=True), key=_sort_key)
        if expected.num_rows
        else []
    )
    act_rows = (
        sorted(zip(*(map(_value, actual.column(n).to_pylist()) for n in names), strict=True), key=_sort_key)
        if actual.num_rows
        else []
    )
    reported = 0
    for i, (e, a) in enumerate(zip(exp_rows, act_rows, strict=True)):
        bad = [n for n, x, y in zip(names, e, a, strict=True) if not _equal(x, y)]
        if bad:
            reported += 1
            if reported <= max_reported:
                problems.append(f"sorted row {i}: columns {bad} differ")
    if reported > max_reported:
        problems.append(f"... {reported} differing rows in all")
    return problems
