{{ config(materialized='view') }}

{# One row per status row of a file in force, with everything the exchange standard derives from
    the report alone: DPD, bucket, the rule set's floor class, overrides, default entry and end
    conditions, whether the report is "clean" for a cure, and its repayment-profile code. What
    depends on the loan's history (default episodes, cures, the class held until cure) is added
    by int_loan_status_history. Set-based joins against the rules (no per-row subqueries), so a
    filter on status_submission_id reaches raw.loan_status's submission index. #}

with

status as (
    select * from {{ ref('stg_raw__loan_status') }}
),

submissions as (
    select * from {{ ref('int_submissions_effective') }}
),

loans as (
    select * from {{ ref('int_loans_latest') }}
),

rule_versions as (
    select * from {{ ref('int_rule_versions') }}
),

rule_sets as (
    select * from {{ ref('rule_set_assignment') }}
),

buckets as (
    select * from {{ ref('rule_dpd_buckets') }}
),

floors as (
    select * from {{ ref('rule_classification_floors') }}
),

overrides as (
    select * from {{ ref('rule_classification_overrides') }}
),

default_conditions as (
    select * from {{ ref('rule_default_conditions') }}
),

conditions as (
    -- the rules that compare a status field with a value (operator equals)
    select
        rules_version,
        condition_field,
        condition_value,
        override_code,
        min_class,
        cast(null as text) as entry_code,
        cast(null as text) as end_status
    from overrides
    where condition_operator = 'equals'

    union all

    select
        rules_version,
        condition_field,
        condition_value,
        cast(null as text),
        cast(null as integer),
        case when condition_kind = 'entry' then condition_code end,
        case when condition_kind = 'end' then episode_status end
    from default_conditions
    where condition_operator = 'equals'
),

status_conditions as (
    -- gathered per rules version, field and value: one equality join per status field
    select
        rules_version,
        condition_field,
        condition_value,
        max(min_class) as override_class,
        string_agg(override_code, ',' order by override_code) as override_codes,
        string_agg(entry_code, ',' order by entry_code) as default_entry_codes,
        min(end_status) as default_end_status
    from conditions
    group by rules_version, condition_field, condition_value
),

band_rule_sets as (
    select distinct rules_version, rule_set from rule_sets
),

dpd_overrides as (
    -- overrides of the form "dpd greater_than N"
    select rules_version, override_code, min_class, cast(condition_value as integer) as threshold
    from overrides
    where condition_operator = 'greater_than'
),

dpd_entries as (
    -- default entry conditions of the form "dpd greater_than N"
    select rules_version, condition_code, cast(condition_value as integer) as threshold
    from default_conditions
    where condition_operator = 'greater_than'
        and condition_kind = 'entry'
),

band_starts as (
    select rules_version, 0 as band_start from rule_versions
    union
    select rules_version, min_dpd from buckets
    union
    select rules_version, min_dpd from floors
    union
    select rules_version, threshold + 1 from dpd_overrides
    union
    select rules_version, threshold + 1 from dpd_entries
),

bands as (
    select
        rules_version,
        band_start,
        lead(band_start) over (partition by rules_version order by band_start) - 1 as band_end
    from band_starts
),

dpd_bands as (
    -- the DPD rules cut into bands over which none of them changes, per rules version and rule
    -- set: classifying a report by its DPD is then a lookup (dpd_tables)
    select
        bands.rules_version,
        band_rule_sets.rule_set,
        bands.band_start,
        bands.band_end,
        (
            select buckets.dpd_bucket from buckets
            where buckets.rules_version = bands.rules_version and buckets.min_dpd <= bands.band_start
            order by buckets.min_dpd desc
            limit 1
        ) as dpd_bucket,
        (
            select buckets.bucket_order from buckets
            where buckets.rules_version = bands.rules_version and buckets.min_dpd <= bands.band_start
            order by buckets.min_dpd desc
            limit 1
        ) as dpd_bucket_order,
        (
            select floors.floor_class from floors
            where floors.rules_version = bands.rules_version
                and floors.rule_set = band_rule_sets.rule_set
                and floors.min_dpd <= bands.band_start
            order by floors.min_dpd desc
            limit 1
        ) as floor_class,
        (
            select max(dpd_overrides.min_class) from dpd_overrides
            where dpd_overrides.rules_version = bands.rules_version and dpd_overrides.threshold < bands.band_start
        ) as override_class,
        (
            select string_agg(dpd_overrides.override_code, ',' order by dpd_overrides.override_code) from dpd_overrides
            where dpd_overrides.rules_version = bands.rules_version and dpd_overrides.threshold < bands.band_start
        ) as override_codes,
        (
            select string_agg(dpd_entries.condition_code, ',' order by dpd_entries.condition_code) from dpd_entries
            where dpd_entries.rules_version = bands.rules_version and dpd_entries.threshold < bands.band_start
        ) as default_entry_codes
    from bands
    inner join band_rule_sets
        on band_rule_sets.rules_version = bands.rules_version
),

dpd_caps as (
    -- from the last band's start on nothing changes: DPDs above it are looked up at it
    select rules_version, max(band_start) as dpd_cap
    from bands
    group by rules_version
),

dpd_tables as (
    -- per rules version and rule set, the lookup as arrays indexed by DPD + 1, from 0 up to the
    -- cap: classifying a report is a subscript after an equality join with a handful of rows.
    -- A join on the DPD value itself was planned, from a low row estimate, as a merge join on
    -- the rules version alone that filtered 200 million pairs at 50,000 loans (80 s of 90).
    select
        dpd_bands.rules_version,
        dpd_bands.rule_set,
        array_agg(dpd_bands.dpd_bucket order by dpd_value) as dpd_buckets,
        array_agg(dpd_bands.dpd_bucket_order order by dpd_value) as dpd_bucket_orders,
        array_agg(dpd_bands.floor_class order by dpd_value) as floor_classes,
        array_agg(dpd_bands.override_class order by dpd_value) as override_classes,
        array_agg(dpd_bands.override_codes order by dpd_value) as override_codes,
        array_agg(dpd_bands.default_entry_codes order by dpd_value) as default_entry_codes
    from dpd_bands
    cross join lateral generate_series(
        dpd_bands.band_start, coalesce(dpd_bands.band_end, dpd_bands.band_start)
    ) as dpd_value
    group by dpd_bands.rules_version, dpd_bands.rule_set
),

files as (
    -- status files in force, each with the rules version in force at its reporting date
    select
        submissions.submission_id,
        submissions.seq,
        rule_versions.rules_version,
        rule_versions.cure_clean_months,
        rule_versions.default_hold_class,
        rule_versions.restructure_observation_months,
        dpd_caps.dpd_cap
    from submissions
    left join rule_versions
        on submissions.as_of_date >= rule_versions.effective_from
        and (rule_versions.effective_until is null or submissions.as_of_date < rule_versions.effective_until)
    left join dpd_caps
        on dpd_caps.rules_version = rule_versions.rules_version
    where submissions.kind = 'loan_status'
        and submissions.is_effective
),

reports as (
    select
        status.lender_code,
        status.loan_id,
        status.as_of_date,
        date_trunc('month', status.as_of_date)::date as report_month,
        status.submission_id as status_submission_id,
        status.line as status_line,
        files.seq as status_seq,
        loans.borrower_key,
        loans.borrower_type,
        loans.product_type,
        loans.region_code,
        loans.guarantee_type,
        loans.issue_month,
        loans.issue_date,
        loans.maturity_date,
        loans.repayment_method,
        loans.loan_attributes_hash,
        status.account_status,
        status.outstanding_principal,
        status.overdue_principal,
        status.overdue_interest,
        status.overdue_principal + status.overdue_interest as overdue_amount,
        status.overdue_since,
        status.dpd_reported,
        -- DPD (逾期天数) = as_of_date - overdue_since while anything is overdue, else 0
        case
            when status.overdue_principal + status.overdue_interest > 0
                then status.as_of_date - status.overdue_since
            else 0
        end as dpd,
        status.last_payment_date,
        status.last_payment_amount,
        status.lender_risk_class,
        status.notice_date,
        status.legal_status,
        status.fraud_flag,
        files.rules_version,
        files.cure_clean_months,
        files.default_hold_class,
        files.restructure_observation_months,
        files.dpd_cap
    from status
    inner join files
        on files.submission_id = status.submission_id
    inner join loans
        on loans.lender_code = status.lender_code
        and loans.loan_id = status.loan_id
),

classified as (
    select
        reports.*,
        reports.account_status in ('normal', 'overdue', 'restructured') as is_active,
        rule_sets.rule_set,
        dpd_tables.dpd_buckets[least(reports.dpd, reports.dpd_cap) + 1] as dpd_bucket,
        dpd_tables.dpd_bucket_orders[least(reports.dpd, reports.dpd_cap) + 1] as dpd_bucket_order,
        dpd_tables.floor_classes[least(reports.dpd, reports.dpd_cap) + 1] as floor_class,
        greatest(
            on_account_status.override_class,
            on_legal_status.override_class,
            on_fraud_flag.override_class,
            dpd_tables.override_classes[least(reports.dpd, reports.dpd_cap) + 1]
        ) as override_class,
        nullif(concat_ws(
            ',',
            on_account_status.override_codes,
            on_legal_status.override_codes,
            on_fraud_flag.override_codes,
            dpd_tables.override_codes[least(reports.dpd, reports.dpd_cap) + 1]
        ), '') as override_codes,
        nullif(concat_ws(
            ',',
            on_account_status.default_entry_codes,
            on_legal_status.default_entry_codes,
            on_fraud_flag.default_entry_codes,
            dpd_tables.default_entry_codes[least(reports.dpd, reports.dpd_cap) + 1]
        ), '') as default_entry_codes,
        coalesce(
            on_account_status.default_end_status,
            on_legal_status.default_end_status,
            on_fraud_flag.default_end_status
        ) as default_end_status,
        {{ repayment_code(
            'reports.account_status', 'dpd_tables.dpd_bucket_orders[least(reports.dpd, reports.dpd_cap) + 1]',
            'reports.report_month', 'reports.issue_date',
            'reports.maturity_date', 'reports.repayment_method', 'reports.as_of_date'
        ) }} as repayment_code
    from reports
    left join rule_sets
        on rule_sets.rules_version = reports.rules_version
        and rule_sets.borrower_type = reports.borrower_type
    left join dpd_tables
        on dpd_tables.rules_version = reports.rules_version
        and dpd_tables.rule_set = rule_sets.rule_set
    left join status_conditions as on_account_status
        on on_account_status.rules_version = reports.rules_version
        and on_account_status.condition_field = 'account_status'
        and on_account_status.condition_value = reports.account_status
    left join status_conditions as on_legal_status
        on on_legal_status.rules_version = reports.rules_version
        and on_legal_status.condition_field = 'legal_status'
        and on_legal_status.condition_value = reports.legal_status
    left join status_conditions as on_fraud_flag
        on on_fraud_flag.rules_version = reports.rules_version
        and on_fraud_flag.condition_field = 'fraud_flag'
        and on_fraud_flag.condition_value = reports.fraud_flag::text
),

final as (
    select
        classified.*,
        classified.default_entry_codes is not null as is_default_trigger,
        -- a clean report counts toward a cure: nothing overdue, no override, no default condition
        classified.dpd = 0
            and classified.override_class is null
            and classified.default_entry_codes is null as is_clean_report
    from classified
)

select * from final
