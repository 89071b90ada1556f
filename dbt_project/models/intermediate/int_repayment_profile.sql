{{
    config(
        materialized='incremental',
        rebuild_checks_rules=false,
        indexes=[
            {'columns': ['lender_code', 'loan_id', 'as_of_date'], 'unique': True},
            {'columns': ['lender_code', 'report_month']},
            {'columns': ['status_submission_id']},
        ],
    )
}}
-- depends_on: {{ ref('int_submissions_effective') }}

{# The 24-month repayment profile (24 个月还款状态) per loan and reporting date, newest month
    first: the reporting month's own code, then one code per earlier calendar month back to the
    loan's issue month, at most 24 in all. An earlier month's code is that of the loan's last
    report in the month; a month without a report is '#'. Codes: N normal, 1-7 overdue in 30-day
    steps (7 = over 180 days), C settled, G ended otherwise (transferred, written off),
    D compensated by the guarantor, # unknown, * nothing due. #}

with

history as (
    select * from {{ ref('int_loan_status_history') }}
),

loans as (
    select * from {{ ref('int_loans_latest') }}
),

{% if is_incremental() %}

rebuild as (
    {{ rebuild_window() }}
),

{% endif %}

targets as (
    select
        history.lender_code,
        history.loan_id,
        history.as_of_date,
        history.report_month,
        history.is_month_last_report,
        history.status_submission_id,
        history.loan_attributes_hash,
        history.repayment_code
    from history
    {% if is_incremental() %}
    where {{ in_rebuilt_months('history.status_submission_id') }}
    {% endif %}
),

target_loans as (
    select
        targets.lender_code,
        targets.loan_id,
        min(targets.report_month) as first_month,
        max(targets.report_month) as last_month,
        loans.issue_month
    from targets
    inner join loans
        on loans.lender_code = targets.lender_code
        and loans.loan_id = targets.loan_id
    group by targets.lender_code, targets.loan_id, loans.issue_month
),

{% if is_incremental() %}

anchors as (
    -- the profile already built at each loan's last report before the months being rebuilt
    {{ last_rows_before_window('target_loans',
        'previous.lender_code, previous.loan_id, previous.report_month, previous.repayment_profile_24m') }}
),

{% endif %}

earlier_codes as (
    -- codes of the months before the first month built, newest first: in an incremental run, from
    -- the profile at the loan's last report before the months being rebuilt
    select
        target_loans.lender_code,
        target_loans.loan_id,
        {% if is_incremental() %}
        case
            when anchors.report_month is not null then
                repeat('#', least({{ months_between('anchors.report_month', 'target_loans.first_month') }} - 1, 23))
                || anchors.repayment_profile_24m
            else
        {% endif %}
                repeat('#', greatest(least({{ months_between('target_loans.issue_month', 'target_loans.first_month') }}, 23), 0))
        {% if is_incremental() %}
        end
        {% endif %}
            as codes_before
    from target_loans
    {% if is_incremental() %}
    left join anchors
        on anchors.lender_code = target_loans.lender_code
        and anchors.loan_id = target_loans.loan_id
    {% endif %}
),

month_spine as (
    select
        target_loans.lender_code,
        target_loans.loan_id,
        spine_month::date as report_month
    from target_loans
    cross join lateral generate_series(
        target_loans.first_month, target_loans.last_month, interval '1 month'
    ) as spine_month
),

month_codes as (
    -- each month's code: the loan's last report in the month, '#' without a report
    select
        month_spine.lender_code,
        month_spine.loan_id,
        month_spine.report_month,
        coalesce(targets.repayment_code, '#') as month_code
    from month_spine
    left join targets
        on targets.lender_code = month_spine.lender_code
        and targets.loan_id = month_spine.loan_id
        and targets.report_month = month_spine.report_month
        and targets.is_month_last_report
),

preceding_codes as (
    -- the up to 23 months before each month, newest first (codes are single characters, so the
    -- reversed oldest-first string is the newest-first one). The loan's codes so far, cut to the
    -- last 23: a frame that starts at the partition's start is aggregated row by row, where a
    -- sliding frame of 23 rows would be aggregated again from scratch for every row.
    select
        lender_code,
        loan_id,
        report_month,
        reverse(right(coalesce(string_agg(month_code, '') over (
            partition by lender_code, loan_id
            order by report_month
            rows between unbounded preceding and 1 preceding
        ), ''), 23)) as codes_in_range
    from month_codes
),

profiles as (
    select
        targets.lender_code,
        targets.loan_id,
        targets.as_of_date,
        targets.report_month,
        targets.status_submission_id,
        targets.loan_attributes_hash,
        targets.repayment_code as month_code,
        left(
            targets.repayment_code || preceding_codes.codes_in_range || earlier_codes.codes_before, 24
        ) as repayment_profile_24m
    from targets
    inner join preceding_codes
        on preceding_codes.lender_code = targets.lender_code
        and preceding_codes.loan_id = targets.loan_id
        and preceding_codes.report_month = targets.report_month
    inner join earlier_codes
        on earlier_codes.lender_code = targets.lender_code
        and earlier_codes.loan_id = targets.loan_id
),

final as (
    select
        profiles.*,
        length(profiles.repayment_profile_24m) as months_covered,
        -- plain string functions, not a regular expression or a subquery per row (both cost
        -- seconds per million rows): the codes other than 1-7 are N C G D # *
        length(translate(profiles.repayment_profile_24m, 'NCGD#*', '')) as overdue_months_24m,
        case
            when strpos(profiles.repayment_profile_24m, '7') > 0 then 7
            when strpos(profiles.repayment_profile_24m, '6') > 0 then 6
            when strpos(profiles.repayment_profile_24m, '5') > 0 then 5
            when strpos(profiles.repayment_profile_24m, '4') > 0 then 4
            when strpos(profiles.repayment_profile_24m, '3') > 0 then 3
            when strpos(profiles.repayment_profile_24m, '2') > 0 then 2
            when strpos(profiles.repayment_profile_24m, '1') > 0 then 1
            else 0
        end as worst_overdue_level_24m
    from profiles
)

select * from final
{{ month_order(['report_month', 'lender_code', 'loan_id', 'as_of_date']) }}
