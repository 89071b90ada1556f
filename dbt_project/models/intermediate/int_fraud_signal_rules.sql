{{ config(materialized='view') }}

{# The fraud-signal parameters (seed rule_fraud_signals) of each rules version, one row per version
   with a column per parameter and the reporting dates the version governs. #}

{% set parameters = [
    'phone_window_1m_days', 'phone_window_3m_days', 'phone_window_6m_days', 'phone_window_12m_days',
    'phone_shared_min_keys', 'identity_mismatch_min_names', 'stacking_window_days', 'stacking_min_lenders',
    'bust_out_surge_window_days', 'bust_out_min_lenders', 'bust_out_min_fpd_lenders',
    'first_payment_default_days', 'co_debt_overdue_lookback_days', 'cluster_window_days',
    'cluster_max_phone_keys', 'cluster_max_depth',
] %}

with

versions as (
    select * from {{ ref('rule_versions') }}
),

signal_rules as (
    select * from {{ ref('rule_fraud_signals') }}
),

pivoted as (
    select
        rules_version,
        {%- for parameter in parameters %}
        max(value) filter (where parameter = '{{ parameter }}') as {{ parameter }}{{ ',' if not loop.last }}
        {%- endfor %}
    from signal_rules
    group by rules_version
),

final as (
    select
        versions.rules_version,
        versions.effective_from,
        lead(versions.effective_from) over (order by versions.effective_from) as effective_until,
        {%- for parameter in parameters %}
        pivoted.{{ parameter }}{{ ',' if not loop.last }}
        {%- endfor %}
    from versions
    inner join pivoted
        on pivoted.rules_version = versions.rules_version
)

select * from final
