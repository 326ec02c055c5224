{{ config(meta={'publish': false, 'c360_state': true}) }}
-- This run's action assignments: one row per customer with an action that the control group can be held out of
-- (every action but service recovery, after marketing consent), with the action and the group: treatment (the
-- action is taken) or control (held out). The rows of earlier published runs are in the state store
-- (macros/stored_history.sql); c360 adds these rows to it when the run is published. Feeds kpi_action_uplift.
with

actions as (
    select * from {{ ref('customer_actions') }}
),

final as (
    select
        customer_id,
        as_of_date,
        control_period_start,
        proposed_action as action,
        is_held_out as is_control_group
    from actions
    where is_held_out or next_action not in ('service_recovery', 'no_action')
)

select * from final
