{{ config(
    full_refresh=false,
    meta={'publish': false},
    **c360.dated_incremental_config('as_of_date'),
) }}
-- One row per customer and as-of date that was run: the tier and stage of that day. Re-running a date replaces
-- that date's rows, so replays and backfills stay idempotent. Feeds customer_tier_history and the transitions.
with

tiers as (
    select * from {{ ref('customer_value_tier') }}
),

stages as (
    select * from {{ ref('customer_lifecycle_stage') }}
),

final as (
    select
        tiers.customer_id,
        tiers.as_of_date,
        tiers.value_tier,
        stages.lifecycle_stage
    from tiers
    inner join stages on tiers.customer_id = stages.customer_id
)

select * from final
