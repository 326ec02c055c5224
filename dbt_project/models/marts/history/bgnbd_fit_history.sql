{{ config(meta={'c360_state': true, 'c360_history': true}) }}
-- One row per published as-of date and this run's: the BG/NBD parameters fitted that day, log-likelihood and
-- sample size. Earlier rows come from the state store (macros/stored_history.sql).
with

scored as (
    select * from {{ ref('int_customers_bgnbd_scored') }}
),

this_run as (
    select
        {{ as_of_date() }} as as_of_date,
        max(bgnbd_r) as r,
        max(bgnbd_alpha) as alpha_days,
        max(bgnbd_a) as a,
        max(bgnbd_b) as b,
        max(bgnbd_log_likelihood) as log_likelihood,
        max(bgnbd_n_customers) as n_customers,
        bool_and(bgnbd_converged) as is_converged,
        max(bgnbd_message) as fit_message
    from scored
),

final as (
    select as_of_date, r, alpha_days, a, b, log_likelihood, n_customers, is_converged, fit_message
    from this_run
    {{ stored_history('bgnbd_fit_history', [
        'as_of_date', 'r', 'alpha_days', 'a', 'b', 'log_likelihood', 'n_customers', 'is_converged', 'fit_message'
    ]) }}
)

select * from final
