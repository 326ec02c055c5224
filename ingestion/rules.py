"""The contract's row rules as SQL: one query types every column and flags every broken rule of every row."""

from __future__ import annotations

import duckdb

from ingestion.contracts import FALSE_VALUES, TRUE_VALUES, Column, Contract
from ingestion.formats import TYPED, Staged
from ingestion.sql import lit, text_sql

_MAX_VALUE_IN_REASON = 80


def type_rows(con: duckdb.DuckDBPyConnection, contract: Contract, staged: Staged) -> None:
    """Create ``TYPED``: typed contract columns, ``_rn``, ``_extra``, ``_errors`` (NULL = good) and ``_raw``.

    One statement of nested projections, each level computing from the previous one: the trimmed and
    case-normalized text ``v<i>`` (and the native value ``n<i>`` of typed Parquet columns), the parsed value
    ``p<i>``, the final typed value ``t<i>``, the number ``f<i>`` of the first broken rule of each column (0 =
    fine), the cross-column rules ``g<k>`` (only checked when both columns passed their own rules). Reasons are
    only built for the rows that broke a rule, so good rows cost a few integer comparisons.
    """
    texts, parsed, typed, flags, cross = [], [], [], [], []
    errors: list[str] = []  # SQL for each possible error struct (NULL when that check passed)
    flagged: list[str] = []  # SQL conditions "this check failed"
    with_rules: set[int] = set()
    shown: dict[int, str] = {}  # SQL of each column's value as text, for reasons (only built for broken rows)
    for i, col in enumerate(contract.columns):
        expr, duck_type = staged.columns.get(col.name, ("NULL", "VARCHAR"))
        native = _native_ok(col.type, duck_type)
        if native:
            # A typed (Parquet) value is used as is: its presence is "n IS NOT NULL" and it is rendered as text
            # only inside the reason of a broken rule, instead of casting every value to text.
            texts.append(f"{expr} AS n{i}")
            shown[i] = f"CAST(n{i} AS VARCHAR)"
        else:
            raw = f"CAST({expr} AS VARCHAR)"
            # trim() is slow; most values have nothing to trim, and the LIKE tests are cheap.
            text = f"NULLIF(CASE WHEN {raw} LIKE ' %' OR {raw} LIKE '% ' THEN trim({raw}) ELSE {raw} END, '')"
            if col.case:
                text = f"{col.case}({text})"
            texts.append(f"{text} AS v{i}")
            shown[i] = f"v{i}"
        parsed.append(f"{_parse_sql(col, f'v{i}', f'n{i}' if native else None)} AS p{i}")
        typed.append(f"{_final_sql(col, f'p{i}')} AS t{i}")
        cases = _rule_cases(contract, col, i, present=f"n{i}" if native else f"v{i}", shown=shown[i])
        if not cases:
            continue
        whens = " ".join(f"WHEN {cond} THEN {k + 1}" for k, (cond, _) in enumerate(cases))
        flags.append(f"CASE {whens} ELSE 0 END AS f{i}")
        value = f"CAST({expr} AS VARCHAR)"
        structs = " ".join(
            f"WHEN {k + 1} THEN {_error_sql(lit(col.name), value, reason)}"
            for k, (_, reason) in enumerate(cases)
        )
        errors.append(f"CASE f{i} {structs} END")
        flagged.append(f"f{i} > 0")
        with_rules.add(i)
    for k, rule in enumerate(contract.cross_rules):
        a = next(i for i, c in enumerate(contract.columns) if c.name == rule.column)
        b = next(i for i, c in enumerate(contract.columns) if c.name == rule.other)
        passed = " AND ".join([f"f{x} = 0" for x in (a, b) if x in with_rules] + [f"t{a} > t{b}"])
        cross.append(f"coalesce({passed}, false) AS g{k}")
        reason = text_sql(
            rule.column + " '{a}' is greater than " + rule.other + " '{b}'; " + rule.explanation,
            a=f"left({shown[a]}, {_MAX_VALUE_IN_REASON})",
            b=f"left({shown[b]}, {_MAX_VALUE_IN_REASON})",
        )
        value = (
            f"CAST({staged.columns[rule.column][0]} AS VARCHAR)" if rule.column in staged.columns else "NULL"
        )
        errors.append(f"CASE WHEN g{k} THEN {_error_sql(lit(rule.column), value, reason)} END")
        flagged.append(f"g{k}")
    not_ok = f"[{_error_sql('NULL::VARCHAR', 'NULL::VARCHAR', staged.not_ok_reason_sql)}]"
    typed_columns = ", ".join(f"t{i} AS {c.name}" for i, c in enumerate(contract.columns))
    query = f"SELECT *, {', '.join(texts)}, {staged.extra_sql} AS _extra FROM {staged.from_sql} s"
    for level in (parsed, typed, flags, cross):
        if level:
            query = f"SELECT *, {', '.join(level)} FROM ({query})"
    any_error = " OR ".join(flagged) or "false"
    con.execute(
        f"""
        CREATE TEMP TABLE {TYPED} AS
        SELECT {typed_columns}, _rn, _extra, _errors,
               CASE WHEN _errors IS NOT NULL THEN {staged.raw_sql} END AS _raw
        FROM (
            SELECT *, CASE WHEN NOT {staged.ok_sql} THEN {not_ok}
                           WHEN {any_error} THEN [{", ".join(errors)}] END AS _errors
            FROM ({query})
        )
        """
    )


_NUMERIC_TYPES = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
    "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL",
)  # fmt: skip


def _native_ok(column_type: str, duck_type: str) -> bool:
    """Can a typed (Parquet) value of ``duck_type`` be converted directly, without going through text?"""
    upper = duck_type.upper()
    if column_type in ("timestamp", "date"):
        return upper == "DATE" or upper.startswith("TIMESTAMP")
    if column_type in ("decimal", "integer"):
        return upper.startswith(_NUMERIC_TYPES)
    if column_type == "boolean":
        return upper == "BOOLEAN"
    return False


def _parse_sql(col: Column, v: str, native: str | None) -> str:
    """SQL parsing the trimmed text ``v`` (or the native value) to the column's type; NULL if it cannot."""
    if col.type == "text":
        return v
    if col.type == "timestamp":
        return f"TRY_CAST({native or v} AS TIMESTAMPTZ)"
    if col.type == "decimal":
        return f"TRY_CAST({native or v} AS DECIMAL(18,2))"
    if col.type == "integer":
        return f"TRY_CAST({native or v} AS DOUBLE)"
    if col.type == "boolean":
        if native:
            return native
        true_values = ", ".join(lit(x) for x in TRUE_VALUES)
        false_values = ", ".join(lit(x) for x in FALSE_VALUES)
        return f"CASE WHEN lower({v}) IN ({true_values}) THEN true WHEN lower({v}) IN ({false_values}) THEN false END"
    if col.type == "date":
        if native:
            return f"CAST({native} AS DATE)"
        return f"coalesce(TRY_CAST({v} AS DATE), CAST(TRY_CAST({v} AS TIMESTAMP) AS DATE))"
    raise ValueError(f"unknown column type {col.type!r}")


def _final_sql(col: Column, p: str) -> str:
    """SQL for the stored value from the parsed value ``p`` (NULL when it is not acceptable)."""
    if col.type == "timestamp":
        # = timezone('UTC', p) under TimeZone UTC, without the (slow) time zone conversion
        return f"CASE WHEN isfinite({p}) THEN make_timestamp(epoch_us({p})) END"
    if col.type == "integer":
        return f"CASE WHEN isfinite({p}) AND {p} = floor({p}) AND abs({p}) < 2147483647 THEN CAST({p} AS INTEGER) END"
    return p


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _rule_cases(
    contract: Contract, col: Column, i: int, *, present: str, shown: str
) -> list[tuple[str, str]]:
    """The rules of column ``i``, in order, as (SQL condition "broken", SQL reason).

    ``present`` is the SQL of the delivered value (NULL when empty), ``shown`` the SQL of its text for reasons.
    """
    v, t = present, f"t{i}"
    shown = {"value": f"left({shown}, {_MAX_VALUE_IN_REASON})"}
    name = col.name
    cases: list[tuple[str, str]] = []
    if col.not_empty:
        if col.key:
            why = f"every {contract.source} row needs its key {name}; fill it in the export"
        else:
            why = f"it is required ({col.hint})" if col.hint else "it is required"
        cases.append((f"{v} IS NULL", text_sql(f"{name} is empty; {why}")))
    parse_reason = {
        "timestamp": "is not a valid timestamp; use ISO 8601 such as 2025-03-31T14:05:00+02:00, "
        "2025-03-31 14:05:00 or 2025-03-31",
        "decimal": "is not a number; use digits with a dot as decimal separator and no thousands separator, "
        "e.g. 1234.50",
        "integer": "is not a whole number",
        "boolean": "is not a boolean; use true/false, yes/no, 1/0 or t/f",
        "date": "is not a valid date; use YYYY-MM-DD",
    }.get(col.type)
    bounds = ""
    if col.minimum is not None and col.maximum is not None:
        bounds = f"{_number(col.minimum)} to {_number(col.maximum)}"
    if parse_reason:
        if col.type == "integer" and bounds:
            parse_reason += (
                f"; {name} must be a whole number from {_number(col.minimum)} to {_number(col.maximum)}"
            )
        cases.append(
            (f"{v} IS NOT NULL AND {t} IS NULL", text_sql(name + " '{value}' " + parse_reason, **shown))
        )
    if col.allowed:
        allowed = ", ".join(lit(a) for a in col.allowed)
        reason = name + " '{value}' is not one of " + ", ".join(col.allowed) + " (case-insensitive)"
        cases.append((f"{t} NOT IN ({allowed})", text_sql(reason, **shown)))
    if col.pattern:
        reason = name + " '{value}' is not " + (col.pattern_hint or f"matching {col.pattern}")
        cases.append((f"NOT regexp_full_match({t}, {lit(col.pattern)})", text_sql(reason, **shown)))
    if col.minimum is not None:
        if bounds:
            reason = name + " '{value}' is outside the allowed range " + bounds
        elif col.type == "decimal" and col.minimum == 0:
            reason = name + " '{value}' is negative; amounts must be >= 0"
        else:
            reason = name + " '{value}' is below the minimum " + _number(col.minimum)
        cases.append((f"{t} < {col.minimum}", text_sql(reason, **shown)))
    if col.maximum is not None:
        limit = (
            f"outside the allowed range {bounds}" if bounds else f"above the maximum {_number(col.maximum)}"
        )
        cases.append((f"{t} > {col.maximum}", text_sql(name + " '{value}' is " + limit, **shown)))
    return cases


def _error_sql(column: str, value: str, reason: str) -> str:
    """SQL struct for one broken rule (all arguments are SQL expressions)."""
    return f"struct_pack(column_name := {column}, value := {value}, reason := {reason})"
