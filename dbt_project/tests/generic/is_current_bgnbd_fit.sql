{#- The fit step's table belongs to this run: exactly one row, for the run's as-of date and horizon (a stale fit
    from an earlier run would otherwise score this run's customers silently). -#}
{% test is_current_bgnbd_fit(model) %}
select fit_rows, current_rows
from (
    select
        count(*) as fit_rows,
        count(case
            when as_of_date = {{ as_of_date() }} and horizon_days = {{ var('bgnbd_horizon_days') }} then 1
        end) as current_rows
    from {{ model }}
) as counted
where fit_rows <> 1 or current_rows <> 1
{% endtest %}
