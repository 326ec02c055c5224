-- Net revenue per calendar month over the last 24 months, split by the customer's tier at this run's as-of date
-- (the current tier, applied to past months: "how much did today's vips spend over time").
-- Grain: month x value_tier.
with

orders as (
    select customer_id, cast({{ dbt.date_trunc('month', 'order_date') }} as date) as order_month, net_revenue
    from {{ ref('stg_shop__orders') }}
    where is_completed
        and order_date <= {{ as_of_date() }}
        and order_date > {{ as_of_minus(730) }}
),

tiers as (
    select
        customer_id,
        value_tier
    from {{ ref('customer_value_tier') }}
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        orders.order_month as month,
        coalesce(tiers.value_tier, 'not_in_crm') as value_tier,
        count(*) as orders,
        sum(orders.net_revenue) as net_revenue
    from orders
    left join tiers on orders.customer_id = tiers.customer_id
    group by 1, 2, 3
)

select * from final
