-- One row per customer: health score and the next action from tier x stage x risk, respecting
-- marketing consent (marketing actions become 'no_action' without consent).
with

facts as (
    select * from {{ ref('int_customer_facts_joined') }}
),

profiles as (
    select * from {{ ref('int_customers_profiled') }}
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

components as (
    select
        facts.customer_id,
        facts.as_of_date,
        tiers.value_tier,
        stages.lifecycle_stage,
        risk.churn_risk_level,
        risk.churn_risk_score,
        profiles.has_marketing_consent,
        facts.lifetime_net_revenue,
        facts.last_complaint_date is not null
            and {{ days_before_as_of('facts.last_complaint_date') }} < {{ var('open_complaint_days') }}
            as has_open_complaint,
        -- each component is 0-100; unknown satisfaction counts as neutral (50)
        coalesce(
            10 * facts.latest_nps,
            25 * (facts.avg_csat_overall - 1),
            50
        ) as satisfaction_component,
        50 + 50 * greatest(-1, least(1,
            {{ c360.safe_divide('facts.orders_current_90d - facts.orders_previous_90d', 'greatest(facts.orders_previous_90d, 1)') }}
        )) as engagement_component,
        50 + 50 * greatest(-1, least(1,
            {{ c360.safe_divide('facts.revenue_current_90d - facts.revenue_previous_90d', 'greatest(facts.revenue_previous_90d, 1)') }}
        )) as value_growth_component,
        100 - risk.churn_risk_score as risk_component
    from facts
    inner join profiles on facts.customer_id = profiles.customer_id
    inner join tiers on facts.customer_id = tiers.customer_id
    inner join stages on facts.customer_id = stages.customer_id
    inner join risk on facts.customer_id = risk.customer_id
),

scored as (
    select
        *,
        {%- set weighted_sum -%}
            {{ var('health_weight_satisfaction') }} * satisfaction_component
            + {{ var('health_weight_engagement') }} * engagement_component
            + {{ var('health_weight_value_growth') }} * value_growth_component
            + {{ var('health_weight_risk') }} * risk_component
        {%- endset %}
        {%- set weight_total -%}
            {{ var('health_weight_satisfaction') }} + {{ var('health_weight_engagement') }}
            + {{ var('health_weight_value_growth') }} + {{ var('health_weight_risk') }}
        {%- endset %}
        cast({{ c360.round_double(c360.safe_divide(weighted_sum, weight_total)) }} as integer) as health_score
    from components
),

proposed as (
    select
        *,
        case
            when has_open_complaint then 'service_recovery'
            when value_tier in ('vip', 'high') and churn_risk_level = 'high' then 'account_manager_call'
            when lifecycle_stage = 'churned'
                and lifetime_net_revenue >= {{ var('win_back_min_lifetime_revenue') }} then 'win_back_offer'
            when value_tier = 'vip' then 'monthly_check_in_call'
            when value_tier = 'high' then 'monthly_call'
            when value_tier = 'medium' then 'quarterly_email'
            when value_tier = 'low' then 'automated_newsletter'
            when lifecycle_stage = 'prospect' then 'welcome_newsletter'
            else 'no_action'
        end as proposed_action
    from scored
),

final as (
    select
        customer_id,
        as_of_date,
        value_tier,
        lifecycle_stage,
        churn_risk_level,
        satisfaction_component,
        engagement_component,
        value_growth_component,
        risk_component,
        health_score,
        has_open_complaint,
        has_marketing_consent,
        proposed_action,
        proposed_action in ('win_back_offer', 'quarterly_email', 'automated_newsletter', 'welcome_newsletter')
            as is_marketing_action,
        case
            when proposed_action in ('win_back_offer', 'quarterly_email', 'automated_newsletter', 'welcome_newsletter')
                and not has_marketing_consent then 'no_action'
            else proposed_action
        end as next_action,
        case proposed_action
            when 'service_recovery' then 2
            when 'account_manager_call' then 7
            when 'win_back_offer' then 14
            when 'monthly_check_in_call' then 30
            when 'monthly_call' then 30
            when 'quarterly_email' then 90
        end as due_within_days,
        case
            when proposed_action in ('win_back_offer', 'quarterly_email', 'automated_newsletter', 'welcome_newsletter')
                and not has_marketing_consent then proposed_action || ' suppressed: no marketing consent'
            when proposed_action = 'service_recovery' then 'complaint in the last ' || {{ var('open_complaint_days') }}
                || ' days: service recovery first'
            when proposed_action = 'account_manager_call' then value_tier || ' customer at high churn risk'
            when proposed_action = 'win_back_offer' then 'churned customer with lifetime revenue '
                || {{ c360.round_decimal('lifetime_net_revenue', 2) }}
            when proposed_action = 'no_action' then 'no rule applies (' || value_tier || ', ' || lifecycle_stage || ')'
            else value_tier || ' tier'
        end as action_reason
    from proposed
)

select * from final
