{{
    config(
        large_sorts=true,
        materialized='incremental',
        rebuild_producer='int_loan_status_history',
        indexes=[
            {'columns': ['lender_code', 'report_month']},
        ],
    )
}}

{# Month-over-month consistency findings (报送一致性问题) on each lender's reporting, one row per
    finding, each with the report row it rests on (submission_id, line) and, where it compares two
    reports, the earlier one (previous_submission_id, previous_line). Codes and severities:
    ref_consistency_findings; thresholds: rule_parameters (through int_rule_versions).
   A row the exchange itself rejected (an error in control.row_problems) is never held against the
   lender: a loan whose row a status file rejected is not "disappeared" from that file, nor from
   later ones until it is reported again (the rejected row may have ended it).
   An incremental run rebuilds each lender's findings from the first month that
   int_loan_status_history rebuilt, reading the history from the lender's month before it (the
   previous reports) plus, for loans not reported that month, their last earlier report. #}

with

submissions as (
    select * from {{ ref('int_submissions_effective') }}
),

lender_months as (
    -- months in which a lender's status file is in force, with the first such file of the month
    select distinct on (lender_code, report_month)
        lender_code,
        report_month,
        as_of_date,
        submission_id
    from submissions
    where kind = 'loan_status'
        and is_effective
    order by lender_code, report_month, as_of_date, submission_id
),

rejected_rows as (
    -- loans whose row in a status file in force the exchange rejected (quarantined), by month
    select distinct lender_code, report_month, loan_id from {{ ref('int_rejected_status_rows') }}
),

{% if is_incremental() %}

rebuild as (
    {{ rebuild_window() }}
),

rebuild_ranges as (
    -- per lender: the first month rebuilt, and the month read from (the lender's month before it)
    select
        rebuild.lender_code,
        rebuild.rebuild_month,
        coalesce(max(lender_months.report_month), rebuild.rebuild_month) as read_from_month
    from rebuild
    left join lender_months
        on lender_months.lender_code = rebuild.lender_code
        and lender_months.report_month < rebuild.rebuild_month
    group by rebuild.lender_code, rebuild.rebuild_month
),

read_rows as (
    select
        history.*,
        rebuild_ranges.rebuild_month,
        rebuild_ranges.read_from_month
    from {{ ref('int_loan_status_history') }} as history
    inner join rebuild_ranges
        on rebuild_ranges.lender_code = history.lender_code
        and history.report_month >= rebuild_ranges.read_from_month
    where {{ in_rebuilt_months('history.status_submission_id', 'rebuild_ranges', 'rebuild_ranges.read_from_month') }}
),

anchors as (
    -- loans first read in a rebuilt month: their last report before (the previous one)
    select
        built.*,
        first_read.rebuild_month,
        first_read.read_from_month
    from (
        select lender_code, loan_id, min(report_month) as first_month, min(rebuild_month) as rebuild_month,
            min(read_from_month) as read_from_month
        from read_rows
        group by lender_code, loan_id
    ) as first_read
    cross join lateral (
        select *
        from {{ ref('int_loan_status_history') }} as previous
        where previous.lender_code = first_read.lender_code
            and previous.loan_id = first_read.loan_id
            and previous.as_of_date < first_read.read_from_month
        order by previous.as_of_date desc
        limit 1
    ) as built
    where first_read.first_month >= first_read.rebuild_month
),

history as (
    select * from read_rows
    union all
    select * from anchors
),

{% else %}

history as (
    select * from {{ ref('int_loan_status_history') }}
),

{% endif %}

rule_versions as (
    select * from {{ ref('int_rule_versions') }}
),

finding_types as (
    select * from {{ ref('ref_consistency_findings') }}
),

paired as (
    -- each report next to the loan's previous report (and the next report's month, for the
    -- disappearances); only the columns the findings read, as this is kept in memory for the
    -- six queries below
    select
        history.lender_code,
        history.loan_id,
        history.as_of_date,
        history.rules_version,
        history.status_submission_id,
        history.status_line,
        history.account_status,
        history.outstanding_principal,
        history.overdue_amount,
        history.dpd,
        history.dpd_reported,
        history.last_payment_date,
        history.last_payment_amount,
        history.report_month,
        history.is_month_last_report,
        lead(history.report_month) over loan_sequence as next_report_month,
        lag(history.as_of_date) over loan_sequence as previous_as_of_date,
        lag(history.account_status) over loan_sequence as previous_account_status,
        lag(history.outstanding_principal) over loan_sequence as previous_outstanding_principal,
        lag(history.overdue_amount) over loan_sequence as previous_overdue_amount,
        lag(history.dpd) over loan_sequence as previous_dpd,
        lag(history.status_submission_id) over loan_sequence as previous_submission_id,
        lag(history.status_line) over loan_sequence as previous_line
    from history
    -- loan_id first in every window here: see int_collection_first_contacts
    window loan_sequence as (partition by history.loan_id, history.lender_code order by history.as_of_date)
),

reaging as (
    -- re-aging (重置账龄, DOMAIN §4): DPD fell to 0, or by more than the days elapsed since the
    -- previous report, on an active loan that was not restructured, without repayment evidence.
    -- Evidence is a last_payment_date in the period (previous as_of_date, as_of_date], or a fall in
    -- the overdue amounts that the balance confirms (outstanding principal fell too): arrears that
    -- vanish while the balance stays are the re-aging itself, not a repayment.
    select
        paired.*,
        paired.as_of_date - paired.previous_as_of_date as days_elapsed
    from paired
    left join rule_versions
        on rule_versions.rules_version = paired.rules_version
    where paired.previous_dpd > 0
        and (
            paired.dpd = 0
            or paired.previous_dpd - paired.dpd
                > paired.as_of_date - paired.previous_as_of_date
                + coalesce(rule_versions.reaging_fall_tolerance_days, 0)
        )
        and paired.account_status in ('normal', 'overdue')
        and not coalesce(
            paired.last_payment_date > paired.previous_as_of_date
                and paired.last_payment_date <= paired.as_of_date
                and (paired.last_payment_amount is null or paired.last_payment_amount > 0),
            false
        )
        and not (
            paired.overdue_amount < paired.previous_overdue_amount
            and paired.outstanding_principal < paired.previous_outstanding_principal
        )
),

report_findings as (
    select
        lender_code,
        loan_id,
        as_of_date,
        'C_REAGING' as finding_code,
        status_submission_id as submission_id,
        status_line as line,
        previous_submission_id,
        previous_line,
        'DPD ' || previous_dpd || ' -> ' || dpd || ' in ' || days_elapsed || ' days as ' || account_status
            || ', overdue ' || previous_overdue_amount || ' -> ' || overdue_amount
            || ', no payment reported since ' || previous_as_of_date as detail
    from reaging

    union all

    select
        lender_code,
        loan_id,
        as_of_date,
        'C_CURRENT_WITH_ARREARS',
        status_submission_id,
        status_line,
        previous_submission_id,
        previous_line,
        'account_status normal with overdue amount ' || overdue_amount
    from paired
    where account_status = 'normal'
        and overdue_amount > 0

    union all

    select
        lender_code,
        loan_id,
        as_of_date,
        'C_REACTIVATED',
        status_submission_id,
        status_line,
        previous_submission_id,
        previous_line,
        'account_status ' || previous_account_status || ' -> ' || account_status
    from paired
    where previous_account_status in ('settled', 'written_off')
        and account_status in ('normal', 'overdue', 'restructured')

    union all

    select
        lender_code,
        loan_id,
        as_of_date,
        'C_BALANCE_GROWTH',
        status_submission_id,
        status_line,
        previous_submission_id,
        previous_line,
        'outstanding_principal ' || previous_outstanding_principal || ' -> ' || outstanding_principal
    from paired
    where outstanding_principal > previous_outstanding_principal
        and account_status <> 'restructured'

    union all

    select
        paired.lender_code,
        paired.loan_id,
        paired.as_of_date,
        'C_DPD_MISMATCH',
        paired.status_submission_id,
        paired.status_line,
        cast(null as bigint),
        cast(null as integer),
        'dpd_reported ' || paired.dpd_reported || ', computed ' || paired.dpd
    from paired
    left join rule_versions
        on rule_versions.rules_version = paired.rules_version
    where paired.dpd_reported is not null
        and abs(paired.dpd_reported - paired.dpd) > coalesce(rule_versions.dpd_mismatch_tolerance_days, 0)
),

lender_next_months as (
    select
        lender_months.*,
        lead(lender_months.report_month) over (
            partition by lender_months.lender_code order by lender_months.report_month
        ) as next_report_month,
        lead(lender_months.as_of_date) over (
            partition by lender_months.lender_code order by lender_months.report_month
        ) as next_as_of_date,
        lead(lender_months.submission_id) over (
            partition by lender_months.lender_code order by lender_months.report_month
        ) as next_submission_id
    from lender_months
),

month_last_reports as (
    -- a loan's next report after its month's last one is in a later month, whose last report has
    -- the same month: so the next month-last report's month is the next report's, from the one
    -- window over the history: a second sort of every report by loan took a sixth of this query
    -- (CREATE TABLE AS at 200k x 24, serial: 5.7 -> 4.8 s)
    select
        lender_code,
        loan_id,
        as_of_date,
        report_month,
        account_status,
        status_submission_id,
        status_line,
        next_report_month as loan_next_report_month
    from paired
    where is_month_last_report
),

disappeared as (
    -- the lender's next status file neither reports a loan that had not ended nor carried a row of
    -- it that the exchange rejected. After a rejected row the loan's status is unknown (the row may
    -- have settled it) until it is reported again, so no absence counts until then.
    select
        month_last_reports.lender_code,
        month_last_reports.loan_id,
        lender_next_months.next_as_of_date as as_of_date,
        'C_DISAPPEARED' as finding_code,
        lender_next_months.next_submission_id as submission_id,
        cast(null as integer) as line,
        month_last_reports.status_submission_id as previous_submission_id,
        month_last_reports.status_line as previous_line,
        'last reported ' || month_last_reports.as_of_date || ' as ' || month_last_reports.account_status
            as detail
    from month_last_reports
    inner join lender_next_months
        on lender_next_months.lender_code = month_last_reports.lender_code
        and lender_next_months.report_month = month_last_reports.report_month
    left join rejected_rows
        on rejected_rows.lender_code = month_last_reports.lender_code
        and rejected_rows.report_month = lender_next_months.next_report_month
        and rejected_rows.loan_id = month_last_reports.loan_id
    where month_last_reports.account_status not in ('settled', 'compensated', 'written_off', 'transferred')
        and lender_next_months.next_report_month is not null
        and (
            month_last_reports.loan_next_report_month is null
            or month_last_reports.loan_next_report_month > lender_next_months.next_report_month
        )
        and rejected_rows.loan_id is null
),

all_findings as (
    select * from report_findings
    union all
    select * from disappeared
),

final as (
    select
        md5(concat_ws('|', all_findings.finding_code, all_findings.lender_code, all_findings.loan_id, all_findings.as_of_date))
            as finding_id,
        all_findings.finding_code,
        finding_types.severity,
        all_findings.lender_code,
        all_findings.loan_id,
        all_findings.as_of_date,
        date_trunc('month', all_findings.as_of_date)::date as report_month,
        all_findings.submission_id,
        all_findings.line,
        all_findings.previous_submission_id,
        all_findings.previous_line,
        all_findings.detail
    from all_findings
    left join finding_types
        on finding_types.finding_code = all_findings.finding_code
    {% if is_incremental() %}
    -- the rows read as previous reports only: their own findings are not rebuilt
    inner join rebuild_ranges
        on rebuild_ranges.lender_code = all_findings.lender_code
        and all_findings.as_of_date >= rebuild_ranges.rebuild_month
    {% endif %}
)

select * from final
