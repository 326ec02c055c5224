{{ config(meta={'c360_state': true, 'c360_history': true}) }}
-- The daily backtest: how well the models predicted a period that has already happened. The fit step
-- fitted BG/NBD and Gamma-Gamma as if today were the calibration end, backtest_holdout_days before the as-of date
-- (source analytics.backtest_fit), and predicted each calibration history's purchases in the holdout period
-- (analytics.backtest_triple_scores). Here every customer who had bought by the calibration end is compared with
-- what they did in the holdout: repeat purchases (distinct purchase days) and, for those who bought, the average
-- order value. One row per calibration-frequency bucket (0..6, 7+) and one for the total, for this run's as-of date;
-- earlier runs' rows come from the state store (macros/stored_history.sql).
{%- set columns = [
    'as_of_date', 'calibration_end_date', 'holdout_days', 'frequency_bucket', 'bucket_order', 'customers',
    'predicted_purchases', 'actual_purchases', 'purchases_mae', 'purchases_relative_error', 'spend_customers',
    'predicted_avg_spend', 'actual_avg_spend', 'spend_mae', 'spend_relative_error'
] %}
with

histories as (
    select * from {{ ref('int_purchase_histories_summarized') }}
    where calibration_frequency is not null
),

triple_scores as (
    select * from {{ source('analytics', 'backtest_triple_scores') }}
),

fit as (
    select * from {{ source('analytics', 'backtest_fit') }}
),

buckets as (
    {%- for bucket in ['0', '1', '2', '3', '4', '5', '6', '7+', 'total'] %}
    select
        '{{ bucket }}' as frequency_bucket,
        {{ loop.index0 }} as bucket_order
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

compared as (
    select
        case when histories.calibration_frequency >= 7 then 7 else histories.calibration_frequency end
            as bucket_order,
        triple_scores.expected_purchases as predicted_purchases,
        histories.holdout_purchase_days as actual_purchases,
        case when histories.holdout_purchase_days > 0 then {{ c360.gamma_gamma_expected_spend(
            'fit', 'histories.calibration_frequency', 'histories.calibration_repeat_net_revenue'
        ) }} end as predicted_avg_spend,
        case when histories.holdout_purchase_days > 0
            then {{ c360.safe_divide('histories.holdout_net_revenue', 'histories.holdout_purchase_days') }}
        end as actual_avg_spend
    from histories
    left join triple_scores
        on histories.calibration_frequency = triple_scores.frequency
        and histories.calibration_recency_days = triple_scores.recency_days
        and histories.calibration_age_days = triple_scores.age_days
    cross join fit
),

{#- Sums and means of doubles are rounded: their last bits depend on the order the engine adds them up in, which
    may change from run to run (parallel scans); the same inputs must give the same published table. -#}
{%- set aggregates %}
        count(*) as customers,
        {{ c360.round_double('sum(predicted_purchases)', 6) }} as predicted_purchases,
        sum(actual_purchases) as actual_purchases,
        {{ c360.round_double(c360.mean('abs(predicted_purchases - actual_purchases)'), 6) }} as purchases_mae,
        count(actual_avg_spend) as spend_customers,
        {{ c360.round_double(c360.mean('predicted_avg_spend'), 6) }} as predicted_avg_spend,
        {{ c360.round_double(c360.mean('actual_avg_spend'), 6) }} as actual_avg_spend,
        {{ c360.round_double(c360.mean('abs(predicted_avg_spend - actual_avg_spend)'), 6) }} as spend_mae
{%- endset %}

aggregated as (
    select bucket_order, {{ aggregates }}
    from compared
    group by bucket_order
    union all
    select 8 as bucket_order, {{ aggregates }}
    from compared
),

this_run as (
    select
        {{ as_of_date() }} as as_of_date,
        fit.calibration_end_date,
        fit.holdout_days,
        buckets.frequency_bucket,
        buckets.bucket_order,
        coalesce(aggregated.customers, 0) as customers,
        cast(coalesce(aggregated.predicted_purchases, 0) as {{ c360.type_double() }}) as predicted_purchases,
        cast(coalesce(aggregated.actual_purchases, 0) as {{ dbt.type_bigint() }}) as actual_purchases,
        aggregated.purchases_mae,
        {{ c360.safe_divide('aggregated.predicted_purchases - aggregated.actual_purchases', 'aggregated.actual_purchases') }}
            as purchases_relative_error,
        coalesce(aggregated.spend_customers, 0) as spend_customers,
        aggregated.predicted_avg_spend,
        aggregated.actual_avg_spend,
        aggregated.spend_mae,
        {{ c360.safe_divide('aggregated.predicted_avg_spend - aggregated.actual_avg_spend', 'aggregated.actual_avg_spend') }}
            as spend_relative_error
    from buckets
    left join aggregated on buckets.bucket_order = aggregated.bucket_order
    cross join fit
),

final as (
    select {{ columns | join(', ') }}
    from this_run
    {{ stored_history('model_backtest', columns) }}
)

select * from final
