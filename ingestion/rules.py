"""The contract's row rules as SQL: one query types every column and flags every broken rule of every row.

Reasons never repeat the offending value: ``raw.quarantine`` keeps it in its ``value`` column, and reasons travel
into logs and alerts, where a value (a name, an e-mail address) must not appear. A reason starts with the column
name and says which rule was broken and what a valid value looks like.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingestion.contracts import (
    FALSE_VALUES,
    ID_INVISIBLE,
    ID_SPACES,
    MAX_AMOUNT,
    TRUE_VALUES,
    Column,
    Contract,
)
from ingestion.formats import Field, Staged
from ingestion.sql import lit, text_sql

#: Largest value of an INTEGER column (the raw type).
_MAX_INTEGER = 2**31 - 1

_NUMERIC_TYPES = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
    "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL",
)  # fmt: skip

# RE2 character class of the control characters an id must not hold (C0, DEL and C1).
_CONTROL_CHARACTERS = r"[\x00-\x1f\x7f-\x{9f}]"


@dataclass(frozen=True)
class Typing:
    """The typing query of a staged file, split by outcome (both evaluate every rule of every row)."""

    good_sql: str  # typed contract columns, _rn and _extra of the rows that broke no rule
    bad_sql: str  # _rn, _errors (one struct per broken rule) and _raw of the rows that broke one


def typing(contract: Contract, staged: Staged) -> Typing:
    """SQL typing every column of ``staged`` and flagging, per row, every broken rule of ``contract``.

    One statement of nested projections, each level computing from the previous one: a per-row flag ``_odd``
    (an id holds something other than printable ASCII: white space to trim, invisible or control characters), the trimmed and case-normalized text ``v<i>`` (and the native value
    ``n<i>`` of typed Parquet columns), the parsed value ``p<i>``, the final typed value ``t<i>``, the number
    ``f<i>`` of the first broken rule of each column (0 = fine), the cross-column rules ``g<k>`` (only checked
    when both columns passed their own rules). Reasons are only built for the rows that broke a rule, so good rows
    cost a few integer comparisons. The loader appends the good rows straight to the raw table (no staging copy
    of the typed rows) and runs the bad-row query only when some row broke a rule.
    """
    texts, parsed, typed, flags, cross = [], [], [], [], []
    errors: list[str] = []  # SQL for each possible error struct (NULL when that check passed)
    flagged: list[str] = []  # SQL conditions "this check failed"
    with_rules: set[int] = set()
    ids: list[str] = []  # SQL of the delivered text of the id columns read as text
    for i, col in enumerate(contract.columns):
        source = staged.columns.get(col.name, Field("NULL"))
        native = _native_ok(col.type, source.duck_type)
        if native:
            # A typed (Parquet) value is used as is: its presence is "n IS NOT NULL", no cast to text.
            texts.append(f"{source.expr} AS n{i}")
        else:
            raw = f"CAST({source.expr} AS VARCHAR)"
            if col.id and col.name in staged.columns:
                ids.append(raw)
            texts.append(f"{_text_sql(col, raw)} AS v{i}")
        parsed.append(f"{_parse_sql(col, f'v{i}', f'n{i}' if native else None)} AS p{i}")
        typed.append(f"{_final_sql(col, f'p{i}')} AS t{i}")
        cases = _rule_cases(contract, col, i, present=f"n{i}" if native else f"v{i}", source=source)
        if not cases:
            continue
        whens = " ".join(f"WHEN {cond} THEN {k + 1}" for k, (cond, _) in enumerate(cases))
        flags.append(f"CASE {whens} ELSE 0 END AS f{i}")
        value = f"CAST({source.expr} AS VARCHAR)"
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
        reason = lit(f"{rule.column} is greater than {rule.other}; {rule.explanation}")
        value = (
            f"CAST({staged.columns[rule.column].expr} AS VARCHAR)"
            if rule.column in staged.columns
            else "NULL"
        )
        errors.append(f"CASE WHEN g{k} THEN {_error_sql(lit(rule.column), value, reason)} END")
        flagged.append(f"g{k}")
    # One regular expression per row over all its ids (not one per id): the dearest check of the common case.
    odd = f"NOT regexp_full_match(concat({', '.join(ids)}), '[ -~]*')" if ids else "false"
    query = f"SELECT *, {odd} AS _odd FROM {staged.from_sql} s"
    query = f"SELECT *, {', '.join(texts)}, {staged.extra_sql} AS _extra FROM ({query})"
    for level in (parsed, typed, flags, cross):
        if level:
            query = f"SELECT *, {', '.join(level)} FROM ({query})"
    good = f"{staged.ok_sql} AND NOT ({' OR '.join(flagged) or 'false'})"
    not_ok = f"[{_error_sql('NULL::VARCHAR', 'NULL::VARCHAR', staged.not_ok_reason_sql)}]"
    typed_columns = ", ".join(f"t{i} AS {c.name}" for i, c in enumerate(contract.columns))
    return Typing(
        good_sql=f"SELECT {typed_columns}, _rn, _extra FROM ({query}) WHERE {good}",
        bad_sql=(
            f"SELECT _rn, CASE WHEN NOT {staged.ok_sql} THEN {not_ok} ELSE [{', '.join(errors)}] END AS _errors, "
            f"{staged.raw_sql} AS _raw FROM ({query}) WHERE NOT ({good})"
        ),
    )


def _text_sql(col: Column, raw: str) -> str:
    """SQL of the delivered text ``raw`` as the rules see it: trimmed (ids normalized), case-folded, '' = NULL."""
    if col.id:
        # Only values with something to remove pay for the regular expressions: a space at either end, or
        # anything but printable ASCII among the row's ids (_odd).
        text = (
            f"CASE WHEN _odd OR {raw} LIKE ' %' OR {raw} LIKE '% ' "
            f"THEN trim(regexp_replace({raw}, {lit('[' + ID_INVISIBLE + ']')}, '', 'g'), {lit(ID_SPACES)}) "
            f"ELSE {raw} END"
        )
    else:
        # trim() is slow; most values have nothing to trim, and the LIKE tests are cheap.
        text = f"CASE WHEN {raw} LIKE ' %' OR {raw} LIKE '% ' THEN trim({raw}) ELSE {raw} END"
    text = f"NULLIF({text}, '')"
    return f"{col.case}({text})" if col.case else text


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
        return (
            f"CASE WHEN isfinite({p}) AND {p} = floor({p}) AND abs({p}) <= {_MAX_INTEGER} "
            f"THEN CAST({p} AS INTEGER) END"
        )
    return p  # an amount above MAX_AMOUNT is a broken rule (see _rule_cases): its row is never stored


def _number(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else str(x)


_PARSE_REASONS = {
    "timestamp": "is not a valid timestamp; use ISO 8601 such as 2025-03-31T14:05:00+02:00, 2025-03-31 14:05:00 "
    "or 2025-03-31",
    "decimal": "is not a number; use digits with a dot as decimal separator and no thousands separator, "
    "e.g. 1234.50",
    "integer": "is not a whole number",
    "boolean": "is not a boolean; use true/false, yes/no, 1/0 or t/f",
    "date": "is not a valid date; use YYYY-MM-DD",
}


def _rule_cases(
    contract: Contract, col: Column, i: int, *, present: str, source: Field
) -> list[tuple[str, str]]:
    """The rules of column ``i``, in order, as (SQL condition "broken", SQL reason).

    ``present`` is the SQL of the delivered value (NULL when empty); ``source`` says how it was delivered.
    """
    v, p, t = present, f"p{i}", f"t{i}"
    name = col.name
    cases: list[tuple[str, str]] = []
    if col.not_empty:
        if col.key:
            why = f"every {contract.source} row needs its key {name}; fill it in the export"
        else:
            why = f"it is required ({col.hint})" if col.hint else "it is required"
        cases.append((f"{v} IS NULL", lit(f"{name} is empty; {why}")))
    if source.nested is not None:
        reason = text_sql(
            name + " is {kind}; a single value is expected, not a nested structure", kind=source.nested
        )
        cases.append((f"{source.nested} IS NOT NULL", reason))
    if col.type == "text" and col.id:
        reason = (
            f"{name} contains a control character (such as a tab, a line break or NUL); ids must be printable "
            "text, check the export"
        )
        # only when the row's ids hold anything but printable ASCII (_odd, see typing()) is each id looked at
        control = f"CASE WHEN _odd THEN regexp_matches({v}, {lit(_CONTROL_CHARACTERS)}) ELSE false END"
        cases.append((control, lit(reason)))
    elif col.type == "text":
        reason = (
            f"{name} contains a NUL character (U+0000), which text values must not hold; check the export"
        )
        cases.append((f"contains({v}, chr(0))", lit(reason)))
    bounds = ""
    if col.minimum is not None and col.maximum is not None:
        bounds = f"{_number(col.minimum)} to {_number(col.maximum)}"
    if col.type == "decimal":
        number = f"TRY_CAST({v} AS DOUBLE)"
        cases.append(
            (
                f"{v} IS NOT NULL AND {p} IS NULL AND coalesce(isnan({number}), true)",
                lit(f"{name} {_PARSE_REASONS['decimal']}"),
            )
        )
        reason = (
            f"{name} is too large: amounts must not exceed {MAX_AMOUNT:,} in absolute value (the limit of the "
            "input contract)"
        )
        cases.append((f"{v} IS NOT NULL AND ({p} IS NULL OR abs({p}) > {MAX_AMOUNT})", lit(reason)))
    elif col.type == "integer":
        reason = f"{name} {_PARSE_REASONS['integer']}"
        if bounds:
            reason += f"; {name} must be a whole number from {bounds}"
        cases.append(
            (f"{v} IS NOT NULL AND ({p} IS NULL OR NOT isfinite({p}) OR {p} <> floor({p}))", lit(reason))
        )
        if not bounds:
            reason = (
                f"{name} is too large for a whole number (the limit is {_MAX_INTEGER:,} in absolute value)"
            )
            cases.append((f"{v} IS NOT NULL AND {t} IS NULL", lit(reason)))
    elif col.type in _PARSE_REASONS:
        cases.append((f"{v} IS NOT NULL AND {t} IS NULL", lit(f"{name} {_PARSE_REASONS[col.type]}")))
    if col.allowed:
        allowed = ", ".join(lit(a) for a in col.allowed)
        reason = f"{name} is not one of {', '.join(col.allowed)} (case-insensitive)"
        cases.append((f"{t} NOT IN ({allowed})", lit(reason)))
    if col.pattern:
        reason = f"{name} is not {col.pattern_hint or f'matching {col.pattern}'}"
        cases.append((f"NOT regexp_full_match({t}, {lit(col.pattern)})", lit(reason)))
    # Bounds are checked on the parsed value, so that a whole number beyond the INTEGER range is out of range.
    bounded = p if col.type == "integer" else t
    if col.minimum is not None:
        if bounds:
            reason = f"{name} is outside the allowed range {bounds}"
        elif col.type == "decimal" and col.minimum == 0:
            reason = f"{name} is negative; amounts must be >= 0"
        else:
            reason = f"{name} is below the minimum {_number(col.minimum)}"
        cases.append((f"{bounded} < {col.minimum}", lit(reason)))
    if col.maximum is not None:
        limit = (
            f"outside the allowed range {bounds}" if bounds else f"above the maximum {_number(col.maximum)}"
        )
        cases.append((f"{bounded} > {col.maximum}", lit(f"{name} is {limit}")))
    return cases


def _error_sql(column: str, value: str, reason: str) -> str:
    """SQL struct for one broken rule (all arguments are SQL expressions)."""
    return f"struct_pack(column_name := {column}, value := {value}, reason := {reason})"
