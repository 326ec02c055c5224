{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='as_of_date',
    full_refresh=false,
) }}
-- One row per as-of date that was run: the BG/NBD parameters fitted that day, log-likelihood and sample size.
with

scored as (
    select * from {{ ref('int_customers_bgnbd_scored') }}
),

final as (
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
)

select * from final
