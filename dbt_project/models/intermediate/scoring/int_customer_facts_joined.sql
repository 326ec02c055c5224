-- One row per CRM customer with every fact the scoring marts need: order aggregates (zeros for customers
-- without orders), survey aggregates and the BG/NBD scores.
with

customers as (
    select * from {{ ref('int_customers_profiled') }}
),

orders as (
    select * from {{ ref('int_orders_aggregated_to_customer') }}
),

surveys as (
    select * from {{ ref('int_surveys_aggregated_to_customer') }}
),

bgnbd as (
    select * from {{ ref('int_customers_bgnbd_scored') }}
),

final as (
    select
        customers.customer_id,
        {{ as_of_date() }} as as_of_date,
        orders.first_order_date,
        orders.last_order_date,
        orders.days_since_first_order,
        orders.days_since_last_order,
        coalesce(orders.all_orders, 0) as all_orders,
        coalesce(orders.lifetime_orders, 0) as lifetime_orders,
        coalesce(orders.lifetime_net_revenue, 0) as lifetime_net_revenue,
        orders.lifetime_profit,
        coalesce(orders.lifetime_orders_unknown_cost, 0) as lifetime_orders_unknown_cost,
        coalesce(orders.distinct_categories, 0) as distinct_categories,
        coalesce(orders.lifetime_refunds, 0) as lifetime_refunds,
        coalesce(orders.refunds_365d, 0) as refunds_365d,
        coalesce(orders.orders_365d, 0) as orders_365d,
        coalesce(orders.net_revenue_365d, 0) as net_revenue_365d,
        orders.profit_365d,
        orders.avg_order_value_365d,
        coalesce(orders.orders_current_90d, 0) as orders_current_90d,
        coalesce(orders.orders_previous_90d, 0) as orders_previous_90d,
        coalesce(orders.revenue_current_90d, 0) as revenue_current_90d,
        coalesce(orders.revenue_previous_90d, 0) as revenue_previous_90d,
        orders.median_days_between_orders,
        orders.longest_gap_before_recent_order_days,
        coalesce(surveys.survey_responses, 0) as survey_responses,
        coalesce(surveys.survey_responses_365d, 0) as survey_responses_365d,
        coalesce(surveys.lifetime_complaints, 0) as lifetime_complaints,
        coalesce(surveys.complaints_current_90d, 0) as complaints_current_90d,
        coalesce(surveys.complaints_previous_90d, 0) as complaints_previous_90d,
        surveys.last_complaint_date,
        surveys.latest_nps,
        surveys.latest_nps_date,
        surveys.avg_csat_product,
        surveys.avg_csat_service,
        surveys.avg_csat_price,
        surveys.avg_csat_overall,
        bgnbd.p_alive,
        bgnbd.expected_purchases_90d
    from customers
    left join orders
        on customers.customer_id = orders.customer_id
    left join surveys
        on customers.customer_id = surveys.customer_id
    left join bgnbd
        on customers.customer_id = bgnbd.customer_id
)

select * from final
