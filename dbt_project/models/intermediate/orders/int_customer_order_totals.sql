{{ config(**c360.keyed_incremental_config('customer_id')) }}
-- One row per customer with at least one order on or before the as-of date: lifetime, trailing-365-day and
-- 90-day window totals and the purchase rhythm (everything of int_orders_aggregated_to_customer that is not a
-- count of days up to the as-of date), and the spend and backtest totals of int_purchase_histories_summarized,
-- in one pass over the orders.
-- Current window = (as_of - window_days, as_of]; previous window = (as_of - 2 x window_days, as_of - window_days];
-- calibration period = up to as_of - backtest_holdout_days, holdout = after it.
-- Purchases are counted as BG/NBD counts them: distinct days with a completed order; a day's spend is the net
-- revenue of its completed orders (refunded and cancelled orders count zero).
-- Incremental (macros/customer_state.sql): a daily run recomputes only the customers with a re-delivered order or
-- an order entering or leaving a window, from all their orders; a customer left without any order on or before the
-- as-of date keeps a row with all_orders null (read as no row by int_orders_aggregated_to_customer).
{%- set windows = [var('trailing_days'), var('window_days'), 2 * var('window_days'), var('backtest_holdout_days')] %}
{%- set calibration_end = as_of_minus(windows[3]) %}
{%- set orders_relation = ref('stg_shop__orders') %}
{#- Everything that makes a customer's totals from their orders; its hash, with the as-of date left out, is the
    rules_key stored with every row. -#}
{%- set transform %}
orders as (
    select
        *,
        -- days since the customer's previous completed order, on completed orders (0 for a second order on the
        -- same day): the gaps between distinct purchase days are the gaps above 0, and a purchase day is a
        -- completed order with no gap (the first) or a gap above 0. One window, no separate pass over distinct days.
        case when is_completed then {{ dbt.datediff(
            "lag(order_date) over (partition by customer_id, is_completed order by order_date nulls last)",
            "order_date",
            "day"
        ) }} end as gap_days,
        -- the first purchase day (same window: no second sort)
        case when is_completed then
            first_value(order_date) over (partition by customer_id, is_completed order by order_date nulls last)
        end as first_purchase_date
    from order_rows
    where order_date <= {{ as_of_date() }}
),

aggregated as (
    select
        customer_id,
        count(*) as all_orders,
        min(case when is_completed then order_date end) as first_order_date,
        max(case when is_completed then order_date end) as last_order_date,
        max(case when is_completed and order_date <= {{ as_of_minus(windows[1]) }} then order_date end)
            as last_order_date_at_window_start,
        count(case when is_completed then 1 end) as lifetime_orders,
        coalesce(sum(net_revenue), 0) as lifetime_net_revenue,
        sum(profit) as lifetime_profit,
        count(case when is_completed and cost_amount is null then 1 end) as lifetime_orders_unknown_cost,
        count(distinct case when is_completed then product_category end) as distinct_categories,
        count(case when is_refunded then 1 end) as lifetime_refunds,
        count(case when is_completed and order_date > {{ as_of_minus(windows[0]) }} then 1 end)
            as orders_365d,
        coalesce(sum(case when order_date > {{ as_of_minus(windows[0]) }} then net_revenue end), 0)
            as net_revenue_365d,
        sum(case when order_date > {{ as_of_minus(windows[0]) }} then profit end) as profit_365d,
        count(case when is_refunded and order_date > {{ as_of_minus(windows[0]) }} then 1 end) as refunds_365d,
        count(case when is_completed and order_date > {{ as_of_minus(windows[1]) }} then 1 end)
            as orders_current_90d,
        count(case
            when is_completed
                and order_date > {{ as_of_minus(windows[2]) }}
                and order_date <= {{ as_of_minus(windows[1]) }}
                then 1
        end) as orders_previous_90d,
        coalesce(sum(case when order_date > {{ as_of_minus(windows[1]) }} then net_revenue end), 0)
            as revenue_current_90d,
        coalesce(sum(case
            when order_date > {{ as_of_minus(windows[2]) }}
                and order_date <= {{ as_of_minus(windows[1]) }}
                then net_revenue
        end), 0) as revenue_previous_90d,
        count(case when is_completed and (gap_days is null or gap_days > 0) then 1 end) as purchase_days,
        {{ c360.median('case when gap_days > 0 then gap_days end') }} as median_days_between_orders,
        max(case when order_date > {{ as_of_minus(windows[1]) }} and gap_days > 0 then gap_days end)
            as longest_gap_before_recent_order_days,
        -- spend: repeat purchases are the purchase days after the first; known cost = orders whose cost is known
        coalesce(sum(case when order_date > first_purchase_date then net_revenue end), 0) as repeat_net_revenue,
        sum(case when is_completed and profit is not null then net_revenue end) as known_cost_net_revenue,
        -- backtest: the summary at the calibration end, and what came after it
        count(case when is_completed and (gap_days is null or gap_days > 0) and order_date <= {{ calibration_end }}
            then 1 end) as calibration_purchase_days,
        max(case when is_completed and order_date <= {{ calibration_end }} then order_date end)
            as calibration_last_order_date,
        coalesce(sum(case
            when order_date <= {{ calibration_end }} and order_date > first_purchase_date then net_revenue
        end), 0) as calibration_repeat_net_revenue,
        count(case when is_completed and (gap_days is null or gap_days > 0) and order_date > {{ calibration_end }}
            then 1 end) as holdout_purchase_days,
        coalesce(sum(case when is_completed and order_date > {{ calibration_end }} then net_revenue end), 0)
            as holdout_net_revenue
    from orders
    group by customer_id
)
{%- endset %}
{%- set rules = c360.rules_key(transform | replace(as_of_date_text(), 'as-of date')) %}
{%- set state = c360.customer_state_since(rules, orders_relation, 7) %}
{%- set columns = [
    'all_orders', 'first_order_date', 'last_order_date', 'last_order_date_at_window_start', 'lifetime_orders',
    'lifetime_net_revenue', 'lifetime_profit', 'lifetime_orders_unknown_cost', 'distinct_categories',
    'lifetime_refunds', 'orders_365d', 'net_revenue_365d', 'profit_365d', 'refunds_365d', 'orders_current_90d',
    'orders_previous_90d', 'revenue_current_90d', 'revenue_previous_90d', 'purchase_days',
    'median_days_between_orders', 'longest_gap_before_recent_order_days', 'repeat_net_revenue',
    'known_cost_net_revenue', 'calibration_purchase_days', 'calibration_last_order_date',
    'calibration_repeat_net_revenue', 'holdout_purchase_days', 'holdout_net_revenue'] %}
with

{% if state -%}
-- incremental: the customers whose totals may have changed since {{ state.since }}, with all their orders
touched as (
    {{ c360.customers_touched_since(state, orders_relation, source('shop', 'orders'), windows) }}
),

{% endif -%}
order_rows as {{ c360.cte_not_materialized() }} (
    select * from {{ orders_relation }}
    {%- if state %}
    where customer_id in (select customer_id from touched)
    {%- endif %}
),

{{ transform }},

-- what the next run compares with (macros/customer_state.sql)
orders_seen as (
    select
        max(source_file_id) as orders_file_id,
        max(rules_key) as orders_rules_key
    from {{ orders_relation }}
),

{% if is_incremental() -%}
-- every customer recomputed gets a row (all_orders null when no order is left), replacing the one in the table
customers as (
    {% if state -%}
    select customer_id from touched
    {%- else -%}
    select customer_id from {{ this }}
    union
    select customer_id from aggregated
    {%- endif %}
),

{% endif -%}
final as (
    select
        {{ 'customers' if is_incremental() else 'aggregated' }}.customer_id,
        {%- for column in columns %}
        aggregated.{{ column }},
        {%- endfor %}
        {{ as_of_date() }} as built_as_of,
        orders_seen.orders_file_id,
        orders_seen.orders_rules_key
    from
        {% if is_incremental() -%}
        customers left join aggregated on customers.customer_id = aggregated.customer_id
        {%- else -%}
        aggregated
        {%- endif %}
    cross join orders_seen
)

select
    *,
    '{{ rules }}' as rules_key
from final
