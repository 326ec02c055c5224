{{ config(meta={'c360_history': true}) }}
-- Tier and stage transition matrix per month: for each customer, the state at its last run of the month versus
-- its state at the last run of the previous month with a run. Grain: month x dimension x from x to. Covers every
-- published run and this one.
with

states as (
    select
        customer_id,
        as_of_date,
        value_tier,
        lifecycle_stage
    from {{ ref('customer_states_daily') }}
    {{ stored_history('customer_states_daily', ['customer_id', 'as_of_date', 'value_tier', 'lifecycle_stage']) }}
),

month_end_states as (
    select
        customer_id,
        month,
        value_tier,
        lifecycle_stage
    from (
        select
            customer_id,
            cast({{ dbt.date_trunc('month', 'as_of_date') }} as date) as month,
            value_tier,
            lifecycle_stage,
            row_number() over (
                partition by customer_id, {{ dbt.date_trunc('month', 'as_of_date') }}
                order by as_of_date desc nulls last
            ) as run_rank
        from states
    ) as ranked
    where run_rank = 1
),

paired as (
    select
        *,
        lag(value_tier) over (partition by customer_id order by month nulls last) as from_value_tier,
        lag(lifecycle_stage) over (partition by customer_id order by month nulls last) as from_lifecycle_stage
    from month_end_states
),

final as (
    select
        month,
        'tier' as dimension,
        from_value_tier as from_value,
        value_tier as to_value,
        count(*) as customers
    from paired
    where from_value_tier is not null
    group by 1, 2, 3, 4
    union all
    select
        month,
        'stage' as dimension,
        from_lifecycle_stage,
        lifecycle_stage,
        count(*) as customers
    from paired
    where from_lifecycle_stage is not null
    group by 1, 2, 3, 4
)

select * from final
