-- One row per contact record merged into another one: which ids, which rule, whose values won.
with

persons as (
    select * from {{ ref('int_contacts_merged') }}
),

final as (
    select
        merged.contact_id as merged_contact_id,
        persons.person_id as surviving_contact_id,
        persons.customer_id as surviving_customer_id,
        persons.merge_rule,
        'values of the surviving record win: primary contact first, then latest updated_at, then smallest contact_id'
            as winner_rule
    from persons
    {{ c360.unnest_join('persons.merged_contact_ids', 'merged', 'contact_id') }}
    where persons.merged_contact_count > 1
        and merged.contact_id <> persons.person_id
)

select * from final
