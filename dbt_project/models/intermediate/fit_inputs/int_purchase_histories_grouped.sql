-- One row per distinct repeat-purchase history (frequency, recency, age in days) of the customers with a completed
-- order, with the number of customers sharing it. The BG/NBD fit (orchestration/fits.py, between two dbt
-- selections) reads this table: the likelihood depends on a customer only through the triple, so fitting the
-- triples with their counts as weights gives the same parameters on far fewer rows.
with

orders as (
    select * from {{ ref('int_orders_aggregated_to_customer') }}
    where lifetime_orders > 0
),

final as (
    select
        bgnbd_frequency,
        bgnbd_recency_days,
        bgnbd_age_days,
        count(*) as customers
    from orders
    group by bgnbd_frequency, bgnbd_recency_days, bgnbd_age_days
)

select * from final
