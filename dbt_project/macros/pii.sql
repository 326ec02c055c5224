{#- Personal data helpers. Published tables carry only the outputs of these macros, never raw e-mail or phone.
    These macros are the one implementation of the identity rules; their cases are dbt unit tests
    (models/staging/_staging__unit_tests.yml, models/intermediate/_intermediate__unit_tests.yml) run on every
    engine. -#}

{#- Lower-cased, trimmed e-mail; empty becomes null. -#}
{% macro normalize_email(column) -%}
    nullif(lower(trim({{ column }})), '')
{%- endmacro %}

{#- Stable keyed hash (SHA-256 of key || ':' || value, lower-case hex) for joining without exposing the value.
    The key (C360_PII_HASH_KEY) is handed to the engine as a session value when c360 connects and is never
    rendered into SQL, so it cannot land in dbt's target/ folder or logs: DuckDB gets a variable from the
    dbt-duckdb plugin (warehouse/dbt_duckdb_plugin.py), Spark a session variable (warehouse/spark_warehouse.py),
    PostgreSQL reads the setting c360.pii_hash_key (set for the dbt role by the DBA, docs/engines.md). -#}
{% macro pii_hash(column) -%}
    case when {{ column }} is not null
        then {{ c360.sha256_hex(c360.pii_hash_key() ~ " || ':' || " ~ column) }} end
{%- endmacro %}

{#- j***@example.com -#}
{% macro mask_email(normalized_email) -%}
    case when {{ normalized_email }} like '%_@_%'
        then left({{ normalized_email }}, 1) || '***@' || split_part({{ normalized_email }}, '@', 2) end
{%- endmacro %}

{#- The digits of a phone number, without an extension at the end ("ext. 12", "x12", "#12") and without a trunk
    "(0)" written after the country code. A model computes it once, as a column, and hands that column to
    normalize_phone (Spark plans every copy of an expression: repeated inline, it made a unit test take minutes). -#}
{% macro phone_digits(phone_column) -%}
    {{ c360.regexp_replace_all(
        c360.regexp_replace_all("lower(" ~ phone_column ~ ")", "'(ext[.]?|x|#) *[0-9]+ *$|[(]0[)]'", "''"),
        "'[^0-9]'", "''") }}
{%- endmacro %}

{#- Phone to E.164 from the phone, its digits (phone_digits) and the country: a leading + (or 00) is kept as
    international; otherwise the country's calling code from var country_calling_codes is prefixed to the national
    number without its trunk 0 (Italian numbers keep their leading 0; a North American number may start with its
    trunk 1). Null when it cannot be normalized: no digits, or a national number from a country without a calling
    code. -#}
{% macro normalize_phone(phone_column, country_column, digits) -%}
    {%- set keeps_leading_zero = ['IT'] -%}
    {%- set codes = var("country_calling_codes") -%}
    {%- set country = "upper(" ~ country_column ~ ")" -%}
    {%- set north_american = codes | dictsort | selectattr(1, 'equalto', '1') | map(attribute=0) | list -%}
    case
        when {{ phone_column }} is null or {{ digits }} = '' then null
        when trim({{ phone_column }}) like '+%' then '+' || {{ digits }}
        when {{ digits }} like '00%' then '+' || substr({{ digits }}, 3)
        when {{ country }} in ('{{ north_american | join("', '") }}') then '+1' || case
            when length({{ digits }}) = 11 and {{ digits }} like '1%' then substr({{ digits }}, 2)
            else {{ c360.ltrim_characters(digits, "'0'") }}
        end
        when {{ country }} in ('{{ keeps_leading_zero | join("', '") }}') then '+' || case {{ country }}
            {%- for code_country in keeps_leading_zero %}
            when '{{ code_country }}' then '{{ codes[code_country] }}'
            {%- endfor %}
        end || {{ digits }}
        else '+' || case {{ country }}
            {%- for code_country, code in codes.items() if code != '1' and code_country not in keeps_leading_zero %}
            when '{{ code_country }}' then '{{ code }}'
            {%- endfor %}
        end || {{ c360.ltrim_characters(digits, "'0'") }}
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
