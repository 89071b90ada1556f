{# Borrowers (借款人维度): one row per borrower key (an HMAC of the identifier, never the
    identity itself), across all lenders. #}

with

loans as (
    select * from {{ ref('int_loans_latest') }}
),

borrower_months as not materialized (
    select * from {{ ref('int_borrower_months') }}
),

borrower_loans as (
    -- one pass over the loans: the region is the one of the borrower's most recent loan
    select
        borrower_key,
        min(borrower_type) as borrower_type,
        (array_agg(region_code order by issue_date desc, attributes_as_of_date desc, lender_code, loan_id))[1]
            as region_code,
        count(distinct lender_code) as lender_count,
        count(*) as loan_count,
        min(issue_date) as first_issue_date,
        max(issue_date) as last_issue_date
    from loans
    group by borrower_key
),

current_month as (
    -- the borrowers reported in the latest month: their latest month, read as one range of the
    -- report_month index
    select *
    from borrower_months
    where report_month = (select max(report_month) from borrower_months)
),

latest_month as (
    -- a borrower's latest month: the latest month's row, else one index probe for the borrower
    -- (skipped when the latest month has the borrower; not a pass over every month)
    select
        borrower_loans.*,
        coalesce(current_month.report_month, earlier.report_month) as report_month,
        coalesce(current_month.active_lender_count, earlier.active_lender_count) as active_lender_count,
        coalesce(current_month.active_loans, earlier.active_loans) as active_loans,
        coalesce(current_month.outstanding_principal, earlier.outstanding_principal) as outstanding_principal,
        coalesce(current_month.lenders_in_default, earlier.lenders_in_default) as lenders_in_default
    from borrower_loans
    left join current_month
        on current_month.borrower_key = borrower_loans.borrower_key
    left join lateral (
        select
            borrower_months.report_month,
            borrower_months.active_lender_count,
            borrower_months.active_loans,
            borrower_months.outstanding_principal,
            borrower_months.lenders_in_default
        from borrower_months
        where current_month.borrower_key is null
            and borrower_months.borrower_key = borrower_loans.borrower_key
        order by borrower_months.report_month desc
        limit 1
    ) as earlier on true
),

final as (
    select
        borrower_key,
        borrower_type,
        region_code,
        lender_count,
        loan_count,
        first_issue_date,
        last_issue_date,
        report_month as latest_report_month,
        coalesce(active_lender_count, 0) as active_lender_count,
        coalesce(active_loans, 0) as active_loans,
        coalesce(outstanding_principal, 0) as outstanding_principal,
        coalesce(lenders_in_default, 0) as lenders_in_default,
        coalesce(active_lender_count, 0) >= 2 as is_multi_lender
    from latest_month
)

select * from final
