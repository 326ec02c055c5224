-- Customers and trailing-365-day revenue per value tier. Grain: one row per tier (every tier, even when empty).
with

tiers as (
    select * from {{ ref('customer_value_tier') }}
),

all_tiers as (
    {{ enum_rows('value_tiers', 'value_tier', 'tier_order') }}
),

aggregated as (
    select
        value_tier,
        count(*) as customers,
        sum(monetary_365d) as net_revenue_365d,
        {{ c360.round_double(c360.mean('value_score'), 4) }} as avg_value_score
    from tiers
    group by value_tier
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        all_tiers.value_tier,
        all_tiers.tier_order,
        coalesce(aggregated.customers, 0) as customers,
        {{ c360.safe_divide('coalesce(aggregated.customers, 0)', 'sum(coalesce(aggregated.customers, 0)) over ()') }}
            as customer_share,
        coalesce(aggregated.net_revenue_365d, 0) as net_revenue_365d,
        {{ c360.safe_divide(
            'coalesce(aggregated.net_revenue_365d, 0)', 'sum(coalesce(aggregated.net_revenue_365d, 0)) over ()'
        ) }} as revenue_share,
        aggregated.avg_value_score
    from all_tiers
    left join aggregated on all_tiers.value_tier = aggregated.value_tier
)

select * from final
