{#- Every SQL construct that differs between the engines c360 runs on lives in this file, as adapter.dispatch
    macros with the implementations side by side: default__ is DuckDB (the reference engine: the others reproduce
    its results), spark__ is Apache Spark (dbt-spark), postgres__ is PostgreSQL (dbt-postgres). Where an engine has
    no implementation of its own, the default SQL is valid there and gives the same result.

    Models use these macros and dbt's own cross-database macros (dbt.datediff, dbt.dateadd, dbt.date_trunc, ...);
    tests/dbt/test_portability_lint.py rejects engine-specific functions and syntax everywhere else.

    Rules kept by these macros (each one was a silent difference somewhere):
    - division casts both sides to double (PostgreSQL truncates integer / integer; Spark and PostgreSQL keep
      decimals where DuckDB switches to double) and yields null, not an error or infinity, on a zero divisor;
    - doubles are rounded as DuckDB does (half away from zero on value x 10^digits): Spark rounds the decimal
      text of the double, PostgreSQL has no round(double, n) and rounds round(double) half to even;
    - doubles are written into text as DuckDB writes them (PostgreSQL drops the ".0" of whole numbers);
    - window ORDER BY always says NULLS FIRST or LAST in the models (the engines' defaults differ). -#}


{#- ------------------------------------------------------------------------------------------------- types -#}

{#- The 8-byte floating point type (dbt.type_float() is 4-byte REAL on DuckDB). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'c360')()) }}
{%- endmacro %}

{% macro default__type_double() -%}double{%- endmacro %}

{% macro spark__type_double() -%}double{%- endmacro %}

{% macro postgres__type_double() -%}double precision{%- endmacro %}


{#- ---------------------------------------------------------------------------------------------- arithmetic -#}

{#- numerator / denominator in double precision; null when the denominator is 0 or null. -#}
{% macro safe_divide(numerator, denominator) -%}
    (cast({{ numerator }} as {{ c360.type_double() }}) / nullif(cast({{ denominator }} as {{ c360.type_double() }}), 0))
{%- endmacro %}

{#- Mean of a numeric column in double precision (PostgreSQL's avg(integer) is numeric). -#}
{% macro mean(expression) -%}
    avg(cast({{ expression }} as {{ c360.type_double() }}))
{%- endmacro %}

{#- Rounds a double to `digits` decimals exactly as DuckDB's round() does: round(value x 10^digits) half away from
    zero, in double arithmetic, divided back. Returns a double. For decimals use round_decimal. -#}
{% macro round_double(expression, digits=0) -%}
    {{ return(adapter.dispatch('round_double', 'c360')(expression, digits)) }}
{%- endmacro %}

{% macro default__round_double(expression, digits) -%}
    round(cast({{ expression }} as double), {{ digits }})
{%- endmacro %}

{#- Spark's round(double, n) rounds the shortest decimal text of the double (0.285 -> 0.29, DuckDB 0.28) and
    PostgreSQL's round(double) rounds half to even: both get the explicit formula. y - floor(y) is exact. -#}
{% macro round_half_away_formula(expression, digits) -%}
    {%- set double = c360.type_double() -%}
    {%- set scale = "cast(" ~ (10 ** digits) ~ " as " ~ double ~ ")" -%}
    {%- set y = "abs(cast(" ~ expression ~ " as " ~ double ~ ") * " ~ scale ~ ")" -%}
    (case when {{ y }} - floor({{ y }}) >= 0.5 then floor({{ y }}) + 1 else floor({{ y }}) end
        * sign(cast({{ expression }} as {{ double }})) / {{ scale }})
{%- endmacro %}

{% macro spark__round_double(expression, digits) -%}
    {{ c360.round_half_away_formula(expression, digits) }}
{%- endmacro %}

{% macro postgres__round_double(expression, digits) -%}
    {{ c360.round_half_away_formula(expression, digits) }}
{%- endmacro %}

{#- Rounds a decimal (exact numeric) half away from zero: the same on all three engines. -#}
{% macro round_decimal(expression, digits=0) -%}
    round({{ expression }}, {{ digits }})
{%- endmacro %}

{#- The median (interpolated between the two middle values), as a double. -#}
{% macro median(expression) -%}
    {{ return(adapter.dispatch('median', 'c360')(expression)) }}
{%- endmacro %}

{% macro default__median(expression) -%}
    median({{ expression }})
{%- endmacro %}

{% macro spark__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}

{% macro postgres__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}


{#- ------------------------------------------------------------------------------------------------- text -#}

{#- A double as text the way DuckDB writes it: shortest round-trip digits, whole numbers with ".0".
    Spark (Java's Double.toString) agrees for 0.001 <= |x| < 10^7, the range of the values c360 formats
    (scores 0-100, shares in percent); outside it Spark switches to scientific notation. -#}
{% macro format_double(expression) -%}
    {{ return(adapter.dispatch('format_double', 'c360')(expression)) }}
{%- endmacro %}

{% macro default__format_double(expression) -%}
    cast({{ expression }} as varchar)
{%- endmacro %}

{% macro spark__format_double(expression) -%}
    cast({{ expression }} as string)
{%- endmacro %}

{% macro postgres__format_double(expression) -%}
    (case
        when {{ expression }} = trunc({{ expression }}) and abs({{ expression }}) < 1e15
            then cast(cast({{ expression }} as bigint) as text) || '.0'
        else cast({{ expression }} as text)
    end)
{%- endmacro %}

{#- Every match of `pattern` replaced (DuckDB and PostgreSQL need the 'g' flag; on Spark a 4th argument is a
    start position, and 'g' silently turns the result into null). -#}
{% macro regexp_replace_all(expression, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'c360')(expression, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ pattern }}, {{ replacement }}, 'g')
{%- endmacro %}

{% macro spark__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ pattern }}, {{ replacement }})
{%- endmacro %}

{#- `expression` without the leading `characters` (Spark's ltrim takes its two arguments the other way round). -#}
{% macro ltrim_characters(expression, characters) -%}
    {{ return(adapter.dispatch('ltrim_characters', 'c360')(expression, characters)) }}
{%- endmacro %}

{% macro default__ltrim_characters(expression, characters) -%}
    ltrim({{ expression }}, {{ characters }})
{%- endmacro %}

{% macro spark__ltrim_characters(expression, characters) -%}
    trim(leading {{ characters }} from {{ expression }})
{%- endmacro %}

{#- Lower-case hexadecimal SHA-256 of a text value. -#}
{% macro sha256_hex(expression) -%}
    {{ return(adapter.dispatch('sha256_hex', 'c360')(expression)) }}
{%- endmacro %}

{% macro default__sha256_hex(expression) -%}
    sha256({{ expression }})
{%- endmacro %}

{% macro spark__sha256_hex(expression) -%}
    sha2({{ expression }}, 256)
{%- endmacro %}

{% macro postgres__sha256_hex(expression) -%}
    encode(sha256(convert_to({{ expression }}, 'UTF8')), 'hex')
{%- endmacro %}

{#- The e-mail hash key as a SQL expression that reads it from the session, never the key itself (macros/pii.sql). -#}
{% macro pii_hash_key() -%}
    {{ return(adapter.dispatch('pii_hash_key', 'c360')()) }}
{%- endmacro %}

{% macro default__pii_hash_key() -%}
    getvariable('c360_pii_hash_key')
{%- endmacro %}

{% macro spark__pii_hash_key() -%}
    session.c360_pii_hash_key
{%- endmacro %}

{% macro postgres__pii_hash_key() -%}
    current_setting('c360.pii_hash_key')
{%- endmacro %}


{#- ------------------------------------------------------------------------------------------------ arrays -#}

{#- The values of `expression` over the window partition, as an array sorted ascending (by code point). -#}
{% macro sorted_array_over(expression, partition_by) -%}
    {{ return(adapter.dispatch('sorted_array_over', 'c360')(expression, partition_by)) }}
{%- endmacro %}

{% macro default__sorted_array_over(expression, partition_by) -%}
    list_sort(list({{ expression }}) over (partition by {{ partition_by }}))
{%- endmacro %}

{% macro spark__sorted_array_over(expression, partition_by) -%}
    sort_array(collect_list({{ expression }}) over (partition by {{ partition_by }}))
{%- endmacro %}

{% macro postgres__sorted_array_over(expression, partition_by) -%}
    array_agg({{ expression }}) over (
        partition by {{ partition_by }}
        order by {{ expression }} collate "C" nulls last
        rows between unbounded preceding and unbounded following
    )
{%- endmacro %}

{#- A join clause giving one row per element of `array_expression`, as `alias`.`column`. It must follow the
    relation the array comes from directly (Spark's LATERAL VIEW comes before any other join). -#}
{% macro unnest_join(array_expression, alias, column) -%}
    {{ return(adapter.dispatch('unnest_join', 'c360')(array_expression, alias, column)) }}
{%- endmacro %}

{% macro default__unnest_join(array_expression, alias, column) -%}
    cross join unnest({{ array_expression }}) as {{ alias }}({{ column }})
{%- endmacro %}

{% macro spark__unnest_join(array_expression, alias, column) -%}
    lateral view explode({{ array_expression }}) {{ alias }} as {{ column }}
{%- endmacro %}


{#- ---------------------------------------------------------------------------------------------- query shape -#}

{#- Written between `name as` and `(` of a CTE that is read several times and must not be materialized (DuckDB
    and PostgreSQL copy such a CTE by default; Spark always inlines and rejects the hint). -#}
{% macro cte_not_materialized() -%}
    {{ return(adapter.dispatch('cte_not_materialized', 'c360')()) }}
{%- endmacro %}

{% macro default__cte_not_materialized() -%}not materialized{%- endmacro %}

{% macro spark__cte_not_materialized() -%}{%- endmacro %}


{#- ----------------------------------------------------------------------------------------- incremental configs -#}

{#- Config of a model that is rebuilt per key (staging: the latest version of each key). DuckDB and PostgreSQL
    delete the touched keys and insert them again. Spark merges by key where the table format allows it (Delta,
    Iceberg, Hudi: C360_SPARK_FILE_FORMAT); plain Parquet tables cannot delete rows, so the model is rebuilt in
    full, which gives the same table (the incremental query recomputes touched keys from all their versions). -#}
{% macro keyed_incremental_config(unique_key) -%}
    {{ return(adapter.dispatch('keyed_incremental_config', 'c360')(unique_key)) }}
{%- endmacro %}

{% macro default__keyed_incremental_config(unique_key) -%}
    {{ return({'materialized': 'incremental', 'incremental_strategy': 'delete+insert', 'unique_key': unique_key,
               'on_schema_change': 'append_new_columns'}) }}
{%- endmacro %}

{% macro spark__keyed_incremental_config(unique_key) -%}
    {%- if env_var('C360_SPARK_FILE_FORMAT', 'parquet') in ['delta', 'iceberg', 'hudi'] -%}
        {{ return({'materialized': 'incremental', 'incremental_strategy': 'merge', 'unique_key': unique_key,
                   'on_schema_change': 'append_new_columns'}) }}
    {%- else -%}
        {{ return({'materialized': 'table'}) }}
    {%- endif -%}
{%- endmacro %}

{#- Config of a model that keeps one slice per date and replaces the slice of the run's date (history). DuckDB
    and PostgreSQL delete that date's rows and insert them again; Spark overwrites the date's partition (any
    table format; the partition column is stored last in a Spark table). -#}
{% macro dated_incremental_config(date_column) -%}
    {{ return(adapter.dispatch('dated_incremental_config', 'c360')(date_column)) }}
{%- endmacro %}

{% macro default__dated_incremental_config(date_column) -%}
    {{ return({'materialized': 'incremental', 'incremental_strategy': 'delete+insert', 'unique_key': date_column}) }}
{%- endmacro %}

{% macro spark__dated_incremental_config(date_column) -%}
    {{ return({'materialized': 'incremental', 'incremental_strategy': 'insert_overwrite', 'partition_by': [date_column]}) }}
{%- endmacro %}
