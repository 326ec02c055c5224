{{ config(**c360.keyed_incremental_config('order_id')) }}
-- One row per order: the latest delivered version of each order_id (newest updated_at, then the most recently
-- loaded file, then the last line), normalized and converted to the reporting currency.
-- Incremental: a daily run recomputes only the orders touched by files loaded since the last build (from all their
-- raw versions), so re-deliveries and late updates are merged without re-deduplicating all history; when the rules
-- changed (rules_key: a --var such as fx_rates_to_reporting, or this SQL), every order is recomputed.
{#- Everything after the choice of the latest versions (the CTE candidates); its hash is stored as rules_key. -#}
{%- set transform %}
latest_version as (
    {{ deduplicated('candidates', 'order_id', 'coalesce(updated_at, order_ts) desc nulls last, _file_id desc nulls last, _source_line desc nulls last') }}
),

normalized as (
    select
        order_id,
        customer_id,
        order_ts as ordered_at,
        cast(order_ts as date) as order_date,
        lower(trim(status)) as order_status,
        upper(trim(currency)) as currency,
        gross_amount,
        coalesce(discount_amount, 0) as discount_amount,
        cost_amount,
        case
            when lower(trim(channel)) in ('online', 'store', 'sales_rep', 'partner') then lower(trim(channel))
            else 'other'
        end as channel,
        nullif(lower(trim(product_category)), '') as product_category,
        coalesce(updated_at, order_ts) as updated_at,
        _source_file as source_file,
        _file_id as source_file_id,
        _source_line as source_line
    from latest_version
),

final as (
    select
        *,
        order_status = 'completed' as is_completed,
        order_status = 'refunded' as is_refunded,
        {{ to_reporting_currency('gross_amount', 'currency') }} as gross_amount_reporting,
        case
            when order_status = 'completed'
                then {{ to_reporting_currency('gross_amount - discount_amount', 'currency') }}
            else cast(0 as {{ reporting_amount_type() }})
        end as net_revenue,
        case
            when order_status = 'completed' and cost_amount is not null
                then {{ to_reporting_currency('gross_amount - discount_amount - cost_amount', 'currency') }}
        end as profit
    from normalized
)
{%- endset %}

{{ staged_latest_versions(source('shop', 'orders'), 'order_id', transform) }}
