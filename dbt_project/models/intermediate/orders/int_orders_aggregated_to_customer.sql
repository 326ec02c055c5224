-- One row per customer with at least one order on or before the as-of date: lifetime, trailing-365-day and
-- 90-day window totals, purchase rhythm, and the repeat-purchase summary used by BG/NBD.
-- Current window = (as_of - window_days, as_of]; previous window = (as_of - 2 x window_days, as_of - window_days].
with

orders as {{ c360.cte_not_materialized() }} (  -- read twice; a materialized copy of the order table costs more than two scans
    select * from {{ ref('stg_shop__orders') }}
    where order_date <= {{ as_of_date() }}
),

completed_days as (
    -- distinct days with a completed order, and the gap since the previous such day
    select
        customer_id,
        order_date,
        {{ dbt.datediff(
            "lag(order_date) over (partition by customer_id order by order_date nulls last)", "order_date", "day"
        ) }} as gap_days
    from (
        select distinct
            customer_id,
            order_date
        from orders
        where is_completed
    ) as d
),

rhythm as (
    select
        customer_id,
        count(*) as purchase_days,
        {{ c360.median('gap_days') }} as median_days_between_orders,
        max(case when order_date > {{ as_of_minus(var('window_days')) }} then gap_days end)
            as longest_gap_before_recent_order_days
    from completed_days
    group by customer_id
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
        end), 0) as revenue_previous_90d
    from orders
    group by customer_id
),

final as (
    select
        aggregated.*,
        case when aggregated.orders_365d > 0
            then {{ c360.safe_divide('aggregated.net_revenue_365d', 'aggregated.orders_365d') }} end
            as avg_order_value_365d,
        {{ days_before_as_of('aggregated.last_order_date') }} as days_since_last_order,
        {{ days_before_as_of('aggregated.first_order_date') }} as days_since_first_order,
        rhythm.median_days_between_orders,
        rhythm.longest_gap_before_recent_order_days,
        -- BG/NBD repeat-purchase summary (days): frequency = repeat purchase days, recency = first to last
        -- purchase, age = first purchase to the as-of date
        rhythm.purchase_days - 1 as bgnbd_frequency,
        {{ dbt.datediff('aggregated.first_order_date', 'aggregated.last_order_date', 'day') }} as bgnbd_recency_days,
        {{ days_before_as_of('aggregated.first_order_date') }} as bgnbd_age_days
    from aggregated
    left join rhythm
        on aggregated.customer_id = rhythm.customer_id
)

select * from final
