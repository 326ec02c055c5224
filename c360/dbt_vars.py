"""The business rules' vars (dbt_project.yml): checked before any work, so a bad value never reaches the SQL.

Each var has one declaration of its type and allowed range, `c360_var_rules` in dbt_project.yml, next to the vars
and their documentation. A rule is written `<type>` or `<type> <min>..<max>` (either bound may be left out):

  integer, number        whole number / any number, optionally bounded
  share                  a number from 0 to 1
  currency               an ISO 4217 code, three capital letters
  rates                  a map currency code -> number > 0 (exchange rates to the reporting currency)
  calling_codes          a map two-letter country code -> digits (telephone calling codes)
  optional_number        a number (bounded as above) or null (off)
  boolean                true or false (a switch)
  enums                  a map name -> list of distinct lower-case names (the categories the models produce)

`check_vars` refuses unknown names, wrong types and out-of-range values, and a few rules that tie vars together
(tier shares in order, risk levels in order), with a message naming the var and its range.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import yaml

from c360.settings import DBT_PROJECT_DIR

RULES_VAR = "c360_var_rules"
# Set by c360 itself for every run (from --as-of / the partition), never through --var.
RESERVED = ("as_of_date",)
# Part of the project's definition: the models produce exactly these values, and Python reads them from
# dbt_project.yml (c360/enums.py), so an override would make dbt and Python disagree.
FIXED = ("c360_enums",)

_RULE = re.compile(r"^(?P<type>[a-z_]+)(?:\s+(?P<min>-?[0-9.]*)\.\.(?P<max>-?[0-9.]*))?$")


class VarError(ValueError):
    """A var override (or a project default) breaks its declared rule; the message says which and why."""


@cache
def project_vars() -> dict[str, Any]:
    """The vars of dbt_project.yml (defaults), including the rules."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return dict(project.get("vars") or {})


def rules() -> dict[str, str]:
    return dict(project_vars().get(RULES_VAR) or {})


def defaults() -> dict[str, Any]:
    return {k: v for k, v in project_vars().items() if k != RULES_VAR}


def describe(name: str) -> str:
    """The declared rule of a var in words, e.g. 'integer from 1 to 3650'."""
    kind, low, high = _parse_rule(name, rules()[name])
    bounds = ""
    if low is not None and high is not None:
        bounds = f" from {_fmt(low)} to {_fmt(high)}"
    elif low is not None:
        bounds = f" of at least {_fmt(low)}"
    elif high is not None:
        bounds = f" of at most {_fmt(high)}"
    words = {
        "integer": "a whole number",
        "number": "a number",
        "share": "a share (number)",
        "currency": "a three-letter ISO 4217 currency code such as USD",
        "rates": "a map of currency codes to exchange rates > 0",
        "calling_codes": "a map of two-letter country codes to calling codes (digits)",
        "optional_number": "a number or null",
        "boolean": "true or false",
        "enums": "a map of names to lists of distinct lower-case names",
    }[kind]
    return words + bounds


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _parse_rule(name: str, rule: str) -> tuple[str, float | None, float | None]:
    match = _RULE.match(str(rule).strip())
    if not match:
        raise VarError(f"dbt_project.yml: the rule of var {name} ({rule!r}) is not '<type> [min..max]'")
    kind = match["type"]
    low = float(match["min"]) if match["min"] else None
    high = float(match["max"]) if match["max"] else None
    if kind == "share":
        low = 0.0 if low is None else low
        high = 1.0 if high is None else high
    return kind, low, high


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(float(value)) else None


def _check_one(name: str, value: Any, rule: str) -> None:
    kind, low, high = _parse_rule(name, rule)
    bad = VarError(f"var {name}: expected {describe(name)}")
    if kind == "optional_number" and value is None:
        return
    if kind in ("integer", "number", "share", "optional_number"):
        number = _number(value)
        if number is None or (kind == "integer" and not number.is_integer()):
            raise bad
        if (low is not None and number < low) or (high is not None and number > high):
            raise bad
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise bad
    elif kind == "currency":
        if not (isinstance(value, str) and re.fullmatch(r"[A-Z]{3}", value)):
            raise bad
    elif kind == "rates":
        if not isinstance(value, Mapping) or not value:
            raise bad
        for code, rate in value.items():
            number = _number(rate)
            if (
                not (isinstance(code, str) and re.fullmatch(r"[A-Z]{3}", code))
                or number is None
                or number <= 0
            ):
                raise VarError(f"var {name}: expected {describe(name)} (entry {code!r} is not)")
    elif kind == "calling_codes":
        if not isinstance(value, Mapping):
            raise bad
        for country, code in value.items():
            if not (isinstance(country, str) and re.fullmatch(r"[A-Z]{2}", country)) or not re.fullmatch(
                r"[0-9]{1,4}", str(code)
            ):
                raise VarError(f"var {name}: expected {describe(name)} (entry {country!r} is not)")
    elif kind == "enums":
        if not isinstance(value, Mapping) or not value:
            raise bad
        for key, names in value.items():
            if not (
                isinstance(key, str)
                and isinstance(names, list)
                and names
                and all(isinstance(n, str) and re.fullmatch(r"[a-z0-9_/]+", n) for n in names)
                and len(set(names)) == len(names)
            ):
                raise VarError(f"var {name}: expected {describe(name)} (entry {key!r} is not)")
    else:
        raise VarError(f"dbt_project.yml: var {name} has an unknown rule type {kind!r}")


_ORDERED = (
    (
        ("tier_vip_top_share", "tier_high_top_share", "tier_medium_top_share"),
        "tier shares must grow from vip to medium",
    ),
    (("risk_level_medium_min", "risk_level_high_min"), "the medium risk level must start below the high one"),
)


def check_vars(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The project's vars with `overrides` applied, after checking every one; returns only the overrides.

    Raises VarError for an unknown or reserved name, a value of the wrong type, a value out of its range, or
    values that break an ordering rule.
    """
    declared = rules()
    values = defaults()
    missing = sorted(set(values) - set(declared) - set(RESERVED))
    if missing:
        raise VarError(f"dbt_project.yml: var(s) {', '.join(missing)} have no rule in {RULES_VAR}")
    overrides = dict(overrides or {})
    for name in overrides:
        if name in RESERVED:
            raise VarError(f"var {name} is set by c360 for each run: use --as-of instead of --var {name}=…")
        if name in FIXED:
            raise VarError(
                f"var {name} cannot be overridden: the models produce exactly these values; "
                "change them in dbt_project.yml together with the models"
            )
        if name not in declared:
            close = [known for known in declared if known.startswith(name[:4])][:5]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise VarError(f"unknown var {name!r}{hint}; the vars are listed in dbt_project.yml")
    values.update(overrides)
    for name, rule in declared.items():
        if name in values:
            _check_one(name, values[name], rule)
    for names, why in _ORDERED:
        numbers = [values[n] for n in names if n in values]
        if len(numbers) == len(names) and any(a > b for a, b in zip(numbers, numbers[1:], strict=False)):
            raise VarError(f"vars {', '.join(names)}: {why} (got {', '.join(map(_fmt, numbers))})")
    return overrides


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs from the command line; VALUE is read as YAML (numbers, null, maps), else as text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise VarError(f"--var expects KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def vars_table() -> str:
    """The README's table of business vars: name, default, type and range (`python -m c360.dbt_vars`)."""
    lines = ["| var | default | type and range |", "|---|---|---|"]
    values = defaults()
    for name in rules():
        default = values.get(name)
        shown = "null" if default is None else str(default).replace("'", "")
        if len(shown) > 40:
            shown = shown[:37] + "…"
        lines.append(f"| `{name}` | `{shown}` | {describe(name)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    sys.stdout.write(vars_table() + "\n")
