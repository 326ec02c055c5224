-- One row per person: contact records with the same normalized e-mail are merged (contacts without an e-mail
-- stay on their own). The surviving record is the primary contact, then the most recently updated, then the
-- smallest contact_id; its values win. int_contact_merges_recorded lists every merged record.
with

contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

grouped as (
    select
        *,
        coalesce('email:' || email, 'contact:' || contact_id) as person_key
    from contacts
),

ranked as (
    select
        *,
        row_number() over (
            partition by person_key
            order by is_primary desc nulls last, updated_at desc nulls last, contact_id asc nulls last
        ) as survivor_rank,
        count(*) over (partition by person_key) as merged_contact_count,
        {{ c360.sorted_array_over('contact_id', 'person_key') }} as merged_contact_ids
    from grouped
),

final as (
    select
        contact_id as person_id,
        contact_id,
        customer_id,
        full_name,
        email,
        phone_e164,
        company_name,
        job_title,
        is_primary,
        country,
        region,
        city,
        industry,
        account_manager,
        acquisition_channel,
        created_at,
        updated_at,
        birthday,
        has_email_opt_in,
        merged_contact_count,
        merged_contact_ids,
        case when merged_contact_count > 1 then 'same_normalized_email' end as merge_rule
    from ranked
    where survivor_rank = 1
)

select * from final
