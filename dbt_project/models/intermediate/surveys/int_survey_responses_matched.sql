-- One row per delivered survey response, matched to a customer by contact_id, else by normalized e-mail;
-- unmatched responses are kept (customer_id null, match_method 'unmatched').
-- Not filtered by the as-of date (its consumers keep submitted_date <= as-of): the matching does not depend on the
-- date, so a daily run with no new responses or contacts reuses this table (orchestration/dbt_reuse.py).
with

responses as (
    select
        response_id,
        survey_name,
        submitted_at,
        submitted_date,
        respondent_email,
        contact_id,
        nps_score,
        csat_product,
        csat_service,
        csat_price,
        is_complaint,
        complaint_category,
        comment,
        source_file_id,
        source_line
    from {{ ref('stg_survey__responses') }}
),

contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

persons as (
    select * from {{ ref('int_contacts_merged') }}
    where email is not null
),

final as (
    select
        responses.*,
        coalesce(by_contact.customer_id, by_email.customer_id) as customer_id,
        case
            when by_contact.customer_id is not null then 'contact_id'
            when by_email.customer_id is not null then 'email'
            else 'unmatched'
        end as match_method
    from responses
    left join contacts as by_contact
        on responses.contact_id = by_contact.contact_id
    left join persons as by_email
        on responses.respondent_email = by_email.email
)

select * from final
