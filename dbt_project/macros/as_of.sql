{#- The run's as-of date (SPEC 3). The only notion of "today" any model may use. -#}
{% macro as_of_date() -%}
    cast('{{ var("as_of_date") }}' as date)
{%- endmacro %}

{#- Whole days from `earlier` to the as-of date (positive when `earlier` is in the past). -#}
{% macro days_before_as_of(earlier) -%}
    {{ dbt.datediff(earlier, as_of_date(), "day") }}
{%- endmacro %}

{#- The date `days` days before the as-of date. Windows are half-open on the left: (as_of - days, as_of]. -#}
{% macro as_of_minus(days) -%}
    cast({{ dbt.dateadd("day", "-1 * (" ~ days ~ ")", as_of_date()) }} as date)
{%- endmacro %}
