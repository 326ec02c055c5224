-- One row per customer: lifecycle stage, first matching rule wins, with the reason in words.
with

facts as (
    select * from {{ ref('int_customer_facts_joined') }}
),

staged as (
    select
        customer_id,
        as_of_date,
        first_order_date,
        last_order_date,
        days_since_first_order,
        days_since_last_order,
        longest_gap_before_recent_order_days,
        orders_current_90d,
        orders_previous_90d,
        revenue_current_90d,
        revenue_previous_90d,
        case
            when last_order_date is null then 'prospect'
            when days_since_last_order > {{ var('churn_after_days') }} then 'churned'
            when days_since_last_order < {{ var('window_days') }}
                and longest_gap_before_recent_order_days > {{ var('churn_after_days') }} then 'reactivated'
            when days_since_first_order < {{ var('window_days') }} then 'new'
            when orders_previous_90d > 0 and (
                revenue_current_90d <= {{ var('declining_ratio') }} * revenue_previous_90d
                or orders_current_90d <= {{ var('declining_ratio') }} * orders_previous_90d
            ) then 'declining'
            when days_since_first_order < {{ var('growing_customer_days') }}
                or revenue_current_90d >= {{ var('growing_ratio') }} * revenue_previous_90d then 'growing'
            else 'mature'
        end as lifecycle_stage
    from facts
),

final as (
    select
        *,
        case lifecycle_stage
            when 'prospect' then 'no completed order yet'
            when 'churned' then 'no completed order for ' || days_since_last_order || ' days (more than '
                || {{ var('churn_after_days') }} || ')'
            when 'reactivated' then 'ordered again ' || days_since_last_order || ' days ago after a gap of '
                || longest_gap_before_recent_order_days || ' days (more than ' || {{ var('churn_after_days') }} || ')'
            when 'new' then 'first order ' || days_since_first_order || ' days ago (within '
                || {{ var('window_days') }} || ')'
            when 'declining' then 'last 90 days: ' || orders_current_90d || ' orders / '
                || {{ c360.round_decimal('revenue_current_90d', 2) }} || ' revenue vs previous 90 days: ' || orders_previous_90d
                || ' orders / ' || {{ c360.round_decimal('revenue_previous_90d', 2) }} || ' (at most '
                || {{ c360.round_decimal('100 * ' ~ var('declining_ratio')) }} || '%)'
            when 'growing' then case
                when days_since_first_order < {{ var('growing_customer_days') }}
                    then 'customer for ' || days_since_first_order || ' days (less than '
                        || {{ var('growing_customer_days') }} || ')'
                else 'revenue last 90 days ' || {{ c360.round_decimal('revenue_current_90d', 2) }} || ' vs previous '
                    || {{ c360.round_decimal('revenue_previous_90d', 2) }} || ' (at least ' || {{ c360.round_decimal('100 * ' ~ var('growing_ratio')) }}
                    || '%)'
            end
            else 'steady buyer for ' || days_since_first_order || ' days'
        end as stage_reason
    from staged
)

select * from final
