-- Churn rate over the current window: of the customers who were not churned at the start of the window
-- (a completed order within churn_after_days before it), the share who are churned at the as-of date
-- (no completed order within churn_after_days before it). Grain: one row per run.
with

orders as (
    select
        customer_id,
        order_date
    from {{ ref('stg_shop__orders') }}
    where is_completed and order_date <= {{ as_of_date() }}
),

per_customer as (
    select
        customer_id,
        max(case when order_date <= {{ as_of_minus(var('window_days')) }} then order_date end) as last_order_at_start,
        max(order_date) as last_order_now
    from orders
    group by customer_id
),

flagged as (
    select
        {{ dbt.datediff('last_order_at_start', as_of_minus(var('window_days')), 'day') }}
            <= {{ var('churn_after_days') }} as was_active_at_start,
        {{ days_before_as_of('last_order_now') }} > {{ var('churn_after_days') }} as is_churned_now
    from per_customer
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        {{ as_of_minus(var('window_days')) }} as window_start_date,
        count(case when was_active_at_start then 1 end) as active_customers_at_start,
        count(case when was_active_at_start and is_churned_now then 1 end) as churned_customers,
        {{ c360.safe_divide(
            'count(case when was_active_at_start and is_churned_now then 1 end)',
            'count(case when was_active_at_start then 1 end)'
        ) }} as churn_rate
    from flagged
)

select * from final
