-- Retention by first-order cohort: for each month of first completed order, the share of the cohort with a
-- completed order in each later month. Grain: cohort_month x months_since_first_order.
with

orders as (
    select customer_id, cast({{ dbt.date_trunc('month', 'order_date') }} as date) as order_month
    from {{ ref('stg_shop__orders') }}
    where is_completed and order_date <= {{ as_of_date() }}
),

active_months as (
    select distinct
        customer_id,
        order_month
    from orders
),

cohorts as (
    select
        customer_id,
        min(order_month) as cohort_month
    from active_months
    group by 1
),

cohort_sizes as (
    select
        cohort_month,
        count(*) as cohort_customers
    from cohorts
    group by 1
),

activity as (
    select
        cohorts.cohort_month,
        {{ dbt.datediff('cohorts.cohort_month', 'active_months.order_month', 'month') }} as months_since_first_order,
        count(*) as active_customers
    from active_months
    inner join cohorts on active_months.customer_id = cohorts.customer_id
    group by 1, 2
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        activity.cohort_month,
        activity.months_since_first_order,
        cohort_sizes.cohort_customers,
        activity.active_customers,
        {{ c360.round_double(c360.safe_divide('activity.active_customers', 'cohort_sizes.cohort_customers'), 4) }}
            as retention_rate
    from activity
    inner join cohort_sizes on activity.cohort_month = cohort_sizes.cohort_month
)

select * from final
