{#- One row per value of an enumeration of var c360_enums (declared once in dbt_project.yml), with its position in
    the list (display order, from 1) when `order_column` is given. The KPI models that report every category, even
    an empty one, start from these rows. The values are checked to be plain lower-case names (c360/dbt_vars.py). -#}
{% macro enum_rows(enum_name, value_column, order_column=none) -%}
    {%- for value in var('c360_enums')[enum_name] %}
    select
        '{{ value }}' as {{ value_column }}{% if order_column %},
        {{ loop.index }} as {{ order_column }}{% endif %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
