-- One row per customer with a completed order on or before the as-of date: what the spend model (Gamma-Gamma),
-- CLV and the daily backtest need next to the BG/NBD summary of int_orders_aggregated_to_customer.
-- Purchases are counted as BG/NBD counts them: distinct days with a completed order; a day's spend is the net
-- revenue of its completed orders (refunded and cancelled orders count zero).
-- - repeat spend: net revenue of the purchase days after the first one (the spend model describes repeat
--   purchases; its mean spend per repeat purchase is repeat_net_revenue / frequency);
-- - known cost: net revenue and profit of the completed orders whose cost is known (the customer's own margin);
-- - calibration: the same summary as it was at the calibration end, backtest_holdout_days before the as-of date
--   (null for customers whose first purchase came later), and what they bought in the holdout period after it.
-- One pass over the completed orders: a day's spend summed per order gives the same totals, and a purchase day
-- is counted at its first order (no earlier order of the customer on that day).
with

orders as (
    select
        customer_id,
        order_date,
        net_revenue,
        profit,
        coalesce(
            lag(order_date) over (partition by customer_id order by order_date nulls last) < order_date, true
        ) as starts_purchase_day,
        first_value(order_date) over (partition by customer_id order by order_date nulls last) as first_order_date
    from {{ ref('stg_shop__orders') }}
    where is_completed and order_date <= {{ as_of_date() }}
),

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

{%- set calibration_end = as_of_minus(var('backtest_holdout_days')) %}

per_customer as (
    select
        customer_id,
        coalesce(sum(case when order_date > first_order_date then net_revenue end), 0) as repeat_net_revenue,
        count(case when starts_purchase_day and order_date <= {{ calibration_end }} then 1 end)
            as calibration_purchase_days,
        max(case when order_date <= {{ calibration_end }} then order_date end) as calibration_last_order_date,
        coalesce(sum(case
            when order_date <= {{ calibration_end }} and order_date > first_order_date then net_revenue
        end), 0) as calibration_repeat_net_revenue,
        count(case when starts_purchase_day and order_date > {{ calibration_end }} then 1 end)
            as holdout_purchase_days,
        coalesce(sum(case when order_date > {{ calibration_end }} then net_revenue end), 0) as holdout_net_revenue,
        sum(case when profit is not null then net_revenue end) as known_cost_net_revenue,
        sum(profit) as known_cost_profit
    from orders
    group by customer_id
),

final as (
    select
        histories.customer_id,
        histories.bgnbd_frequency as frequency,
        histories.bgnbd_recency_days as recency_days,
        histories.bgnbd_age_days as age_days,
        per_customer.repeat_net_revenue,
        per_customer.known_cost_net_revenue,
        per_customer.known_cost_profit,
        {{ calibration_end }} as calibration_end_date,
        case when per_customer.calibration_purchase_days > 0
            then per_customer.calibration_purchase_days - 1 end as calibration_frequency,
        case when per_customer.calibration_purchase_days > 0
            then {{ dbt.datediff('histories.first_order_date', 'per_customer.calibration_last_order_date', 'day') }}
        end as calibration_recency_days,
        case when per_customer.calibration_purchase_days > 0
            then {{ dbt.datediff('histories.first_order_date', calibration_end, 'day') }}
        end as calibration_age_days,
        case when per_customer.calibration_purchase_days > 0
            then per_customer.calibration_repeat_net_revenue end as calibration_repeat_net_revenue,
        case when per_customer.calibration_purchase_days > 0
            then per_customer.holdout_purchase_days end as holdout_purchase_days,
        case when per_customer.calibration_purchase_days > 0
            then per_customer.holdout_net_revenue end as holdout_net_revenue
    from histories
    inner join per_customer on histories.customer_id = per_customer.customer_id
)

select * from final
