{{
    config(
        materialized='incremental',
        rebuild_producer='int_loan_status_history',
        rebuild_mixes_lenders=true,
        indexes=[
            {'columns': ['report_month']},
            {'columns': ['borrower_key', 'report_month'], 'unique': True},
        ],
    )
}}
-- depends_on: {{ ref('int_submissions_effective') }}

{# The borrower view across lenders (跨机构借款人视图): one row per borrower key and month in
    which any lender reported a loan of theirs, from each loan's last report in the month.
    A row mixes lenders, so an incremental run rebuilds every month from the earliest month that
    int_loan_status_history rebuilt for any lender. #}

with

{% if is_incremental() %}

rebuild as (
    -- a row mixes lenders: every lender from the earliest month rebuilt
    {{ rebuild_window() }}
),

{% endif %}

month_end_reports as (
    select *
    from {{ ref('int_loan_status_history') }}
    where is_month_last_report
    {% if is_incremental() %}
        and {{ in_rebuilt_months('status_submission_id') }}
    {% endif %}
),

borrower_months as (
    select
        borrower_key,
        report_month,
        min(borrower_type) as borrower_type,
        count(distinct lender_code) as reporting_lender_count,
        count(distinct lender_code) filter (where is_active) as active_lender_count,
        count(*) filter (where is_active) as active_loans,
        coalesce(sum(outstanding_principal) filter (where is_active), 0) as outstanding_principal,
        coalesce(sum(overdue_amount) filter (where is_active), 0) as overdue_amount,
        max(dpd) filter (where is_active) as max_dpd,
        max(standardized_class) filter (where is_active) as worst_standardized_class,
        count(distinct lender_code) filter (where is_in_default) as lenders_in_default
    from month_end_reports
    -- grouped by sorting in this order (for the counts of distinct lenders): a full build writes
    -- the months in order at no extra cost (macros/incremental.sql, month_order)
    group by report_month, borrower_key
)

select * from borrower_months
