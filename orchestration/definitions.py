"""The Dagster code location: merges the definitions of each concern under orchestration/defs/."""

import dagster as dg

from orchestration.defs import automation, dbt, ingestion, publication, quality
from orchestration.defs.resources import C360Settings

defs = dg.Definitions.merge(
    ingestion.defs,
    dbt.defs,
    quality.defs,
    publication.defs,
    automation.defs,
    dg.Definitions(resources={"c360": C360Settings()}),
)
