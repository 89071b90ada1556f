{# Each lender's reporting per month (报送期): when the month's loan_status file arrived against
    the deadline (submission_deadline_days after the month end, in the exchange's time zone), and
    how many files and rows were received and rejected. Months run from the lender's first file
    to the latest reporting month at the exchange. Timeliness is judged on the month's first
    complete status file: a month with only partial files (部分报送) is partial, a month with
    none is missing once its deadline has passed and not yet due before (Beijing date). #}

with

submissions as (
    select * from {{ ref('int_submissions_effective') }}
),

rule_versions as (
    select * from {{ ref('int_rule_versions') }}
),

exchange_span as (
    select max(report_month) as latest_report_month
    from submissions
    where kind = 'loan_status'
        and is_effective
),

lender_spans as (
    select
        lender_code,
        min(period_month) as first_month,
        max(period_month) as last_month
    from submissions
    group by lender_code
),

lender_months as (
    select
        lender_spans.lender_code,
        period_month::date as period_month
    from lender_spans
    cross join exchange_span
    cross join lateral generate_series(
        lender_spans.first_month,
        greatest(lender_spans.last_month, coalesce(exchange_span.latest_report_month, lender_spans.last_month)),
        interval '1 month'
    ) as period_month
),

file_counts as (
    select
        lender_code,
        period_month,
        count(*) filter (where verdict <> 'duplicate') as files_received,
        count(*) filter (where is_loaded) as files_loaded,
        count(*) filter (where verdict = 'rejected') as files_rejected,
        count(*) filter (where verdict = 'duplicate') as files_duplicate,
        count(*) filter (where is_loaded and superseded_by_submission_id is not null) as files_corrected,
        coalesce(sum(rows_total) filter (where verdict <> 'duplicate'), 0) as rows_total,
        -- a file rejected whole rejects all of its rows
        coalesce(sum(case when verdict = 'rejected' then rows_total else rows_rejected end)
            filter (where verdict <> 'duplicate'), 0) as rows_rejected,
        min(received_at) filter (where kind = 'loan_status' and is_loaded and not is_partial)
            as status_first_received_at,
        count(*) filter (where kind = 'loan_status' and is_loaded and is_partial) as files_partial
    from submissions
    group by lender_code, period_month
),

periods as (
    select
        lender_months.lender_code,
        lender_months.period_month,
        (lender_months.period_month + interval '1 month' - interval '1 day')::date as period_end_date,
        rule_versions.rules_version,
        (lender_months.period_month + interval '1 month' - interval '1 day')::date
            + rule_versions.submission_deadline_days as status_due_date,
        file_counts.status_first_received_at,
        (file_counts.status_first_received_at at time zone '{{ var("exchange_timezone") }}')::date
            as status_first_received_date,
        coalesce(file_counts.files_received, 0) as files_received,
        coalesce(file_counts.files_loaded, 0) as files_loaded,
        coalesce(file_counts.files_rejected, 0) as files_rejected,
        coalesce(file_counts.files_duplicate, 0) as files_duplicate,
        coalesce(file_counts.files_corrected, 0) as files_corrected,
        coalesce(file_counts.files_partial, 0) as files_partial,
        coalesce(file_counts.rows_total, 0) as rows_total,
        coalesce(file_counts.rows_rejected, 0) as rows_rejected
    from lender_months
    left join file_counts
        on file_counts.lender_code = lender_months.lender_code
        and file_counts.period_month = lender_months.period_month
    left join rule_versions
        on (lender_months.period_month + interval '1 month' - interval '1 day')::date >= rule_versions.effective_from
        and (
            rule_versions.effective_until is null
            or (lender_months.period_month + interval '1 month' - interval '1 day')::date < rule_versions.effective_until
        )
),

final as (
    select
        periods.*,
        case
            when periods.status_first_received_date <= periods.status_due_date then 'on_time'
            when periods.status_first_received_date is not null then 'late'
            when periods.files_partial > 0 then 'partial'
            when periods.status_due_date >= {{ exchange_today() }} then 'not_yet_due'
            else 'missing'
        end as status_timeliness,
        case
            when periods.status_first_received_date is not null
                then greatest(periods.status_first_received_date - periods.status_due_date, 0)
        end as status_days_late
    from periods
)

select * from final
