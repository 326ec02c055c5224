{#- The run's as-of date: the only notion of "today" any model may use.

    It comes from the environment variable C360_AS_OF_DATE (set by c360 for each run), falling back to the var
    as_of_date when dbt is run by hand. It is read only when dbt executes (`execute`), never while parsing, so a
    new date does not invalidate dbt's partial parse: every model would otherwise be re-parsed each day. -#}
{% macro as_of_date() -%}
    cast('{{ as_of_date_text() }}' as date)
{%- endmacro %}

{#- The as-of date as text (YYYY-MM-DD), for macros that compute with it in Jinja. -#}
{% macro as_of_date_text() -%}
    {%- if execute -%}
        {{- env_var("C360_AS_OF_DATE", var("as_of_date")) -}}
    {%- else -%}
        {{- var("as_of_date") -}}
    {%- endif -%}
{%- endmacro %}

{#- Whole days from `earlier` to the as-of date (positive when `earlier` is in the past). -#}
{% macro days_before_as_of(earlier) -%}
    {{ dbt.datediff(earlier, as_of_date(), "day") }}
{%- endmacro %}

{#- The date `days` days before the as-of date. Windows are half-open on the left: (as_of - days, as_of]. -#}
{% macro as_of_minus(days) -%}
    cast({{ dbt.dateadd("day", "-1 * (" ~ days ~ ")", as_of_date()) }} as date)
{%- endmacro %}
