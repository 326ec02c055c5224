{{ config(meta={'c360_state': true, 'c360_history': true}) }}
-- One row per published as-of date and this run's: the BG/NBD parameters fitted that day (written by the fit step
-- between the two dbt selections, source analytics.bgnbd_fit), log-likelihood over the fitted customers, and who
-- was fitted: customers given, fitted and excluded with the reasons. Earlier rows come from the state store
-- (macros/stored_history.sql).
{%- set columns = [
    'as_of_date', 'r', 'alpha_days', 'a', 'b', 'log_likelihood', 'n_customers', 'n_fitted', 'n_excluded',
    'exclusion_reasons', 'is_converged', 'fit_message'
] %}
with

fit as (
    select * from {{ source('analytics', 'bgnbd_fit') }}
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        r,
        alpha as alpha_days,
        {{ columns[3:] | join(', ') }}
    from fit
    {{ stored_history('bgnbd_fit_history', columns) }}
)

select * from final
