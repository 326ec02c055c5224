{#- The daily backtest's check (model_backtest): this run's total predicted repeat purchases, and the predicted
    average order value of the holdout buyers, are each within var backtest_max_relative_error (a share) of the
    actual ones. A run without holdout purchases has nothing to compare and passes.
    Declared twice in the YAML: as a warning that always reports, and as a blocking (error) test that only checks
    when var backtest_check_blocking is true, so that the switch works per run (--var), whatever severity the
    parsed project recorded. -#}
{% test backtest_error_within_threshold(model, blocking_only=false) %}
{%- set limit = var('backtest_max_relative_error') %}
select frequency_bucket, predicted_purchases, actual_purchases, predicted_avg_spend, actual_avg_spend
from {{ model }}
where as_of_date = {{ as_of_date() }}
    and frequency_bucket = 'total'
    and (
        (actual_purchases > 0 and abs(predicted_purchases - actual_purchases) > {{ limit }} * actual_purchases)
        or (actual_avg_spend > 0 and abs(predicted_avg_spend - actual_avg_spend) > {{ limit }} * actual_avg_spend)
    )
    {%- if blocking_only and not var('backtest_check_blocking') %}
    and 1 = 0
    {%- endif %}
{% endtest %}
