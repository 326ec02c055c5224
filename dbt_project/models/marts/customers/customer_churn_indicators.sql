-- One row per customer: each churn flag with the values that fired it and the threshold used, the
-- BG/NBD view (P(alive), expected purchases), and the combined risk score and level.
-- Risk score = sum of the points of the flags that fired + risk_points_p_alive x (1 - P(alive)), capped at 100;
-- prospects (no completed order) have none. The level agrees with the stage and the model:
--   prospect -> 'n/a'; churned -> 'churned' (past the warning); score >= risk_level_high_min -> 'high';
--   score >= risk_level_medium_min, or P(alive) below risk_low_min_p_alive -> 'medium'; else 'low'.
-- So the flags raise the level, and a customer the model believes gone is never 'low'.
with

facts as (
    select * from {{ ref('int_customer_facts_joined') }}
),

stages as (
    select
        customer_id,
        lifecycle_stage
    from {{ ref('customer_lifecycle_stage') }}
),

flagged as (
    select
        customer_id,
        as_of_date,
        orders_current_90d,
        orders_previous_90d,
        {{ var('drop_min_base_orders') }} as frequency_drop_min_base_orders,
        orders_previous_90d >= {{ var('drop_min_base_orders') }}
            and orders_current_90d <= {{ var('drop_ratio') }} * orders_previous_90d as is_frequency_drop,
        revenue_current_90d,
        revenue_previous_90d,
        {{ var('drop_min_base_revenue') }} as spend_drop_min_base_revenue,
        revenue_previous_90d >= {{ var('drop_min_base_revenue') }}
            and revenue_current_90d <= {{ var('drop_ratio') }} * revenue_previous_90d as is_spend_drop,
        {{ var('drop_ratio') }} as drop_ratio_threshold,
        complaints_current_90d,
        complaints_previous_90d,
        complaints_current_90d > complaints_previous_90d
            and complaints_current_90d >= 1 as is_complaint_increase,
        latest_nps,
        avg_csat_overall,
        {{ var('low_nps_max') }} as low_nps_threshold,
        {{ var('low_csat_max') }} as low_csat_threshold,
        coalesce(latest_nps <= {{ var('low_nps_max') }}, false)
            or coalesce(avg_csat_overall <= {{ var('low_csat_max') }}, false) as is_low_satisfaction,
        days_since_last_order,
        median_days_between_orders,
        lifetime_orders,
        {{ var('overdue_factor') }} * median_days_between_orders as overdue_threshold_days,
        coalesce(
            lifetime_orders >= {{ var('overdue_min_orders') }}
            and days_since_last_order > {{ var('overdue_factor') }} * median_days_between_orders,
            false
        ) as is_overdue,
        p_alive,
        {{ var('risk_low_min_p_alive') }} as low_risk_min_p_alive,
        expected_purchases_90d
    from facts
),

staged as (
    select
        flagged.*,
        stages.lifecycle_stage
    from flagged
    inner join stages on flagged.customer_id = stages.customer_id
),

scored as (
    select
        *,
        {%- set risk_points -%}
            case when is_frequency_drop then {{ var('risk_points_frequency_drop') }} else 0 end
            + case when is_spend_drop then {{ var('risk_points_spend_drop') }} else 0 end
            + case when is_complaint_increase then {{ var('risk_points_complaint_increase') }} else 0 end
            + case when is_low_satisfaction then {{ var('risk_points_low_satisfaction') }} else 0 end
            + case when is_overdue then {{ var('risk_points_overdue') }} else 0 end
            + {{ var('risk_points_p_alive') }} * (1 - coalesce(p_alive, 1))
        {%- endset %}
        case when lifecycle_stage <> 'prospect' then least(100, {{ c360.round_double(risk_points) }}) end
            as churn_risk_score
    from staged
),

final as (
    select
        *,
        case
            when lifecycle_stage = 'prospect' then 'n/a'
            when lifecycle_stage = 'churned' then 'churned'
            when churn_risk_score >= {{ var('risk_level_high_min') }} then 'high'
            when churn_risk_score >= {{ var('risk_level_medium_min') }} then 'medium'
            when p_alive < {{ var('risk_low_min_p_alive') }} then 'medium'
            else 'low'
        end as churn_risk_level,
        case
            when lifecycle_stage = 'prospect' then 'no completed order yet: no risk score'
            when lifecycle_stage = 'churned' then 'churned: past the warning'
            when churn_risk_score < {{ var('risk_level_medium_min') }} and p_alive < {{ var('risk_low_min_p_alive') }}
                then 'P(alive) ' || {{ c360.format_double(c360.round_double('p_alive', 4)) }}
                    || ' is below {{ var("risk_low_min_p_alive") }}: at least medium'
            else 'score ' || {{ c360.format_double('churn_risk_score') }} || ' from the flags and P(alive)'
        end as churn_risk_reason,
        concat_ws(', ',
            case when is_frequency_drop then 'frequency_drop' end,
            case when is_spend_drop then 'spend_drop' end,
            case when is_complaint_increase then 'complaint_increase' end,
            case when is_low_satisfaction then 'low_satisfaction' end,
            case when is_overdue then 'overdue' end
        ) as fired_flags
    from scored
)

select * from final
