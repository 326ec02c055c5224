-- Did the actions work? For each calendar month and action: the customers who got the action (treatment) against
-- the customers of the month's control group who would have got it (control, held out), and what each group did in
-- the uplift_window_days after the customer's first assignment of the month (completed orders, net revenue).
-- Groups are drawn at random (macros/control_group.sql), so the difference between them is the effect of the
-- action, up to chance: the margins give the 95% range of that chance (normal approximation), and the counts say
-- how many customers each side rests on. A month appears once every window of it has closed
-- (uplift_window_days after its last day). Grain: month x action. Rebuilt by every run from the assignments of
-- every published run and this one (customer_actions_daily and the state store).
with

assignments as (
    select
        customer_id,
        as_of_date,
        control_period_start,
        action,
        is_control_group
    from {{ ref('customer_actions_daily') }}
    {{ stored_history(
        'customer_actions_daily', ['customer_id', 'as_of_date', 'control_period_start', 'action', 'is_control_group']
    ) }}
),

first_assignments as (
    select
        customer_id,
        as_of_date as assigned_date,
        control_period_start,
        action,
        is_control_group
    from (
        select
            *,
            row_number() over (
                partition by customer_id, control_period_start order by as_of_date asc nulls last
            ) as run_rank
        from assignments
    ) as ranked
    where run_rank = 1
),

measurable as (
    select *
    from first_assignments
    where {{ dbt.dateadd(
        'day', var('uplift_window_days') - 1, dbt.dateadd('month', 1, 'control_period_start')
    ) }} <= {{ as_of_date() }}
),

orders as (
    select
        customer_id,
        order_date,
        net_revenue
    from {{ ref('stg_shop__orders') }}
    where is_completed and order_date <= {{ as_of_date() }}
),

outcomes as (
    select
        measurable.customer_id,
        measurable.control_period_start,
        measurable.action,
        measurable.is_control_group,
        count(orders.order_date) as orders,
        coalesce(sum(orders.net_revenue), 0) as revenue
    from measurable
    left join orders
        on measurable.customer_id = orders.customer_id
        and measurable.assigned_date < orders.order_date
        and {{ dbt.dateadd('day', var('uplift_window_days'), 'measurable.assigned_date') }} >= orders.order_date
    group by measurable.customer_id, measurable.control_period_start, measurable.action, measurable.is_control_group
),

{%- set groups = {'treatment': 'not is_control_group', 'control': 'is_control_group'} %}

aggregated as (
    -- revenue is exact (decimal); the variance, a double, is rounded: its last bits would depend on the order the
    -- engine adds up the rows in, and the same inputs must give the same table
    select
        control_period_start as period_start,
        action,
        {%- for group, condition in groups.items() %}
        count(case when {{ condition }} then 1 end) as {{ group }}_customers,
        cast(coalesce(sum(case when {{ condition }} then orders end), 0) as {{ dbt.type_bigint() }}) as {{ group }}_orders,
        coalesce(sum(case when {{ condition }} then revenue end), 0) as {{ group }}_revenue,
        count(case when {{ condition }} and orders > 0 then 1 end) as {{ group }}_buyers,
        {{ c360.round_double(
            'var_samp(case when ' ~ condition ~ ' then cast(revenue as ' ~ c360.type_double() ~ ') end)', 6
        ) }} as {{ group }}_revenue_variance
        {{- ',' if not loop.last }}
        {%- endfor %}
    from outcomes
    group by control_period_start, action
),

shares as (
    select
        *,
        {%- for group in groups %}
        {{ c360.safe_divide(group ~ '_buyers', group ~ '_customers') }} as {{ group }}_buyer_share,
        {{ c360.safe_divide(group ~ '_revenue', group ~ '_customers') }} as {{ group }}_revenue_per_customer
        {{- ',' if not loop.last }}
        {%- endfor %}
    from aggregated
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        period_start,
        action,
        {{ var('uplift_window_days') }} as outcome_window_days,
        treatment_customers,
        control_customers,
        treatment_orders,
        control_orders,
        treatment_revenue,
        control_revenue,
        treatment_buyer_share,
        control_buyer_share,
        treatment_buyer_share - control_buyer_share as buyer_share_uplift,
        {{ c360.uplift_margin_95(
            'treatment_buyer_share * (1 - treatment_buyer_share)', 'control_buyer_share * (1 - control_buyer_share)'
        ) }} as buyer_share_uplift_margin_95,
        treatment_revenue_per_customer,
        control_revenue_per_customer,
        treatment_revenue_per_customer - control_revenue_per_customer as revenue_uplift_per_customer,
        {{ c360.uplift_margin_95('treatment_revenue_variance', 'control_revenue_variance') }}
            as revenue_uplift_margin_95
    from shares
)

select * from final
