"""The enumerations are declared once (var c360_enums): no dbt test spells one of them out again.

The models that list every value of one (the KPI rows per tier, per stage, per match method) start from
`enum_rows()`; the report and the quality gate read the var through `c360.enums`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from c360.dbt_vars import project_vars
from c360.enums import ENUMS_VAR
from orchestration.dbt_runner import prepare_manifest


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads(prepare_manifest().read_text())


def _accepted_values(manifest: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        (f"{node['attached_node']}.{node['column_name']}", node["test_metadata"]["kwargs"]["values"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and (node.get("test_metadata") or {}).get("name") == "accepted_values"
    ]


def test_accepted_values_of_an_enumeration_read_the_var(manifest: dict[str, Any]):
    enums = project_vars()[ENUMS_VAR]
    reading = [where for where, values in _accepted_values(manifest) if isinstance(values, str)]
    assert len(reading) >= len(enums)  # every enumeration is tested somewhere
    spelled_out = [
        f"{where} lists the values of {name}: use \"{{{{ var('{ENUMS_VAR}')['{name}'] }}}}\""
        for where, values in _accepted_values(manifest)
        if isinstance(values, list)
        for name, declared in enums.items()
        if set(values) == set(declared)
    ]
    assert not spelled_out, "\n".join(spelled_out)
