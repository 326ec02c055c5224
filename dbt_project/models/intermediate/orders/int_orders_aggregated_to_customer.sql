-- One row per customer with at least one order on or before the as-of date: lifetime, trailing-365-day and
-- 90-day window totals, purchase rhythm, and the repeat-purchase summary used by BG/NBD.
-- Current window = (as_of - window_days, as_of]; previous window = (as_of - 2 x window_days, as_of - window_days].
with

orders as (
    select
        *,
        -- days since the customer's previous completed order, on completed orders (0 for a second order on the
        -- same day): the gaps between distinct purchase days are the gaps above 0, and a purchase day is a
        -- completed order with no gap (the first) or a gap above 0. One window, no separate pass over distinct days.
        case when is_completed then {{ dbt.datediff(
            "lag(order_date) over (partition by customer_id, is_completed order by order_date nulls last)",
            "order_date",
            "day"
        ) }} end as gap_days
    from {{ ref('stg_shop__orders') }}
    where order_date <= {{ as_of_date() }}
),

aggregated as (
    select
        customer_id,
        count(*) as all_orders,
        min(case when is_completed then order_date end) as first_order_date,
        max(case when is_completed then order_date end) as last_order_date,
        count(case when is_completed then 1 end) as lifetime_orders,
        coalesce(sum(net_revenue), 0) as lifetime_net_revenue,
        sum(profit) as lifetime_profit,
        count(case when is_completed and cost_amount is null then 1 end) as lifetime_orders_unknown_cost,
        count(distinct case when is_completed then product_category end) as distinct_categories,
        count(case when is_refunded then 1 end) as lifetime_refunds,
        count(case when is_completed and order_date > {{ as_of_minus(var('trailing_days')) }} then 1 end)
            as orders_365d,
        coalesce(sum(case when order_date > {{ as_of_minus(var('trailing_days')) }} then net_revenue end), 0)
            as net_revenue_365d,
        sum(case when order_date > {{ as_of_minus(var('trailing_days')) }} then profit end) as profit_365d,
        count(case when is_refunded and order_date > {{ as_of_minus(var('trailing_days')) }} then 1 end)
            as refunds_365d,
        count(case when is_completed and order_date > {{ as_of_minus(var('window_days')) }} then 1 end)
            as orders_current_90d,
        count(case
            when is_completed
                and order_date > {{ as_of_minus(2 * var('window_days')) }}
                and order_date <= {{ as_of_minus(var('window_days')) }}
                then 1
        end) as orders_previous_90d,
        coalesce(sum(case when order_date > {{ as_of_minus(var('window_days')) }} then net_revenue end), 0)
            as revenue_current_90d,
        coalesce(sum(case
            when order_date > {{ as_of_minus(2 * var('window_days')) }}
                and order_date <= {{ as_of_minus(var('window_days')) }}
                then net_revenue
        end), 0) as revenue_previous_90d,
        count(case when is_completed and (gap_days is null or gap_days > 0) then 1 end) as purchase_days,
        {{ c360.median('case when gap_days > 0 then gap_days end') }} as median_days_between_orders,
        max(case when order_date > {{ as_of_minus(var('window_days')) }} and gap_days > 0 then gap_days end)
            as longest_gap_before_recent_order_days
    from orders
    group by customer_id
),

final as (
    select
        customer_id,
        all_orders,
        first_order_date,
        last_order_date,
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
    from aggregated
)

select * from final
