-- One row per customer: RFM scores, value score and value tier.
-- Scores are percentile ranks (cume_dist) over customers with a completed order in the trailing 365 days, so equal
-- values always share a score: a bucket boundary never splits a tie.
with

facts as (
    select * from {{ ref('int_customer_facts_joined') }}
),

active_ranked as (
    select
        customer_id,
        cume_dist() over (order by days_since_last_order desc nulls last) as recency_rank,
        cume_dist() over (order by orders_365d nulls last) as frequency_rank,
        cume_dist() over (order by net_revenue_365d nulls last) as monetary_rank,
        case when profit_365d is not null then
            cume_dist() over (partition by profit_365d is null order by profit_365d nulls last)
        end as profit_rank
    from facts
    where orders_365d > 0
),

value_scored as (
    select
        *,
        {%- set weighted_ranks -%}
            100 * (
                {{ var('value_weight_monetary') }} * monetary_rank
                + {{ var('value_weight_frequency') }} * frequency_rank
                + {{ var('value_weight_profit') }} * coalesce(profit_rank, 0)
            )
        {%- endset %}
        {%- set weight_total -%}
            {{ var('value_weight_monetary') }} + {{ var('value_weight_frequency') }}
            + case when profit_rank is null then 0 else {{ var('value_weight_profit') }} end
        {%- endset %}
        {{ c360.round_double(c360.safe_divide(weighted_ranks, weight_total), 4) }} as value_score
    from active_ranked
),

value_ranked as (
    select
        *,
        -- share of active customers whose value score is at least this one's (ties share the same share)
        cume_dist() over (order by value_score desc nulls last) as value_top_share
    from value_scored
),

scored as (
    select
        facts.customer_id,
        facts.as_of_date,
        facts.days_since_last_order as recency_days,
        facts.orders_365d as frequency_365d,
        facts.net_revenue_365d as monetary_365d,
        facts.profit_365d,
        cast(ceil({{ c360.round_double('5 * value_ranked.recency_rank', 9) }}) as integer) as r_score,
        cast(ceil({{ c360.round_double('5 * value_ranked.frequency_rank', 9) }}) as integer) as f_score,
        cast(ceil({{ c360.round_double('5 * value_ranked.monetary_rank', 9) }}) as integer) as m_score,
        value_ranked.value_score,
        {{ c360.round_double('value_ranked.value_top_share', 6) }} as value_top_share,
        facts.lifetime_orders
    from facts
    left join value_ranked
        on facts.customer_id = value_ranked.customer_id
),

tiered as (
    select
        *,
        case
            when frequency_365d = 0 then 'none'
            {%- if var('tier_vip_revenue_threshold') is not none %}
            when monetary_365d >= {{ var('tier_vip_revenue_threshold') }} then 'vip'
            {%- endif %}
            when value_top_share <= {{ var('tier_vip_top_share') }}
                and frequency_365d >= {{ var('tier_vip_min_orders') }} then 'vip'
            when value_top_share <= {{ var('tier_high_top_share') }} then 'high'
            when value_top_share <= {{ var('tier_medium_top_share') }} then 'medium'
            else 'low'
        end as value_tier,
        cast({{ c360.round_double(c360.safe_divide('f_score + m_score', 2) ~ ' + 0.0001') }} as integer) as fm_score
    from scored
),

final as (
    select
        customer_id,
        as_of_date,
        recency_days,
        frequency_365d,
        monetary_365d,
        profit_365d,
        r_score,
        f_score,
        m_score,
        fm_score,
        value_score,
        value_top_share,
        value_tier,
        case
            when frequency_365d = 0 and lifetime_orders > 0 then 'lost'
            when frequency_365d = 0 then null
            when r_score >= 4 and fm_score >= 4 then 'champions'
            when r_score >= 4 and fm_score >= 2 then 'potential_loyalist'
            when r_score >= 4 then 'new'
            when r_score = 3 and fm_score >= 4 then 'loyal'
            when r_score = 3 then 'need_attention'
            when fm_score >= 3 then 'at_risk'
            when r_score = 2 then 'hibernating'
            else 'lost'
        end as rfm_segment,
        case
            when frequency_365d = 0 and lifetime_orders > 0 then 'no completed order in the last 365 days'
            when frequency_365d = 0 then 'never bought'
            else 'value score ' || {{ c360.format_double('value_score') }} || ' puts the customer in the top '
                || {{ c360.format_double(c360.round_double('100 * value_top_share', 2)) }} || '% of active customers, with '
                || frequency_365d || ' orders in 365 days'
        end as tier_reason
    from tiered
)

select * from final
