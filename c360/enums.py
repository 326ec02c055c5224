"""The categories the models produce (value tiers, lifecycle stages, churn risk levels, ...), read from the one place
they are declared: the var `c360_enums` in dbt_project.yml.

dbt reads the same var in its accepted_values tests and in the KPI models that list every category, so the report,
the quality gate and the SQL cannot drift apart. Each list is in display order (the order the report draws them).
"""

from __future__ import annotations

from c360.dbt_vars import project_vars

ENUMS_VAR = "c360_enums"

VALUE_TIERS = "value_tiers"
LIFECYCLE_STAGES = "lifecycle_stages"
CHURN_RISK_LEVELS = "churn_risk_levels"
RFM_SEGMENTS = "rfm_segments"
NEXT_ACTIONS = "next_actions"
SURVEY_MATCH_METHODS = "survey_match_methods"


def enum_values(name: str) -> tuple[str, ...]:
    """The values of one enumeration, in display order.

    Raises:
        KeyError: dbt_project.yml declares no enumeration `name` (the message lists the declared ones).
    """
    declared = project_vars().get(ENUMS_VAR) or {}
    try:
        return tuple(declared[name])
    except KeyError:
        raise KeyError(
            f"no enumeration {name!r} in var {ENUMS_VAR} of dbt_project.yml; declared: {', '.join(declared)}"
        ) from None
