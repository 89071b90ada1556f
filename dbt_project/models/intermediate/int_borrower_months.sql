{# The borrower view across lenders (跨机构借款人视图): one row per borrower key and month in
    which any lender reported a loan of theirs, from each loan's last report in the month. #}

with

history as (
    select * from {{ ref('int_loan_status_history') }}
),

month_end_reports as (
    select *
    from history
    where is_month_last_report
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
    group by borrower_key, report_month
)

select * from borrower_months
