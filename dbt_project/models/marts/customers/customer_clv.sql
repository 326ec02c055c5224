-- One row per customer: expected average order value (Gamma-Gamma) and discounted customer lifetime value over
-- clv_horizon_months, from this run's fits (sources analytics.bgnbd_fit, gamma_gamma_fit).
--   CLV = margin x expected order value x discounted expected purchases
-- where the discounted expected purchases (BG/NBD, per purchase history, computed by the fit step) already weigh
-- in the chance that the customer has left, and margin is the customer's own profit share of the revenue of
-- their orders with a known cost, else clv_default_margin. Prospects have no CLV. The value tier ranks past
-- revenue; CLV looks forward: both are here, with each customer's rank among buyers on lifetime revenue and CLV.
with

facts as (
    select * from {{ ref('int_customer_facts_joined') }}
),

tiers as (
    select * from {{ ref('customer_value_tier') }}
),

histories as (
    select * from {{ ref('int_purchase_histories_summarized') }}
),

triple_scores as (
    select * from {{ source('analytics', 'bgnbd_triple_scores') }}
),

spend_fit as (
    select * from {{ source('analytics', 'gamma_gamma_fit') }}
),

valued as (
    select
        facts.customer_id,
        facts.as_of_date,
        tiers.value_tier,
        facts.lifetime_orders,
        facts.lifetime_net_revenue,
        histories.frequency as repeat_purchases,
        case when histories.frequency > 0
            then {{ c360.safe_divide('histories.repeat_net_revenue', 'histories.frequency') }}
        end as mean_repeat_order_value,
        facts.p_alive,
        case when histories.customer_id is not null then {{ c360.round_double(
            c360.gamma_gamma_expected_spend('spend_fit', 'histories.frequency', 'histories.repeat_net_revenue'), 2
        ) }} end as expected_avg_order_value,
        triple_scores.discounted_expected_purchases,
        case
            when histories.known_cost_net_revenue > 0
                then {{ c360.safe_divide('histories.known_cost_profit', 'histories.known_cost_net_revenue') }}
            when histories.customer_id is not null then {{ var('clv_default_margin') }}
        end as margin,
        case
            when histories.known_cost_net_revenue > 0 then 'known_cost'
            when histories.customer_id is not null then 'default'
        end as margin_source
    from facts
    inner join tiers on facts.customer_id = tiers.customer_id
    left join histories on facts.customer_id = histories.customer_id
    left join triple_scores
        on histories.frequency = triple_scores.frequency
        and histories.recency_days = triple_scores.recency_days
        and histories.age_days = triple_scores.age_days
    cross join spend_fit
),

with_clv as (
    select
        *,
        {{ c360.round_double('margin * expected_avg_order_value * discounted_expected_purchases', 2) }} as clv
    from valued
),

ranked as (
    -- shares of buyers whose lifetime revenue / CLV is at least this customer's (ties share a share)
    select
        customer_id,
        cume_dist() over (order by lifetime_net_revenue desc nulls last) as lifetime_revenue_top_share,
        cume_dist() over (order by clv desc nulls last) as clv_top_share
    from with_clv
    where lifetime_orders > 0
),

final as (
    select
        with_clv.customer_id,
        with_clv.as_of_date,
        with_clv.value_tier,
        with_clv.lifetime_orders,
        with_clv.lifetime_net_revenue,
        with_clv.repeat_purchases,
        {{ c360.round_double('with_clv.mean_repeat_order_value', 2) }} as mean_repeat_order_value,
        with_clv.p_alive,
        with_clv.expected_avg_order_value,
        {{ c360.round_double('with_clv.discounted_expected_purchases', 6) }} as discounted_expected_purchases,
        {{ c360.round_double('with_clv.margin', 4) }} as margin,
        with_clv.margin_source,
        with_clv.clv,
        {{ c360.round_double('ranked.lifetime_revenue_top_share', 6) }} as lifetime_revenue_top_share,
        {{ c360.round_double('ranked.clv_top_share', 6) }} as clv_top_share,
        {{ var('clv_horizon_months') }} as clv_horizon_months,
        cast({{ var('clv_annual_discount_rate') }} as {{ c360.type_double() }}) as clv_annual_discount_rate,
        '{{ var("reporting_currency") }}' as reporting_currency
    from with_clv
    left join ranked on with_clv.customer_id = ranked.customer_id
)

select * from final
