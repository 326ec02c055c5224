-- Churn rate over the current window: of the customers who were not churned at the start of the window
-- (a completed order within churn_after_days before it), the share who are churned at the as-of date
-- (no completed order within churn_after_days before it). Grain: one row per run.
with

-- per customer, from the order totals (no pass over the orders): the latest completed order on or before the
-- window start and the latest one up to the as-of date (both null for a customer without a completed order)
per_customer as (
    select
        last_order_date_at_window_start as last_order_at_start,
        last_order_date as last_order_now
    from {{ ref('int_orders_aggregated_to_customer') }}
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
