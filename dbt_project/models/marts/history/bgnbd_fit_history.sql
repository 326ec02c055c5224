{{ config(
    full_refresh=false,
    **c360.dated_incremental_config('as_of_date'),
) }}
-- One row per as-of date that was run: the BG/NBD parameters fitted that day, log-likelihood and sample size
-- (written by the fit step between the two dbt selections, source analytics.bgnbd_fit).
with

fit as (
    select * from {{ source('analytics', 'bgnbd_fit') }}
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        r,
        alpha as alpha_days,
        a,
        b,
        log_likelihood,
        n_customers,
        is_converged,
        fit_message
    from fit
)

select * from final
