{#- Per-customer order totals kept from one run to the next (int_customer_order_totals).

    A customer's totals change from one as-of date to the next only when
    - one of their orders was delivered again (a new version in raw.orders, which may also move the order to another
      customer: the customers of every version of the order are recomputed), or
    - one of their orders enters a window or leaves one: an order dated in (previous as-of, as-of] enters the
      lifetime and every current window, and for each window of N days an order dated in
      (previous as-of - N, as-of - N] leaves it.
    An incremental run recomputes only those customers, from all their orders, so its rows are the rows a full build
    would write. Every row records the as-of date of the run that wrote it (built_as_of) and the newest file of the
    orders' staging model it saw (orders_file_id); the table is valid as of its newest built_as_of (a run that
    recomputes nobody leaves older dates, and the next run then covers the days since those, a superset).

    The whole table is recomputed instead when:
    - the SQL of the totals changed (rules_key: a var such as window_days, or c360's SQL), or the orders' staging
      model was rebuilt with other rules (orders_rules_key: a changed exchange rate changes every net revenue);
    - the as-of date moved backwards (a backfill) or more than `max_step_days` forwards;
    - the table lacks these columns, or the engine cannot delete rows (Spark's Parquet tables: always a table). -#}

{#- When the model's table can be brought to the run's as-of date incrementally: {'since': date, 'file_id': int},
    the as-of date the table is valid for and the newest orders file it saw; else none (recompute everything). -#}
{% macro customer_state_since(rules_key, orders_relation, max_step_days) -%}
    {%- if not (execute and is_incremental()) -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- if not c360.built_with_rules(rules_key) -%}  {#- every row made with these rules (macros/latest_versions.sql) -#}
        {{- return(none) -}}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- for needed in ['built_as_of', 'orders_file_id', 'orders_rules_key'] -%}
        {%- if needed not in columns -%}
            {{- return(none) -}}
        {%- endif -%}
    {%- endfor -%}
    {%- set mine = run_query(
        "select max(built_as_of), max(orders_file_id), min(orders_rules_key), max(orders_rules_key) from " ~ this
    ).rows[0] -%}
    {%- set orders = run_query("select min(rules_key), max(rules_key) from " ~ orders_relation).rows[0] -%}
    {%- if mine[0] is none or mine[1] is none -%}  {#- an empty table -#}
        {{- return(none) -}}
    {%- endif -%}
    {%- if mine[2] != mine[3] or orders[0] != orders[1] or mine[2] != orders[0] -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set since = modules.datetime.date.fromisoformat((mine[0] | string)[:10]) -%}
    {%- set step = (modules.datetime.date.fromisoformat(as_of_date_text()) - since).days -%}
    {%- if step < 0 or step > max_step_days -%}
        {{- return(none) -}}
    {%- endif -%}
    {{- return({'since': since, 'file_id': mine[1] | int}) -}}
{%- endmacro %}

{#- The customers whose totals may differ between `since` and the run's as-of date (see the top of this file):
    one column, customer_id, possibly repeated. `windows` are the window lengths in days. -#}
{% macro customers_touched_since(state, orders_relation, raw_relation, windows) -%}
    {%- set as_of = modules.datetime.date.fromisoformat(as_of_date_text()) -%}
    {%- set ranges = [(state.since, as_of)] -%}
    {%- for days in windows | unique -%}
        {%- do ranges.append((state.since - modules.datetime.timedelta(days=days | int),
                              as_of - modules.datetime.timedelta(days=days | int))) -%}
    {%- endfor %}
    select customer_id
    from {{ orders_relation }}
    where
        {%- for low, high in ranges %}
        {% if not loop.first %}or {% endif %}(order_date > cast('{{ low }}' as date) and order_date <= cast('{{ high }}' as date))
        {%- endfor %}
    union
    select customer_id
    from {{ raw_relation }}
    where order_id in (select order_id from {{ raw_relation }} where _file_id > {{ state.file_id }})
{%- endmacro %}
