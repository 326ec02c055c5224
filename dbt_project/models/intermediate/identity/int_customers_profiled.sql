-- One row per customer (account) present in the CRM: name, primary contact (masked), region, industry, account
-- manager, customer since, marketing consent. Raw e-mail/phone never leave this model unmasked.
with

persons as (
    select * from {{ ref('int_contacts_merged') }}
),

contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

customers as (
    select
        customer_id,
        min(cast(created_at as date)) as customer_since_date,
        count(*) as contact_records,
        max(company_name) as any_company_name
    from contacts
    group by customer_id
),

primary_person as (
    select *
    from (
        select
            *,
            row_number() over (
                partition by customer_id
                order by is_primary desc nulls last, updated_at desc nulls last, person_id asc nulls last
            ) as person_rank
        from persons
    ) as ranked
    where person_rank = 1
),

final as (
    select
        customers.customer_id,
        coalesce(primary_person.company_name, customers.any_company_name, primary_person.full_name) as account_name,
        primary_person.person_id as primary_contact_id,
        primary_person.full_name as primary_contact_name,
        {{ pii_hash('primary_person.email') }} as email_hash,
        {{ mask_email('primary_person.email') }} as email_masked,
        {{ mask_phone('primary_person.phone_e164', 'primary_person.country') }} as phone_masked,
        primary_person.country,
        primary_person.region,
        primary_person.city,
        primary_person.industry,
        primary_person.account_manager,
        primary_person.acquisition_channel,
        customers.customer_since_date,
        customers.contact_records,
        coalesce(primary_person.has_email_opt_in, false) as has_marketing_consent
    from customers
    left join primary_person
        on customers.customer_id = primary_person.customer_id
)

select * from final
