-- Every rules version has a complete set of rules (buckets, a rule set for every borrower type,
-- floors for every rule set, overrides, default entry and end conditions, every parameter, listing reasons),
-- and every rule row names a version declared in rule_versions. Returns what is missing.

with

versions as (
    select rules_version from {{ ref('rule_versions') }}
),

rule_rows as (
    select rules_version, 'rule_dpd_buckets' as rule_seed, 'bucket' as part from {{ ref('rule_dpd_buckets') }}
    union all
    select rules_version, 'rule_set_assignment', borrower_type from {{ ref('rule_set_assignment') }}
    union all
    select rules_version, 'rule_classification_floors', rule_set from {{ ref('rule_classification_floors') }}
    union all
    select rules_version, 'rule_classification_overrides', 'override' from {{ ref('rule_classification_overrides') }}
    union all
    select rules_version, 'rule_default_conditions', condition_kind from {{ ref('rule_default_conditions') }}
    union all
    select rules_version, 'rule_parameters', parameter from {{ ref('rule_parameters') }}
    union all
    select rules_version, 'rule_listing_reasons', 'reason' from {{ ref('rule_listing_reasons') }}
),

required_parts as (
    select 'rule_dpd_buckets' as rule_seed, 'bucket' as part
    union all select 'rule_set_assignment', 'individual'
    union all select 'rule_set_assignment', 'enterprise'
    union all select 'rule_classification_floors', 'retail'
    union all select 'rule_classification_floors', 'non_retail'
    union all select 'rule_classification_overrides', 'override'
    union all select 'rule_default_conditions', 'entry'
    union all select 'rule_default_conditions', 'end'
    union all select 'rule_parameters', 'cure_clean_months'
    union all select 'rule_parameters', 'default_hold_class'
    union all select 'rule_parameters', 'submission_deadline_days'
    union all select 'rule_parameters', 'dpd_mismatch_tolerance_days'
    union all select 'rule_parameters', 'restructure_observation_months'
    union all select 'rule_listing_reasons', 'reason'
    union all select 'rule_parameters', 'reaging_fall_tolerance_days'
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
