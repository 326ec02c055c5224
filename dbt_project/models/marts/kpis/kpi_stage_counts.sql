-- Customers per lifecycle stage, in funnel order. Grain: one row per stage (every stage, even when empty).
with

stages as (
    select * from {{ ref('customer_lifecycle_stage') }}
),

all_stages as (
    {{ enum_rows('lifecycle_stages', 'lifecycle_stage', 'stage_order') }}
),

aggregated as (
    select
        lifecycle_stage,
        count(*) as customers
    from stages
    group by lifecycle_stage
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        all_stages.lifecycle_stage,
        all_stages.stage_order,
        coalesce(aggregated.customers, 0) as customers,
        {{ c360.safe_divide('coalesce(aggregated.customers, 0)', 'sum(coalesce(aggregated.customers, 0)) over ()') }}
            as customer_share
    from all_stages
    left join aggregated on all_stages.lifecycle_stage = aggregated.lifecycle_stage
)

select * from final
