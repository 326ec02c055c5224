-- How survey responses reached customers: by contact id, by e-mail, or not at all (kept and counted, SPEC 2.3).
-- Grain: one row per match method (all three, even when zero).
with

responses as (
    select * from {{ ref('int_survey_responses_matched') }}
    where submitted_date <= {{ as_of_date() }}
),

methods as (
    select * from (values ('contact_id'), ('email'), ('unmatched')) as m(match_method)
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        methods.match_method,
        count(responses.response_id) as responses
    from methods
    left join responses on methods.match_method = responses.match_method
    group by 1, 2
)

select * from final
