{# The fraud-signal rules (rule_fraud_signals) in force on the latest signal date, one row per
   parameter, published with each feed version (shared.signal_rule_rows). The look-up reads its
   inquiry-velocity windows and the thresholds it names in its labels there, so no window or
   threshold is copied into Python. Before any signal date, the latest rules version in force. #}

with

rules as (
    select * from {{ ref('int_fraud_signal_rules') }}
),

parameters as (
    select * from {{ ref('rule_fraud_signals') }}
),

signal_dates as (
    select max(signal_date) as signal_date
    from {{ ref('int_fraud_signal_dates') }}
),

in_force as (
    select rules.rules_version
    from rules
    cross join signal_dates
    where rules.effective_from <= coalesce(signal_dates.signal_date, current_date)
    order by rules.effective_from desc
    limit 1
),

final as (
    select
        parameters.parameter,
        parameters.rules_version,
        parameters.value,
        parameters.unit
    from parameters
    inner join in_force
        on in_force.rules_version = parameters.rules_version
)

select * from final
