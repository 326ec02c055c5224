{#- The control group of the next actions (customer_actions): a stable, deterministic draw per customer and
    calendar month. The hash of the customer id and the month, read as a number from 0 to 1, is below
    control_group_share for that share of customers. The draw holds for the whole month, so a customer's group
    does not change from one daily run to the next, and is drawn again each month, so that nobody is held out of
    every campaign. Computed in two steps (two CTEs), so that each engine hashes each customer once. -#}

{#- The first day of the month of the as-of date: the control period. -#}
{% macro control_period_start() -%}
    cast({{ dbt.date_trunc('month', as_of_date()) }} as date)
{%- endmacro %}

{#- Lower-case hexadecimal SHA-256 of "<customer id>/<months from 2000-01 to the period>". -#}
{% macro control_group_hash(customer_id, period_start) -%}
    {{ c360.sha256_hex(
        customer_id ~ " || '/' || cast(" ~ dbt.datediff("cast('2000-01-01' as date)", period_start, 'month')
        ~ " as " ~ dbt.type_string() ~ ")"
    ) }}
{%- endmacro %}

{#- The first 8 hexadecimal digits of `hex_column` as a fraction in [0, 1), the same on every engine. -#}
{% macro hex_fraction(hex_column) -%}
    {%- set terms = [] -%}
    {%- for i in range(8) -%}
        {%- do terms.append(
            "(cast(position(substr(" ~ hex_column ~ ", " ~ (i + 1) ~ ", 1) in '0123456789abcdef') as "
            ~ dbt.type_bigint() ~ ") - 1) * " ~ (16 ** (7 - i))
        ) -%}
    {%- endfor -%}
    {{ c360.safe_divide(terms | join(' + '), 16 ** 8) }}
{%- endmacro %}
