{{ config(tags=['rule_seeds']) }}

-- Every rules version has a complete set of rules (buckets, a rule set for every borrower type,
-- floors for every rule set, overrides, default entry and end conditions, every parameter, listing reasons),
-- and every rule row names a version declared in rule_versions. Returns what is missing.

with

versions as (
    select rules_version from {{ ref('rule_versions') }}
),

rule_rows as (
    -- per seed, the part of a version's rules each row stands for
    {%- set parts = [
        ('rule_dpd_buckets', "'bucket'"),
        ('rule_set_assignment', 'borrower_type'),
        ('rule_classification_floors', 'rule_set'),
        ('rule_classification_overrides', "'override'"),
        ('rule_default_conditions', 'condition_kind'),
        ('rule_parameters', 'parameter'),
        ('rule_listing_reasons', "'reason'"),
        ('rule_fraud_signals', 'parameter'),
    ] %}
    {%- for seed, part in parts %}
    select rules_version, '{{ seed }}' as rule_seed, {{ part }} as part from {{ ref(seed) }}
    {{- '\n    union all' if not loop.last }}
    {%- endfor %}
),

required_parts as (
    select rule_seed, part
    from (values
        ('rule_dpd_buckets', 'bucket'),
        ('rule_set_assignment', 'individual'),
        ('rule_set_assignment', 'enterprise'),
        ('rule_classification_floors', 'retail'),
        ('rule_classification_floors', 'non_retail'),
        ('rule_classification_overrides', 'override'),
        ('rule_default_conditions', 'entry'),
        ('rule_default_conditions', 'end'),
        ('rule_parameters', 'cure_clean_months'),
        ('rule_parameters', 'default_hold_class'),
        ('rule_parameters', 'submission_deadline_days'),
        ('rule_parameters', 'dpd_mismatch_tolerance_days'),
        ('rule_parameters', 'restructure_observation_months'),
        ('rule_parameters', 'reaging_fall_tolerance_days'),
        ('rule_listing_reasons', 'reason'),
        ('rule_fraud_signals', 'phone_window_1m_days'),
        ('rule_fraud_signals', 'phone_window_3m_days'),
        ('rule_fraud_signals', 'phone_window_6m_days'),
        ('rule_fraud_signals', 'phone_window_12m_days'),
        ('rule_fraud_signals', 'phone_shared_min_keys'),
        ('rule_fraud_signals', 'identity_mismatch_min_names'),
        ('rule_fraud_signals', 'stacking_window_days'),
        ('rule_fraud_signals', 'stacking_min_lenders'),
        ('rule_fraud_signals', 'bust_out_surge_window_days'),
        ('rule_fraud_signals', 'bust_out_min_lenders'),
        ('rule_fraud_signals', 'bust_out_min_fpd_lenders'),
        ('rule_fraud_signals', 'first_payment_default_days'),
        ('rule_fraud_signals', 'co_debt_overdue_lookback_days'),
        ('rule_fraud_signals', 'cluster_window_days'),
        ('rule_fraud_signals', 'cluster_max_phone_keys'),
        ('rule_fraud_signals', 'cluster_max_depth')
    ) as required (rule_seed, part)
),

missing_parts as (
    select versions.rules_version, required_parts.rule_seed, required_parts.part, 'missing' as problem
    from versions
    cross join required_parts
    where not exists (
        select 1 from rule_rows
        where rule_rows.rules_version = versions.rules_version
            and rule_rows.rule_seed = required_parts.rule_seed
            and rule_rows.part = required_parts.part
    )
),

unknown_versions as (
    select distinct rule_rows.rules_version, rule_rows.rule_seed, rule_rows.part, 'unknown version' as problem
    from rule_rows
    where not exists (select 1 from versions where versions.rules_version = rule_rows.rules_version)
)

select * from missing_parts
union all
select * from unknown_versions
