-- One row per CRM customer: the 360-degree profile. Personal data only masked or hashed.
with

profiles as (
    select * from {{ ref('int_customers_profiled') }}
),

facts as (
    select * from {{ ref('int_customer_facts_joined') }}
),

tiers as (
    select * from {{ ref('customer_value_tier') }}
),

stages as (
    select * from {{ ref('customer_lifecycle_stage') }}
),

risk as (
    select * from {{ ref('customer_churn_indicators') }}
),

actions as (
    select * from {{ ref('customer_actions') }}
),

clv as (
    select * from {{ ref('customer_clv') }}
),

final as (
    select
        profiles.customer_id,
        facts.as_of_date,
        profiles.account_name,
        profiles.primary_contact_id,
        profiles.primary_contact_name,
        profiles.email_hash,
        profiles.email_masked,
        profiles.phone_masked,
        profiles.country,
        profiles.region,
        profiles.city,
        profiles.industry,
        profiles.account_manager,
        profiles.acquisition_channel,
        profiles.customer_since_date,
        profiles.has_marketing_consent,
        facts.first_order_date,
        facts.last_order_date,
        facts.days_since_last_order,
        facts.lifetime_orders,
        facts.lifetime_net_revenue,
        facts.lifetime_profit,
        facts.lifetime_orders_unknown_cost,
        facts.orders_365d,
        facts.net_revenue_365d,
        facts.profit_365d,
        facts.avg_order_value_365d,
        facts.distinct_categories,
        facts.lifetime_refunds,
        facts.refunds_365d,
        facts.orders_current_90d,
        facts.orders_previous_90d,
        facts.revenue_current_90d,
        facts.revenue_previous_90d,
        facts.median_days_between_orders,
        facts.survey_responses,
        facts.lifetime_complaints,
        facts.complaints_current_90d,
        facts.complaints_previous_90d,
        facts.latest_nps,
        facts.latest_nps_date,
        facts.avg_csat_product,
        facts.avg_csat_service,
        facts.avg_csat_price,
        tiers.r_score,
        tiers.f_score,
        tiers.m_score,
        tiers.value_score,
        tiers.value_tier,
        tiers.rfm_segment,
        stages.lifecycle_stage,
        stages.stage_reason,
        risk.fired_flags as churn_flags,
        risk.p_alive,
        risk.expected_purchases_90d,
        risk.churn_risk_score,
        risk.churn_risk_level,
        risk.churn_risk_reason,
        clv.expected_avg_order_value,
        clv.clv,
        actions.health_score,
        actions.next_action,
        actions.due_within_days as next_action_due_within_days,
        actions.action_reason as next_action_reason
    from profiles
    inner join facts on profiles.customer_id = facts.customer_id
    inner join tiers on profiles.customer_id = tiers.customer_id
    inner join stages on profiles.customer_id = stages.customer_id
    inner join risk on profiles.customer_id = risk.customer_id
    inner join actions on profiles.customer_id = actions.customer_id
    inner join clv on profiles.customer_id = clv.customer_id
)

select * from final
