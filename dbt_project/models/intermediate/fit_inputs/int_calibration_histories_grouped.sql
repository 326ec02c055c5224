-- The BG/NBD input of the daily backtest: one row per distinct (frequency, recency, age) as it was at the
-- calibration end (backtest_holdout_days before the as-of date) of the customers who had bought by then, with the
-- number of customers sharing it. The fit step fits the models on it and predicts the holdout per triple.
with

histories as (
    select * from {{ ref('int_purchase_histories_summarized') }}
    where calibration_frequency is not null
),

final as (
    select
        calibration_frequency,
        calibration_recency_days,
        calibration_age_days,
        count(*) as customers
    from histories
    group by calibration_frequency, calibration_recency_days, calibration_age_days
)

select * from final
