{#- The model has exactly one row per row of `compare_model` (e.g. one customer_360 row per customer). -#}
{% test row_count_matches(model, compare_model) %}
select model_rows, compare_rows
from (select count(*) as model_rows from {{ model }}) as m
cross join (select count(*) as compare_rows from {{ compare_model }}) as c
where model_rows <> compare_rows
{% endtest %}
