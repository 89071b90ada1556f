{# Submission quality per lender and month (报送质量): timeliness of the loan_status file,
    rejection rates, under-classification and consistency findings. #}

with

periods as (
    select * from {{ ref('int_lender_reporting_periods') }}
),

classification as (
    select * from {{ ref('int_lender_month_classification') }}
),

findings as (
    select * from {{ ref('int_consistency_findings') }}
),

finding_counts as (
    select
        lender_code,
        report_month,
        count(*) as consistency_findings,
        count(*) filter (where severity = 'high') as findings_high,
        count(*) filter (where severity = 'medium') as findings_medium,
        count(*) filter (where severity = 'low') as findings_low
    from findings
    group by lender_code, report_month
),

final as (
    select
        periods.lender_code,
        periods.period_month,
        periods.status_due_date,
        periods.status_first_received_at,
        periods.status_timeliness,
        periods.status_days_late,
        periods.files_received,
        periods.files_loaded,
        periods.files_rejected,
        periods.files_duplicate,
        periods.files_corrected,
        {{ safe_ratio('periods.files_rejected', 'periods.files_received') }} as file_rejection_rate,
        periods.rows_total,
        periods.rows_rejected,
        {{ safe_ratio('periods.rows_rejected', 'periods.rows_total') }} as row_rejection_rate,
        coalesce(classification.status_reports, 0) as status_reports,
        coalesce(classification.reports_with_lender_class, 0) as reports_with_lender_class,
        coalesce(classification.under_classified_reports, 0) as under_classified_reports,
        {{ safe_ratio('classification.under_classified_reports', 'classification.reports_with_lender_class') }}
            as under_classification_rate,
        coalesce(finding_counts.consistency_findings, 0) as consistency_findings,
        coalesce(finding_counts.findings_high, 0) as findings_high,
        coalesce(finding_counts.findings_medium, 0) as findings_medium,
        coalesce(finding_counts.findings_low, 0) as findings_low
    from periods
    left join classification
        on classification.lender_code = periods.lender_code
        and classification.report_month = periods.period_month
    left join finding_counts
        on finding_counts.lender_code = periods.lender_code
        and finding_counts.report_month = periods.period_month
)

select * from final
