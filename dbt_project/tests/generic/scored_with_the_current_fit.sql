{#- The model was scored with this run's BG/NBD fit: `fit` (the fit step's table) has exactly one row, for the
    run's as-of date and horizon. A stale fit from an earlier run would otherwise score this run's customers
    silently; the failure stops everything built on the model. (A test of the model rather than of the source, so
    that Dagster attaches it to the model's asset.) -#}
{% test scored_with_the_current_fit(model, fit) %}
select fit_rows, current_rows
from (
    select
        count(*) as fit_rows,
        count(case
            when as_of_date = {{ as_of_date() }} and horizon_days = {{ var('bgnbd_horizon_days') }} then 1
        end) as current_rows
    from {{ fit }}
) as counted
where fit_rows <> 1 or current_rows <> 1
{% endtest %}
