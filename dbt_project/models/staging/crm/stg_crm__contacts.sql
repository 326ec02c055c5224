{{ config(**c360.keyed_incremental_config('contact_id')) }}
-- One row per contact_id (latest updated_at wins), with normalized e-mail and E.164 phone.
{#- Everything after the choice of the latest versions (the CTE candidates); its hash is stored as rules_key. -#}
{%- set transform %}
latest_version as (
    {{ deduplicated('candidates', 'contact_id', 'updated_at desc nulls last, _file_id desc nulls last, _source_line desc nulls last') }}
),

phones as (
    select
        *,
        {{ phone_digits('phone') }} as phone_digits
    from latest_version
),

final as (
    select
        contact_id,
        customer_id,
        nullif(trim(full_name), '') as full_name,
        {{ normalize_email('email') }} as email,
        {{ normalize_phone('phone', 'country', 'phone_digits') }} as phone_e164,
        nullif(trim(company_name), '') as company_name,
        nullif(trim(job_title), '') as job_title,
        coalesce(is_primary, false) as is_primary,
        upper(nullif(trim(country), '')) as country,
        nullif(trim(region), '') as region,
        nullif(trim(city), '') as city,
        nullif(trim(industry), '') as industry,
        nullif(trim(account_manager), '') as account_manager,
        nullif(lower(trim(acquisition_channel)), '') as acquisition_channel,
        created_at,
        coalesce(updated_at, created_at) as updated_at,
        birthday,
        coalesce(email_opt_in, false) as has_email_opt_in,
        _file_id as source_file_id,
        _source_line as source_line
    from phones
)
{%- endset %}

{{ staged_latest_versions(source('crm', 'contacts'), 'contact_id', transform) }}
