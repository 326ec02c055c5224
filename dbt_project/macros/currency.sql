{#- Converts an amount in `currency_column` to the reporting currency with the rates in var fx_rates_to_reporting.
    `amount` may be an expression such as `gross_amount - discount_amount`: it is parenthesized, so the whole
    amount is converted. The rate is a DECIMAL(38, 10), so the product is exact for every amount the input contract
    admits (at most 10^15 with two decimals; DECIMAL(18, 8) overflowed from 10^8 up). An unknown currency gives
    null (and the has_fx_rate test on stg_shop__orders.currency names the currency, the file and the lines). -#}
{% macro to_reporting_currency(amount, currency_column) -%}
    (({{ amount }}) * case {{ currency_column }}
        {%- for code, rate in var("fx_rates_to_reporting").items() %}
        when '{{ code }}' then cast({{ rate }} as decimal(38, 10))
        {%- endfor %}
    end)
{%- endmacro %}

