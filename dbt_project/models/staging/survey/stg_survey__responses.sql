{{ config(**c360.keyed_incremental_config('response_id')) }}
-- One row per response_id (the last delivered version), e-mail normalized.
{#- Everything after the choice of the latest versions (the CTE candidates); its hash is stored as rules_key. -#}
{%- set transform %}
latest_version as (
    {{ deduplicated('candidates', 'response_id', '_file_id desc nulls last, _source_line desc nulls last') }}
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
        comment,
        _file_id as source_file_id,
        _source_line as source_line
    from latest_version
)
{%- endset %}

{{ staged_latest_versions(source('survey', 'survey_responses'), 'response_id', transform) }}
