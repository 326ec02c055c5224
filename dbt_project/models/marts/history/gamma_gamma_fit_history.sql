{{ config(meta={'c360_state': true, 'c360_history': true}) }}
-- One row per published as-of date and this run's: the Gamma-Gamma spend model fitted that day on the repeat
-- buyers (source analytics.gamma_gamma_fit, written by the fit step), next to bgnbd_fit_history: parameters, the
-- expected order value of a customer without repeat purchases, log-likelihood over the fitted customers, who was
-- fitted and excluded with the reasons, and the independence check (correlation of frequency and mean spend).
-- Earlier rows come from the state store (macros/stored_history.sql).
{%- set columns = [
    'as_of_date', 'p', 'q', 'gamma', 'population_mean_order_value', 'log_likelihood', 'n_customers', 'n_fitted',
    'n_excluded', 'exclusion_reasons', 'spend_frequency_correlation', 'is_informative', 'is_converged', 'fit_message'
] %}
with

fit as (
    select * from {{ source('analytics', 'gamma_gamma_fit') }}
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        {{ columns[1:] | join(', ') }}
    from fit
    {{ stored_history('gamma_gamma_fit_history', columns) }}
)

select * from final
