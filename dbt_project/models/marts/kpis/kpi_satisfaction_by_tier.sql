-- NPS and CSAT per value tier over matched survey responses of the trailing 365 days.
-- NPS = % promoters (9-10) - % detractors (0-6), in percent points (-100..100); CSAT = share of answers 4-5
-- over all three CSAT dimensions. Grain: one row per tier (null scores where a tier has no answers).
with

responses as (
    select * from {{ ref('int_survey_responses_matched') }}
    where customer_id is not null
        and submitted_date > {{ as_of_minus(var('trailing_days')) }}
        and submitted_date <= {{ as_of_date() }}
),

tiers as (
    select * from {{ ref('kpi_customers_by_tier') }}
),

customer_tiers as (
    select
        customer_id,
        value_tier
    from {{ ref('customer_value_tier') }}
),

csat_answers as (
    select
        customer_id,
        csat_product as csat
    from responses
    where csat_product is not null
    union all
    select
        customer_id,
        csat_service
    from responses
    where csat_service is not null
    union all
    select
        customer_id,
        csat_price
    from responses
    where csat_price is not null
),

nps as (
    select
        customer_tiers.value_tier,
        count(responses.nps_score) as nps_responses,
        count(case when responses.nps_score >= 9 then 1 end) as promoters,
        count(case when responses.nps_score <= 6 then 1 end) as detractors
    from responses
    inner join customer_tiers on responses.customer_id = customer_tiers.customer_id
    group by customer_tiers.value_tier
),

csat as (
    select
        customer_tiers.value_tier,
        count(*) as csat_answers,
        count(case when csat_answers.csat >= 4 then 1 end) as satisfied_answers
    from csat_answers
    inner join customer_tiers on csat_answers.customer_id = customer_tiers.customer_id
    group by customer_tiers.value_tier
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        tiers.value_tier,
        tiers.tier_order,
        coalesce(nps.nps_responses, 0) as nps_responses,
        coalesce(nps.promoters, 0) as promoters,
        coalesce(nps.detractors, 0) as detractors,
        {{ c360.round_double(c360.safe_divide('100.0 * (nps.promoters - nps.detractors)', 'nps.nps_responses'), 2) }}
            as nps,
        coalesce(csat.csat_answers, 0) as csat_answers,
        {{ c360.round_double(c360.safe_divide('csat.satisfied_answers', 'csat.csat_answers'), 4) }}
            as csat_share
    from tiers
    left join nps on tiers.value_tier = nps.value_tier
    left join csat on tiers.value_tier = csat.value_tier
)

select * from final
