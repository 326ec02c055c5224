{#- Orders whose customer is not in the CRM are left out of customer_360. This test, on the CRM model, counts them
    per file (warn severity: the rest of the data is fine to publish). Ids that match a CRM id only when upper/lower
    case is ignored are counted apart: a likely export mistake. One failing row per file, with a `problem`
    sentence (no id or other value of the orders, only counts and the file). It sits on the CRM model so that it
    runs once both the orders and the CRM are built. -#}
{% test orders_of_known_customers(model, orders, customer_column='customer_id', file_column='source_file') %}
with

crm as (
    select distinct {{ customer_column }} as customer_id
    from {{ model }}
),

folded as (
    select distinct lower(customer_id) as folded_id
    from crm
),

unknown as (
    select
        orders.{{ customer_column }} as customer_id,
        orders.{{ file_column }} as source_file
    from {{ orders }} as orders
    left join crm on orders.{{ customer_column }} = crm.customer_id
    where crm.customer_id is null
),

grouped as (
    select
        unknown.source_file,
        count(*) as orders,
        count(distinct unknown.customer_id) as customers,
        count(folded.folded_id) as orders_matching_ignoring_case
    from unknown
    left join folded on lower(unknown.customer_id) = folded.folded_id
    group by unknown.source_file
)

select
    source_file,
    orders,
    customers,
    orders_matching_ignoring_case,
    {{ dbt.cast('orders', dbt.type_string()) }} || ' order(s) of ' || {{ dbt.cast('customers', dbt.type_string()) }}
    || ' customer id(s) not in the CRM in ' || source_file
    || case
        when orders_matching_ignoring_case > 0
            then ' (' || {{ dbt.cast('orders_matching_ignoring_case', dbt.type_string()) }}
                || ' match a CRM id when upper/lower case is ignored)'
        else ''
    end
    || ': they are left out of customer_360 and counted as not_in_crm in the revenue KPI; deliver the missing '
    || 'contacts or correct the ids' as problem
from grouped
{% endtest %}
