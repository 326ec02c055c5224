-- One row per response_id (the last delivered version), e-mail normalized.
with

source as (
    select * from {{ source('survey', 'survey_responses') }}
),

latest_version as (
    select *
    from source
    qualify row_number() over (
        partition by response_id
        order by _file_id desc, _source_line desc
    ) = 1
),

final as (
    select
        response_id,
        nullif(trim(survey_name), '') as survey_name,
        submitted_at,
        cast(submitted_at as date) as submitted_date,
        {{ normalize_email('respondent_email') }} as respondent_email,
        nullif(trim(contact_id), '') as contact_id,
        nps_score,
        csat_product,
        csat_service,
        csat_price,
        coalesce(is_complaint, false) as is_complaint,
        nullif(trim(complaint_category), '') as complaint_category,
        comment
    from latest_version
)

select * from final
