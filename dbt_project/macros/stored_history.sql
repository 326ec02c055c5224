{#- History tables and the state store.

    A run builds only its own as-of date's rows of a per-run snapshot (customer_states_daily, bgnbd_fit_history).
    The rows of earlier runs live in the state store beside the publication, and only runs that were PUBLISHED
    are there: c360 promotes a run's rows when it publishes, so nothing a held-back run computed can reach a later
    publication, and losing the build database loses no history. Before dbt runs, c360 exposes the stored rows in
    the build database as the relation state.<name> (absent before the first publication).

    stored_history(name, columns) adds the stored rows of every other date to this run's rows:
        select <columns> from <this run's rows> {{ stored_history('customer_states_daily', [...]) }}
    A column that the stored rows do not have (added to the table after they were stored) reads as null. -#}
{% macro stored_history(name, columns) -%}
    {%- if execute -%}
        {%- set stored = adapter.get_relation(database=target.database, schema='state', identifier=name) -%}
        {%- if stored is not none %}
            {%- set present = adapter.get_columns_in_relation(stored) | map(attribute='name') | map('lower') | list %}
    union all
    select
        {%- for column in columns %}
        {{ column if column | lower in present else 'null as ' ~ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ stored }}
    where as_of_date <> {{ as_of_date() }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
