-- One row per customer: health score and the next action, by the first matching rule:
--   1. a complaint in the last open_complaint_days -> service_recovery;
--   2. churned and in the top win_back_top_share of buyers by lifetime revenue or by CLV -> win_back_offer;
--   3. high churn risk or declining -> a retention action in every tier: account_manager_call (vip, high),
--      retention_callback (medium), re_engagement_offer (low, none);
--   4. by tier: monthly_check_in_call (vip), monthly_call (high), quarterly_email (medium), automated_newsletter
--      (low); prospects get welcome_newsletter; everyone else no_action.
-- Marketing actions (offers, e-mails, newsletters) need marketing consent: without it they become no_action.
-- Control group: the customers drawn for this calendar month (macros/control_group.sql, control_group_share) are
-- held out of every action but service recovery (next_action no_action, is_held_out), so that kpi_action_uplift
-- can compare what treated and held-out customers did next. Every row says why in action_reason.
{%- set marketing_actions = [
    'win_back_offer', 're_engagement_offer', 'quarterly_email', 'automated_newsletter', 'welcome_newsletter'
] %}
{%- set marketing = "proposed_action in ('" ~ marketing_actions | join("', '") ~ "')" %}
{%- set never_held_out = "proposed_action in ('service_recovery', 'no_action')" %}
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

clv as (
    select * from {{ ref('customer_clv') }}
),

components as (
    select
        facts.customer_id,
        facts.as_of_date,
        tiers.value_tier,
        stages.lifecycle_stage,
        risk.churn_risk_level,
        risk.churn_risk_score,
        risk.fired_flags,
        profiles.has_marketing_consent,
        clv.lifetime_revenue_top_share,
        clv.clv_top_share,
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
        -- prospects have no risk score: nothing to subtract
        100 - coalesce(risk.churn_risk_score, 0) as risk_component
    from facts
    inner join profiles on facts.customer_id = profiles.customer_id
    inner join tiers on facts.customer_id = tiers.customer_id
    inner join stages on facts.customer_id = stages.customer_id
    inner join risk on facts.customer_id = risk.customer_id
    inner join clv on facts.customer_id = clv.customer_id
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

drawn as (
    select
        *,
        {{ c360.control_period_start() }} as control_period_start,
        {{ c360.control_group_hash('customer_id', c360.control_period_start()) }} as control_hash
    from scored
),

proposed as (
    select
        *,
        {{ c360.hex_fraction('control_hash') }} < {{ var('control_group_share') }} as is_control_group,
        lifecycle_stage = 'churned' and (
            lifetime_revenue_top_share <= {{ var('win_back_top_share') }}
            or clv_top_share <= {{ var('win_back_top_share') }}
        ) as is_win_back,
        churn_risk_level = 'high' or lifecycle_stage = 'declining' as needs_retention
    from drawn
),

decided as (
    select
        *,
        case
            when has_open_complaint then 'service_recovery'
            when is_win_back then 'win_back_offer'
            when needs_retention and value_tier in ('vip', 'high') then 'account_manager_call'
            when needs_retention and value_tier = 'medium' then 'retention_callback'
            when needs_retention then 're_engagement_offer'
            when value_tier = 'vip' then 'monthly_check_in_call'
            when value_tier = 'high' then 'monthly_call'
            when value_tier = 'medium' then 'quarterly_email'
            when value_tier = 'low' then 'automated_newsletter'
            when lifecycle_stage = 'prospect' then 'welcome_newsletter'
            else 'no_action'
        end as proposed_action
    from proposed
),

gated as (
    select
        *,
        {{ marketing }} as is_marketing_action,
        {{ marketing }} and not has_marketing_consent as is_suppressed,
        is_control_group and not ({{ never_held_out }}) and not ({{ marketing }} and not has_marketing_consent)
            as is_held_out
    from decided
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
        is_marketing_action,
        control_period_start,
        is_control_group,
        is_held_out,
        case when is_suppressed or is_held_out then 'no_action' else proposed_action end as next_action,
        case when not (is_suppressed or is_held_out) then case proposed_action
            when 'service_recovery' then 2
            when 'account_manager_call' then 7
            when 'retention_callback' then 7
            when 'win_back_offer' then 14
            when 're_engagement_offer' then 14
            when 'monthly_check_in_call' then 30
            when 'monthly_call' then 30
            when 'quarterly_email' then 90
        end end as due_within_days,
        case
            when is_suppressed then proposed_action || ' suppressed: no marketing consent'
            when is_held_out then proposed_action || ' held out: the customer is in the control group of the month'
            when proposed_action = 'service_recovery' then 'complaint in the last ' || {{ var('open_complaint_days') }}
                || ' days: service recovery first'
            when proposed_action = 'win_back_offer' then 'churned customer in the top '
                || {{ c360.format_double(c360.round_double(
                    '100 * least(coalesce(lifetime_revenue_top_share, 1), coalesce(clv_top_share, 1))', 1
                )) }}
                || '% of buyers by '
                || case when lifetime_revenue_top_share <= clv_top_share or clv_top_share is null
                    then 'lifetime revenue' else 'CLV' end
            when needs_retention then value_tier || ' customer '
                || case
                    when churn_risk_level = 'high' and lifecycle_stage = 'declining'
                        then 'declining and at high churn risk'
                    when churn_risk_level = 'high' then 'at high churn risk'
                    else 'declining'
                end
                || case when fired_flags <> '' then ' (' || fired_flags || ')' else '' end
            when proposed_action = 'no_action' then 'no rule applies (' || value_tier || ', ' || lifecycle_stage || ')'
            when proposed_action = 'welcome_newsletter' then 'prospect: no completed order yet'
            else value_tier || ' tier'
        end as action_reason
    from gated
)

select * from final
