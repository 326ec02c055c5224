"""The tables the quality gate validates, importable without Great Expectations (importing GX takes about 3 s).

Dagster builds one asset check per table at definition time from this list; `expectations.suites` holds the
suite of each and refuses to import if the two disagree.
"""

# Only customer_360 needs Great Expectations: the other marts' rules are row-level and live in their dbt tests
# (see expectations/suites.py).
SUITE_TABLES: tuple[str, ...] = ("customer_360",)
