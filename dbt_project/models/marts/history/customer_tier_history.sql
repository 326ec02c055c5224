{{ config(meta={'c360_history': true}) }}
-- One row per customer and period with an unchanged (tier, stage): a new row starts whenever the tier or the
-- stage changes between two published runs. valid_to is the as-of date of the next change (exclusive), null for
-- the current period. Covers every published run and this one, whatever this run's date (a backfill of an
-- older date fills its place in the history).
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

compared as (
    select
        *,
        lag(value_tier) over (partition by customer_id order by as_of_date nulls last) as previous_value_tier,
        lag(lifecycle_stage) over (partition by customer_id order by as_of_date nulls last) as previous_lifecycle_stage,
        lag(as_of_date) over (partition by customer_id order by as_of_date nulls last) as previous_as_of_date
    from states
),

changes as (
    select *
    from compared
    where previous_as_of_date is null
        or value_tier is distinct from previous_value_tier
        or lifecycle_stage is distinct from previous_lifecycle_stage
),

final as (
    select
        customer_id,
        as_of_date as valid_from,
        lead(as_of_date) over (partition by customer_id order by as_of_date nulls last) as valid_to,
        value_tier,
        lifecycle_stage,
        previous_value_tier,
        previous_lifecycle_stage,
        -- each `is distinct from` in parentheses: sqlfluff's parser misreads it inside `case when` otherwise
        case
            when previous_as_of_date is null then 'first_seen'
            when (value_tier is distinct from previous_value_tier)
                and (lifecycle_stage is distinct from previous_lifecycle_stage) then 'tier_and_stage'
            when (value_tier is distinct from previous_value_tier) then 'tier'
            else 'stage'
        end as change_type
    from changes
)

select * from final
