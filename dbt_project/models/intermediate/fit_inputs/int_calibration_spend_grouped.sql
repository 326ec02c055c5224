-- The Gamma-Gamma input of the daily backtest: one row per distinct (frequency, repeat_net_revenue) at the
-- calibration end of the customers who were repeat buyers by then, with the number of customers sharing it.
with

histories as (
    select * from {{ ref('int_purchase_histories_summarized') }}
    where calibration_frequency > 0
),

final as (
    select
        calibration_frequency,
        calibration_repeat_net_revenue,
        count(*) as customers
    from histories
    group by calibration_frequency, calibration_repeat_net_revenue
)

select * from final
