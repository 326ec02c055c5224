{#- The closed forms of the predictive models that SQL evaluates per customer from a fit row (the fit step,
    orchestration/fits.py, writes the fit rows; analytics/ has the same formulas with their derivations). -#}

{#- Gamma-Gamma expected average order value (analytics.gamma_gamma.conditional_expected_spend) of a customer with
    `frequency` repeat purchases worth `repeat_revenue` in total, from the fit row `fit` (p, q, gamma,
    population_mean_order_value):

        E[order value] = p x (gamma + repeat_revenue) / (p x frequency + q - 1)

    a blend of the population mean and the customer's own mean spend that trusts the customer's own mean the more
    repeat purchases it rests on. Customers without a repeat purchase, and everyone when the fit was not informative
    (p null), get population_mean_order_value; negative repeat revenue (refunds) counts as zero. -#}
{% macro gamma_gamma_expected_spend(fit, frequency, repeat_revenue) -%}
    (case
        when {{ frequency }} > 0 and {{ fit }}.p is not null and {{ fit }}.p * {{ frequency }} + {{ fit }}.q - 1 > 0
            then {{ c360.safe_divide(
                fit ~ '.p * (' ~ fit ~ '.gamma + greatest(' ~ repeat_revenue ~ ', 0))',
                fit ~ '.p * ' ~ frequency ~ ' + ' ~ fit ~ '.q - 1'
            ) }}
        else {{ fit }}.population_mean_order_value
    end)
{%- endmacro %}

{#- Half-width of the 95% range of chance around a difference of two group means (normal approximation):
    1.96 x sqrt(treatment_variance / treatment_customers + control_variance / control_customers); null when a
    group is empty or a variance unknown. -#}
{% macro uplift_margin_95(treatment_variance, control_variance) -%}
    1.96 * sqrt(
        {{ c360.safe_divide(treatment_variance, 'treatment_customers') }}
        + {{ c360.safe_divide(control_variance, 'control_customers') }}
    )
{%- endmacro %}
