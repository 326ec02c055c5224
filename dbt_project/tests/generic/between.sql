{#- Values outside [min_value, max_value] fail; nulls pass (pair with not_null where nulls are wrong). -#}
{% test between(model, column_name, min_value, max_value) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
{% endtest %}
