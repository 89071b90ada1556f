{{ config(materialized='view') }}

with

versions as (
    select * from {{ ref('rule_versions') }}
),

parameters as (
    select * from {{ ref('rule_parameters') }}
),

pivoted_parameters as (
    select
        rules_version,
        max(value) filter (where parameter = 'cure_clean_months') as cure_clean_months,
        max(value) filter (where parameter = 'default_hold_class') as default_hold_class,
        max(value) filter (where parameter = 'restructure_observation_months') as restructure_observation_months,
        max(value) filter (where parameter = 'submission_deadline_days') as submission_deadline_days,
        max(value) filter (where parameter = 'dpd_mismatch_tolerance_days') as dpd_mismatch_tolerance_days,
        max(value) filter (where parameter = 'reaging_fall_tolerance_days') as reaging_fall_tolerance_days
    from parameters
    group by rules_version
),

dated as (
    select
        versions.rules_version,
        versions.effective_from,
        lead(versions.effective_from) over (order by versions.effective_from) as effective_until,
        pivoted_parameters.cure_clean_months,
        pivoted_parameters.default_hold_class,
        pivoted_parameters.restructure_observation_months,
        pivoted_parameters.submission_deadline_days,
        pivoted_parameters.dpd_mismatch_tolerance_days,
        pivoted_parameters.reaging_fall_tolerance_days
    from versions
    left join pivoted_parameters
        on pivoted_parameters.rules_version = versions.rules_version
)

select * from dated
