-- How survey responses reached customers: by contact id, by e-mail, or not at all (kept and counted, never dropped).
-- Grain: one row per match method (every method, even when zero).
with

responses as (
    select * from {{ ref('int_survey_responses_matched') }}
    where submitted_date <= {{ as_of_date() }}
),

methods as (
    {{ enum_rows('survey_match_methods', 'match_method') }}
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
