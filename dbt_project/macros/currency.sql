{#- An amount in `currency_column` converted to the reporting currency with the rates in var fx_rates_to_reporting,
    rounded to cents, as reporting_amount_type(). `amount` may be an expression such as `gross_amount - discount_amount`: it is
    parenthesized, so the whole amount is converted. An unknown currency gives null (and the has_fx_rate test on
    stg_shop__orders.currency names the currency, the file and the lines).

    Exact for every amount the input contract admits (at most 10^15 with two decimals): the rate is a
    DECIMAL(38, 10) (a DECIMAL(18, 8) rate overflowed from 10^8 up). Rounding that 38-digit product to cents is
    slow on DuckDB (128-bit division, a few microseconds per value: most of stg_shop__orders at millions of
    orders), so amounts small enough that the product stays below 10^6 with every rate go through a DECIMAL(18, 10)
    rate instead, whose product DuckDB keeps in 64 bits. Both branches give the same exact value, rounded the same
    way; every engine accepts both. -#}
{% macro to_reporting_currency(amount, currency_column) -%}
    {%- set amount_type = reporting_amount_type() -%}
    {%- set rates = var("fx_rates_to_reporting") -%}
    {%- set max_rate = rates.values() | map('abs') | max if rates else 0 -%}
    {%- set small = (1000000 / max_rate) | round(0, 'floor') | int if max_rate > 1 else 1000000 -%}
    {%- if max_rate < 1000000 and small > 0 %}
    case
        when abs({{ amount }}) < {{ small }} then cast(({{ amount }}) * {{ reporting_rate_case(currency_column, 18) }} as {{ amount_type }})
        else cast(cast(({{ amount }}) * {{ reporting_rate_case(currency_column, 38) }} as decimal(38, 2)) as {{ amount_type }})
    end
    {%- else %}
    cast(({{ amount }}) * {{ reporting_rate_case(currency_column, 38) }} as {{ amount_type }})
    {%- endif %}
{%- endmacro %}

{% macro reporting_rate_case(currency_column, precision) -%}
    case {{ currency_column }}
        {%- for code, rate in var("fx_rates_to_reporting").items() %}
        when '{{ code }}' then cast({{ rate }} as decimal({{ precision }}, 10))
        {%- endfor %}
    end
{%- endmacro %}

{#- The type of an amount in the reporting currency (stg_shop__orders' gross_amount_reporting, net_revenue, profit):
    DECIMAL(18, 2) when every amount the input contract admits fits it after conversion, DECIMAL(38, 2) otherwise.
    An order's profit combines three amounts of at most 10^15 each, so DECIMAL(18, 2) (below 10^16) holds every
    converted amount while the largest rate is below 10/3, as with the default rates. Sums of either type are
    DECIMAL(38, 2) on every engine, so the customer tables keep their types; but DuckDB reads, writes and sums
    64-bit decimals two to three times faster than 128-bit ones (the order-level models on 4M orders: 17 s -> 10 s).
    A larger rate (e.g. a reporting currency such as JPY, where USD is 150) selects DECIMAL(38, 2). -#}
{% macro reporting_amount_type() -%}
    {%- set rates = var("fx_rates_to_reporting") -%}
    {%- set max_rate = rates.values() | map('abs') | max if rates else 0 -%}
    {%- if max_rate * 3 < 10 -%} decimal(18, 2) {%- else -%} decimal(38, 2) {%- endif -%}
{%- endmacro %}
