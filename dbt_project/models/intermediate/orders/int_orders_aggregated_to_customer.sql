-- One row per customer with at least one order on or before the as-of date: lifetime, trailing-365-day and
-- 90-day window totals, purchase rhythm, and the repeat-purchase summary used by BG/NBD.
-- The totals are int_customer_order_totals (kept incrementally); what counts days up to the as-of date changes for
-- every customer every day, so it is computed here, from those totals.
with

totals as (
    select * from {{ ref('int_customer_order_totals') }}
    where all_orders > 0  -- a customer recomputed without any order left keeps a row with all_orders null
),

final as (
    select
        customer_id,
        all_orders,
        first_order_date,
        last_order_date,
        last_order_date_at_window_start,
        lifetime_orders,
        lifetime_net_revenue,
        lifetime_profit,
        lifetime_orders_unknown_cost,
        distinct_categories,
        lifetime_refunds,
        orders_365d,
        net_revenue_365d,
        profit_365d,
        refunds_365d,
        orders_current_90d,
        orders_previous_90d,
        revenue_current_90d,
        revenue_previous_90d,
        case when orders_365d > 0
            then {{ c360.safe_divide('net_revenue_365d', 'orders_365d') }} end
            as avg_order_value_365d,
        {{ days_before_as_of('last_order_date') }} as days_since_last_order,
        {{ days_before_as_of('first_order_date') }} as days_since_first_order,
        median_days_between_orders,
        longest_gap_before_recent_order_days,
        -- BG/NBD repeat-purchase summary (days): frequency = repeat purchase days, recency = first to last
        -- purchase, age = first purchase to the as-of date (null without a completed order)
        case when purchase_days > 0 then purchase_days - 1 end as bgnbd_frequency,
        {{ dbt.datediff('first_order_date', 'last_order_date', 'day') }} as bgnbd_recency_days,
        {{ days_before_as_of('first_order_date') }} as bgnbd_age_days
    from totals
)

select * from final
