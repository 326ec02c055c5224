{#- Every currency needs a rate in var fx_rates_to_reporting, otherwise its revenue would be lost. -#}
{% test has_fx_rate(model, column_name) %}
select {{ column_name }} as currency_without_rate, count(*) as orders
from {{ model }}
where {{ to_reporting_currency('1', column_name) }} is null
group by 1
{% endtest %}
