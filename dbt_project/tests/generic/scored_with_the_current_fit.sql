{#- The model was scored with this run's fit: `fit` (a table of the fit step) has exactly one row, for the run's
    as-of date and, for each column of `settings`, the run's value of the var it names (by default: horizon_days is
    var bgnbd_horizon_days). A stale fit from an earlier run, or one made with other settings, would otherwise score
    this run's customers silently; the failure stops everything built on the model. (A test of the model rather than
    of the source, so that Dagster attaches it to the model's asset.) -#}
{% test scored_with_the_current_fit(model, fit, settings=none) %}
{%- set settings = {'horizon_days': 'bgnbd_horizon_days'} if settings is none else settings %}
select fit_rows, current_rows
from (
    select
        count(*) as fit_rows,
        count(case
            when as_of_date = {{ as_of_date() }}
            {%- for column, var_name in settings.items() %}
                and {{ column }} = {{ var(var_name) }}
            {%- endfor %}
                then 1
        end) as current_rows
    from {{ fit }}
) as counted
where fit_rows <> 1 or current_rows <> 1
{% endtest %}
