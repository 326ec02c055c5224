"""The tables the quality gate validates, importable without Great Expectations (importing GX takes about 3 s).

Dagster builds one asset check per table at definition time from this list; `expectations.suites` holds the
suite of each and refuses to import if the two disagree.
"""

SUITE_TABLES: tuple[str, ...] = (
    "customer_360",
    "customer_value_tier",
    "customer_lifecycle_stage",
    "customer_churn_indicators",
    "kpi_satisfaction_by_tier",
)
