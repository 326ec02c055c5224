{#- Converts an amount in `currency_column` to the reporting currency with the rates in var fx_rates_to_reporting.
    `amount` may be an expression such as `gross_amount - discount_amount`: it is parenthesized, so the whole
    amount is converted. An unknown currency gives null (and the has_fx_rate test on stg_shop__orders.currency
    fails loudly). -#}
{% macro to_reporting_currency(amount, currency_column) -%}
    (({{ amount }}) * case {{ currency_column }}
        {%- for code, rate in var("fx_rates_to_reporting").items() %}
        when '{{ code }}' then cast({{ rate }} as decimal(18, 8))
        {%- endfor %}
    end)
{%- endmacro %}

