{{ config(meta={'publish': false, 'c360_state': true}) }}
-- This run's tier and stage of every customer: one row per customer, as_of_date = the run's as-of date. The rows
-- of earlier published runs are in the state store (macros/stored_history.sql); c360 adds these rows to it when
-- the run is published. Feeds customer_tier_history and the transitions.
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
