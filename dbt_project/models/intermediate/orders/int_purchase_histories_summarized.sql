-- One row per customer with a completed order on or before the as-of date: what the spend model (Gamma-Gamma),
-- CLV and the daily backtest need next to the BG/NBD summary of int_orders_aggregated_to_customer.
-- Purchases are counted as BG/NBD counts them: distinct days with a completed order; a day's spend is the net
-- revenue of its completed orders (refunded and cancelled orders count zero).
-- - repeat spend: net revenue of the purchase days after the first one (the spend model describes repeat
--   purchases; its mean spend per repeat purchase is repeat_net_revenue / frequency);
-- - known cost: net revenue and profit of the completed orders whose cost is known (the customer's own margin);
-- - calibration: the same summary as it was at the calibration end, backtest_holdout_days before the as-of date
--   (null for customers whose first purchase came later), and what they bought in the holdout period after it.
-- The sums come from int_customer_order_totals (one pass over the orders, kept incrementally).
{%- set calibration_end = as_of_minus(var('backtest_holdout_days')) %}
with

histories as (
    select
        customer_id,
        bgnbd_frequency,
        bgnbd_recency_days,
        bgnbd_age_days,
        first_order_date
    from {{ ref('int_orders_aggregated_to_customer') }}
    where lifetime_orders > 0
),

totals as (
    select
        customer_id,
        repeat_net_revenue,
        known_cost_net_revenue,
        lifetime_profit as known_cost_profit,  -- profit is only known on completed orders with a cost
        calibration_purchase_days,
        calibration_last_order_date,
        calibration_repeat_net_revenue,
        holdout_purchase_days,
        holdout_net_revenue
    from {{ ref('int_customer_order_totals') }}
    where lifetime_orders > 0
),

final as (
    select
        histories.customer_id,
        histories.bgnbd_frequency as frequency,
        histories.bgnbd_recency_days as recency_days,
        histories.bgnbd_age_days as age_days,
        totals.repeat_net_revenue,
        totals.known_cost_net_revenue,
        totals.known_cost_profit,
        {{ calibration_end }} as calibration_end_date,
        case when totals.calibration_purchase_days > 0
            then totals.calibration_purchase_days - 1 end as calibration_frequency,
        case when totals.calibration_purchase_days > 0
            then {{ dbt.datediff('histories.first_order_date', 'totals.calibration_last_order_date', 'day') }}
        end as calibration_recency_days,
        case when totals.calibration_purchase_days > 0
            then {{ dbt.datediff('histories.first_order_date', calibration_end, 'day') }}
        end as calibration_age_days,
        case when totals.calibration_purchase_days > 0
            then totals.calibration_repeat_net_revenue end as calibration_repeat_net_revenue,
        case when totals.calibration_purchase_days > 0
            then totals.holdout_purchase_days end as holdout_purchase_days,
        case when totals.calibration_purchase_days > 0
            then totals.holdout_net_revenue end as holdout_net_revenue
    from histories
    inner join totals on histories.customer_id = totals.customer_id
)

select * from final
