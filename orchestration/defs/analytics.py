"""The BG/NBD fit between the two dbt steps: the purchase histories dbt grouped go in, the fitted parameters and
the scores per history come out, as the tables the rest of the dbt project reads (source `analytics`)."""

import json

import dagster as dg

from c360.dbt_vars import VarError, check_vars, defaults
from orchestration.bgnbd import run_bgnbd_fit
from orchestration.defs.dbt import DbtRunConfig
from orchestration.defs.resources import ONE_DAY_PER_RUN, BuildDatabase


def build_fit_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="bgnbd_fit",
        group_name="analytics",
        deps=["int_purchase_histories_grouped"],
        partitions_def=partitions_def,
        backfill_policy=ONE_DAY_PER_RUN,
        kinds={"python", "duckdb"},
        description=(
            "BG/NBD (Fader, Hardie & Lee 2005) fitted on every buyer's repeat-purchase history, weighted by "
            "the number of customers sharing each history: analytics.bgnbd_fit (one row: parameters, "
            "log-likelihood, customers fitted and excluded) and analytics.bgnbd_triple_scores (expected "
            "purchases over bgnbd_horizon_days per history). P(alive) is computed from them in SQL."
        ),
    )
    def bgnbd_fit(
        context: dg.AssetExecutionContext, build_db: BuildDatabase, config: DbtRunConfig
    ) -> dg.MaterializeResult:
        try:
            overrides = check_vars(json.loads(config.vars_json or "{}"))
        except (VarError, ValueError) as exc:
            raise dg.Failure(description=f"invalid dbt vars: {exc}") from None
        horizon = int({**defaults(), **overrides}["bgnbd_horizon_days"])
        with build_db.warehouse() as wh:
            row = run_bgnbd_fit(wh, as_of_date=context.partition_key, horizon_days=horizon)
        context.log.info(
            f"BG/NBD fitted on {row['n_customers']:,} customers ({row['n_triples']:,} distinct histories, "
            f"{row['n_excluded']} excluded): r={row['r']}, alpha={row['alpha']} days, a={row['a']}, b={row['b']}"
        )
        return dg.MaterializeResult(
            metadata={
                "r": dg.MetadataValue.float(float(row["r"] or 0.0)),
                "alpha_days": dg.MetadataValue.float(float(row["alpha"] or 0.0)),
                "a": dg.MetadataValue.float(float(row["a"] or 0.0)),
                "b": dg.MetadataValue.float(float(row["b"] or 0.0)),
                "log_likelihood": dg.MetadataValue.float(float(row["log_likelihood"] or 0.0)),
                "customers": dg.MetadataValue.int(row["n_customers"]),
                "distinct_histories": dg.MetadataValue.int(row["n_triples"]),
                "customers_excluded": dg.MetadataValue.int(row["n_excluded"]),
                "converged": dg.MetadataValue.bool(bool(row["is_converged"])),
                "horizon_days": dg.MetadataValue.int(horizon),
                "message": dg.MetadataValue.text(row["fit_message"] or ""),
            }
        )

    return bgnbd_fit
