"""The enumerations var (`c360_enums`): its rule, its refusal of overrides, and the Python reader."""

from __future__ import annotations

from typing import Any

import pytest

from c360 import dbt_vars
from c360.dbt_vars import VarError, check_vars, describe
from c360.enums import ENUMS_VAR, VALUE_TIERS, enum_values


def test_the_declared_enums_pass_their_rule():
    assert describe(ENUMS_VAR) == "a map of names to lists of distinct lower-case names"
    assert check_vars({}) == {}
    assert enum_values(VALUE_TIERS) == ("vip", "high", "medium", "low", "none")


def test_an_override_is_refused_naming_the_var():
    with pytest.raises(VarError, match="var c360_enums cannot be overridden.*dbt_project.yml"):
        check_vars({ENUMS_VAR: {"value_tiers": ["gold", "silver"]}})


def test_an_unknown_enumeration_names_the_declared_ones():
    with pytest.raises(KeyError, match="no enumeration 'tiers'.*value_tiers, lifecycle_stages"):
        enum_values("tiers")


@pytest.mark.parametrize(
    ("declared", "entry"),
    [
        ({"value_tiers": ["vip", "vip"]}, "value_tiers"),  # a value twice
        ({"value_tiers": []}, "value_tiers"),  # no value
        ({"value_tiers": ["VIP"]}, "value_tiers"),  # not lower case
        ({"value_tiers": "vip, high"}, "value_tiers"),  # not a list
        ({"value_tiers": ["vip", None]}, "value_tiers"),  # `null` or an empty YAML item
    ],
)
def test_a_broken_declaration_is_refused_naming_the_entry(
    monkeypatch: pytest.MonkeyPatch, declared: dict[str, Any], entry: str
):
    project = {**dbt_vars.project_vars(), ENUMS_VAR: declared}
    monkeypatch.setattr(dbt_vars, "project_vars", lambda: project)
    with pytest.raises(VarError, match=f"var c360_enums: expected .* \\(entry '{entry}' is not\\)"):
        check_vars({})


def test_an_empty_declaration_is_refused(monkeypatch: pytest.MonkeyPatch):
    project = {**dbt_vars.project_vars(), ENUMS_VAR: {}}
    monkeypatch.setattr(dbt_vars, "project_vars", lambda: project)
    with pytest.raises(VarError, match="var c360_enums: expected a map of names to lists"):
        check_vars({})
