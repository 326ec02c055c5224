{#- Every currency needs a rate in var fx_rates_to_reporting, otherwise its revenue would be lost. One failing row per
    currency and file, with a `problem` sentence naming the currency, the file, the orders' lines and what to do
    (c360 shows it as the check's description; no value of an order other than its currency). -#}
{% test has_fx_rate(model, column_name, file_column='source_file', line_column='source_line') %}
with

missing as (
    select
        {{ column_name }} as currency,
        {{ file_column }} as source_file,
        {{ line_column }} as source_line
    from {{ model }}
    where {{ to_reporting_currency('1', column_name) }} is null
),

grouped as (
    select
        currency,
        source_file,
        count(*) as orders,
        {{ dbt.listagg(dbt.cast('source_line', dbt.type_string()), "', '", 'order by source_line', 5) }} as first_lines
    from missing
    group by currency, source_file
)

select
    currency,
    source_file,
    orders,
    'currency ' || currency || ' has no rate in var fx_rates_to_reporting: '
    || {{ dbt.cast('orders', dbt.type_string()) }} || ' order(s) in ' || source_file || ' (first lines: '
    || first_lines || '). Add the rate (dbt_project.yml, or c360 run --var fx_rates_to_reporting=...) or correct '
    || 'the file; until then the run is held back, since these orders would be missing from revenue' as problem
from grouped
{% endtest %}
