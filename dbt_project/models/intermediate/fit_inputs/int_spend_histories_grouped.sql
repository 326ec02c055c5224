-- One row per distinct (frequency, repeat_net_revenue) of the repeat buyers (frequency > 0), with the number of
-- customers sharing it: the input of the Gamma-Gamma spend model in the fit step (orchestration/fits.py). The
-- likelihood depends on a customer only through the pair (mean spend = repeat_net_revenue / frequency), so the
-- fit on the pairs with their counts as weights is the fit on every repeat buyer. Revenue is exact (decimal), so
-- equal spend histories group together.
with

histories as (
    select * from {{ ref('int_purchase_histories_summarized') }}
    where frequency > 0
),

final as (
    select
        frequency,
        repeat_net_revenue,
        count(*) as customers
    from histories
    group by frequency, repeat_net_revenue
)

select * from final
