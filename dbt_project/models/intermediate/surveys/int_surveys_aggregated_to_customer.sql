-- One row per customer with at least one matched survey response: counts, complaints per window, latest NPS,
-- average CSAT per dimension over the trailing 365 days.
{%- set in_trailing_365d = "submitted_date > " ~ as_of_minus(var('trailing_days')) %}
with

responses as (
    select * from {{ ref('int_survey_responses_matched') }}
    where customer_id is not null
        and submitted_date <= {{ as_of_date() }}
),

latest_nps as (
    select
        customer_id,
        nps_score as latest_nps,
        submitted_date as latest_nps_date
    from (
        select
            *,
            row_number() over (
                partition by customer_id order by submitted_at desc nulls last, response_id desc nulls last
            ) as nps_rank
        from responses
        where nps_score is not null
    ) as ranked
    where nps_rank = 1
),

aggregated as (
    select
        customer_id,
        count(*) as survey_responses,
        count(case when submitted_date > {{ as_of_minus(var('trailing_days')) }} then 1 end) as survey_responses_365d,
        count(case when is_complaint then 1 end) as lifetime_complaints,
        count(case when is_complaint and submitted_date > {{ as_of_minus(var('window_days')) }} then 1 end)
            as complaints_current_90d,
        count(case
            when is_complaint
                and submitted_date > {{ as_of_minus(2 * var('window_days')) }}
                and submitted_date <= {{ as_of_minus(var('window_days')) }}
                then 1
        end) as complaints_previous_90d,
        max(case when is_complaint then submitted_date end) as last_complaint_date,
        {{ c360.mean("case when " ~ in_trailing_365d ~ " then csat_product end") }} as avg_csat_product,
        {{ c360.mean("case when " ~ in_trailing_365d ~ " then csat_service end") }} as avg_csat_service,
        {{ c360.mean("case when " ~ in_trailing_365d ~ " then csat_price end") }} as avg_csat_price,
        -- average over every CSAT answer (all three dimensions) in the trailing 365 days
        {% set csat_sum -%}
            coalesce(sum(case when {{ in_trailing_365d }} then csat_product end), 0)
            + coalesce(sum(case when {{ in_trailing_365d }} then csat_service end), 0)
            + coalesce(sum(case when {{ in_trailing_365d }} then csat_price end), 0)
        {%- endset %}
        {%- set csat_count -%}
            count(case when {{ in_trailing_365d }} then csat_product end)
            + count(case when {{ in_trailing_365d }} then csat_service end)
            + count(case when {{ in_trailing_365d }} then csat_price end)
        {%- endset -%}
        {{ c360.safe_divide(csat_sum, csat_count) }} as avg_csat_overall
    from responses
    group by customer_id
),

final as (
    select
        aggregated.*,
        latest_nps.latest_nps,
        latest_nps.latest_nps_date
    from aggregated
    left join latest_nps
        on aggregated.customer_id = latest_nps.customer_id
)

select * from final
