{#- The latest delivered version of each key of an append-only raw table (the sources' rule: a later record with the same key
    and a newer updated_at replaces the older one; ties go to the most recently loaded file, then the last line).

    In an incremental run only the keys touched by files loaded since the last build are recomputed, from all their
    raw versions, so the result is the same as a full rebuild (the model must expose _file_id as source_file_id). -#}
{% macro latest_versions(relation, key) -%}
    {%- if is_incremental() %}
    select * from {{ relation }}
    where {{ key }} in (
        select {{ key }} from {{ relation }}
        where _file_id > (select coalesce(max(source_file_id), -1) from {{ this }})
    )
    {%- else %}
    select * from {{ relation }}
    {%- endif %}
{%- endmacro %}

{#- The rows of `candidates` with one row per `key`: the first row of each key by `order_by` (which must say NULLS
    FIRST or LAST for every term). The result has the columns of `candidates` plus `version_rank` (always 1).
    One window over every row: on DuckDB 1.5 this is about a quarter faster than ranking only the repeated keys
    (a group-by of the keys and a semi- and an anti-join over the candidates, measured on 4M orders). -#}
{% macro deduplicated(candidates, key, order_by) -%}
    select *
    from (
        select
            {{ candidates }}.*,
            row_number() over (partition by {{ key }} order by {{ order_by }}) as version_rank
        from {{ candidates }}
    ) as ranked
    where version_rank = 1
{%- endmacro %}
