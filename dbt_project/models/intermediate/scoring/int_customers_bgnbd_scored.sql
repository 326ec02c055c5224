-- One row per customer with a completed order: BG/NBD (Fader, Hardie & Lee 2005) probability of being alive at
-- the as-of date and expected purchases over the horizon (var bgnbd_horizon_days), from the parameters fitted on
-- int_purchase_histories_grouped by the step between the two dbt selections (source analytics.bgnbd_fit).
-- P(alive) = 1 for x = 0, else 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x)), evaluated in
-- log space as 1 / (1 + exp(log_odds)) so that long histories do not overflow (as analytics.bgnbd.p_alive).
-- Expected purchases need a hypergeometric function: they are computed per triple by the fit step
-- (analytics.bgnbd.expected_purchases) and joined by (frequency, recency, age). Both rounded to 6 decimals.
with

customers as (
    select
        customer_id,
        bgnbd_frequency,
        bgnbd_recency_days,
        bgnbd_age_days
    from {{ ref('int_orders_aggregated_to_customer') }}
    where lifetime_orders > 0
),

fit as (
    select
        r,
        alpha,
        a,
        b
    from {{ source('analytics', 'bgnbd_fit') }}
),

triple_scores as (
    select * from {{ source('analytics', 'bgnbd_triple_scores') }}
),

log_odds as (
    select
        customers.*,
        case when customers.bgnbd_frequency > 0 then
            ln(fit.a) - ln(fit.b + customers.bgnbd_frequency - 1)
            + (fit.r + customers.bgnbd_frequency)
            * (ln(fit.alpha + customers.bgnbd_age_days) - ln(fit.alpha + customers.bgnbd_recency_days))
        end as log_odds_dead
    from customers
    cross join fit
),

final as (
    select
        log_odds.customer_id,
        {{ c360.round_double(
            "case when log_odds.log_odds_dead is null then 1.0 when log_odds.log_odds_dead > 700 then 0.0 else "
            ~ c360.safe_divide('1.0', '1.0 + exp(log_odds.log_odds_dead)') ~ " end",
            6
        ) }} as p_alive,
        {{ c360.round_double('triple_scores.expected_purchases', 6) }} as expected_purchases_90d
    from log_odds
    left join triple_scores
        on log_odds.bgnbd_frequency = triple_scores.frequency
        and log_odds.bgnbd_recency_days = triple_scores.recency_days
        and log_odds.bgnbd_age_days = triple_scores.age_days
)

select * from final
