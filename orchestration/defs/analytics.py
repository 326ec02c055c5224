"""The fit step between the two dbt steps: the histories dbt grouped go in, the fitted models and their scores per
history come out, as the tables the rest of the dbt project reads (source `analytics`). One step (`model_fits`)
materializes three assets, one per fitted model: BG/NBD, Gamma-Gamma and the backtest."""

import json

import dagster as dg

from c360.dbt_vars import VarError, check_vars
from orchestration.defs.dbt import DbtRunConfig
from orchestration.defs.resources import ONE_DAY_PER_RUN, BuildDatabase
from orchestration.fits import FitSettings, run_fit_steps

#: The Dagster step (op) of the fits: it takes the run's var overrides like the dbt steps (automation.py).
FIT_STEP = "model_fits"

_SPECS = {
    "bgnbd_fit": dg.AssetSpec(
        "bgnbd_fit",
        group_name="analytics",
        deps=["int_purchase_histories_grouped"],
        kinds={"python"},
        description=(
            "BG/NBD (Fader, Hardie & Lee 2005) fitted on every buyer's repeat-purchase history, weighted by the "
            "number of customers sharing each history: analytics.bgnbd_fit (one row: parameters, log-likelihood "
            "over the fitted customers, customers fitted and excluded with the reasons) and "
            "analytics.bgnbd_triple_scores (expected purchases over bgnbd_horizon_days and the discounted purchases "
            "of CLV over clv_horizon_months, per history). P(alive) is computed from them in SQL."
        ),
    ),
    "gamma_gamma_fit": dg.AssetSpec(
        "gamma_gamma_fit",
        group_name="analytics",
        deps=["int_spend_histories_grouped"],
        kinds={"python"},
        description=(
            "Gamma-Gamma spend model (Fader, Hardie & Lee 2005) fitted on the repeat buyers' mean spend, weighted "
            "by the customers sharing each (frequency, repeat revenue): analytics.gamma_gamma_fit (one row: "
            "parameters, expected order value of a customer without repeat purchases, customers fitted and "
            "excluded, and the correlation of frequency and spend the model assumes to be ~0)."
        ),
    ),
    "backtest_fit": dg.AssetSpec(
        "backtest_fit",
        group_name="analytics",
        deps=["int_calibration_histories_grouped", "int_calibration_spend_grouped"],
        kinds={"python"},
        description=(
            "Both models fitted as of the calibration end (backtest_holdout_days before the as-of date): "
            "analytics.backtest_fit (one row) and analytics.backtest_triple_scores (purchases expected in the "
            "holdout per calibration history); model_backtest compares them with what customers did."
        ),
    ),
}


def build_fit_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    # can_subset: the fits always run together (one step writes every analytics table), but Dagster may select
    # only some of the keys; a backfill of every asset over several days fails to launch on a non-subsettable
    # multi-asset ("Targeted subset must match between every key"), as the three keys are reached from different
    # dbt models. The step yields the results of the selected keys only.
    @dg.multi_asset(
        name=FIT_STEP,
        specs=list(_SPECS.values()),
        partitions_def=partitions_def,
        backfill_policy=ONE_DAY_PER_RUN,
        can_subset=True,
    )
    def model_fits(context: dg.AssetExecutionContext, build_db: BuildDatabase, config: DbtRunConfig):
        try:
            overrides = check_vars(json.loads(config.vars_json or "{}"))
        except (VarError, ValueError) as exc:
            raise dg.Failure(description=f"invalid dbt vars: {exc}") from None
        settings = FitSettings.from_vars(overrides)
        with build_db.warehouse() as wh:
            rows = run_fit_steps(wh, as_of_date=context.partition_key, settings=settings)
        bgnbd, spend, backtest = rows["bgnbd_fit"], rows["gamma_gamma_fit"], rows["backtest_fit"]
        context.log.info(
            f"BG/NBD fitted on {bgnbd['n_fitted']:,} of {bgnbd['n_customers']:,} customers "
            f"({bgnbd['n_triples']:,} distinct histories): r={bgnbd['r']}, alpha={bgnbd['alpha']} days, "
            f"a={bgnbd['a']}, b={bgnbd['b']}"
        )
        context.log.info(
            f"Gamma-Gamma fitted on {spend['n_fitted']:,} of {spend['n_customers']:,} repeat buyers: "
            f"p={spend['p']}, q={spend['q']}, gamma={spend['gamma']}, "
            f"spend-frequency correlation {spend['spend_frequency_correlation']}"
        )
        metadata = {
            "bgnbd_fit": _metadata(bgnbd, ("r", "alpha", "a", "b")),
            "gamma_gamma_fit": _metadata(spend, ("p", "q", "gamma", "population_mean_order_value")),
            "backtest_fit": {
                **_metadata(backtest, ("r", "alpha", "a", "b", "p", "q", "gamma")),
                "calibration_end_date": dg.MetadataValue.text(backtest["calibration_end_date"].isoformat()),
            },
        }
        for key in context.selected_asset_keys:
            yield dg.MaterializeResult(asset_key=key, metadata=metadata[key.to_user_string()])

    return model_fits


def _metadata(row: dict, numbers: tuple[str, ...]) -> dict[str, dg.MetadataValue]:
    """The fitted values (0.0 where not estimated), the counts and the message of a fit row."""
    metadata: dict[str, dg.MetadataValue] = {
        name: dg.MetadataValue.float(float(row[name] or 0.0)) for name in numbers
    }
    for name in ("n_customers", "n_fitted", "n_excluded", "bgnbd_n_customers", "spend_n_fitted"):
        if name in row:
            metadata[name] = dg.MetadataValue.int(int(row[name]))
    message = row.get("fit_message") or ""
    metadata["message"] = dg.MetadataValue.text(message)
    return metadata
