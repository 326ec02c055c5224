{#- Personal data helpers. Published tables carry only the outputs of these macros, never raw e-mail or phone. -#}

{#- Lower-cased, trimmed e-mail; empty becomes null. -#}
{% macro normalize_email(column) -%}
    nullif(lower(trim({{ column }})), '')
{%- endmacro %}

{#- Stable keyed hash (SHA-256 of key || ':' || value) for joining without exposing the value.
    The key (C360_PII_HASH_KEY) is handed to the database when dbt connects, as a session variable, and never
    rendered into SQL: it cannot land in dbt's target/ folder or logs (warehouse/dbt_duckdb_plugin.py). -#}
{% macro pii_hash(column) -%}
    case when {{ column }} is not null
        then sha256(getvariable('c360_pii_hash_key') || ':' || {{ column }}) end
{%- endmacro %}

{#- j***@example.com -#}
{% macro mask_email(normalized_email) -%}
    case when {{ normalized_email }} like '%_@_%'
        then left({{ normalized_email }}, 1) || '***@' || split_part({{ normalized_email }}, '@', 2) end
{%- endmacro %}

{#- Phone to E.164: keep a leading + (or 00) as international, else strip a national trunk 0 and prefix the
    country's calling code from var country_calling_codes; null when it cannot be normalized. -#}
{% macro normalize_phone(phone_column, country_column) -%}
    {%- set digits = "regexp_replace(" ~ phone_column ~ ", '[^0-9]', '', 'g')" -%}
    case
        when {{ phone_column }} is null or {{ digits }} = '' then null
        when trim({{ phone_column }}) like '+%' then '+' || {{ digits }}
        when {{ digits }} like '00%' then '+' || substr({{ digits }}, 3)
        else case upper({{ country_column }})
            {%- for country, code in var("country_calling_codes").items() %}
            when '{{ country }}' then '+{{ code }}' || (
                case when '{{ code }}' = '1' and length({{ digits }}) = 11 and {{ digits }} like '1%'
                    then substr({{ digits }}, 2) else ltrim({{ digits }}, '0') end)
            {%- endfor %}
        end
    end
{%- endmacro %}

{#- +86 *** **** 8000: calling code (from the country) and the last four digits only. -#}
{% macro mask_phone(e164_column, country_column) -%}
    case when {{ e164_column }} is not null then
        coalesce('+' || case upper({{ country_column }})
            {%- for country, code in var("country_calling_codes").items() %}
            when '{{ country }}' then '{{ code }}'
            {%- endfor %}
        end || ' ', '') || '*** **** ' || right({{ e164_column }}, 4)
    end
{%- endmacro %}
