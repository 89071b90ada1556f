{# Lenders (会员机构维度): one row per participating lender. #}

with

lenders as not materialized (
    -- not materialized: referenced more than once, PostgreSQL would otherwise copy the whole table first
    select * from {{ ref('stg_control__lenders') }}
),

loans as not materialized (
    select * from {{ ref('int_loans_latest') }}
),

history as not materialized (
    select * from {{ ref('int_loan_status_history') }}
),

categories as (
    select * from {{ ref('int_lender_categories') }}
),

loan_counts as (
    select lender_code, count(*) as loans_reported
    from loans
    group by lender_code
),

report_spans as materialized (
    -- each lender's first and last reporting month, through the history's (lender_code,
    -- report_month) index: a group by read the whole history every month
    select
        spans.lender_code,
        spans.first_report_month,
        spans.last_report_month
    from (
        select
            lenders.lender_code,
            (select min(history.report_month) from history where history.lender_code = lenders.lender_code)
                as first_report_month,
            (select max(history.report_month) from history where history.lender_code = lenders.lender_code)
                as last_report_month
        from lenders
    ) as spans
    where spans.first_report_month is not null
),

latest_book as (
    -- the book on each lender's latest month, one lender at a time through the same index
    select
        report_spans.lender_code,
        book.active_loans,
        book.outstanding_principal
    from report_spans
    cross join lateral (
        select
            count(*) filter (where history.is_active) as active_loans,
            coalesce(sum(history.outstanding_principal) filter (where history.is_active), 0) as outstanding_principal
        from history
        where history.lender_code = report_spans.lender_code
            and history.report_month = report_spans.last_report_month
            and history.is_month_last_report
    ) as book
),

final as (
    select
        lenders.lender_code,
        lenders.lender_name,
        lenders.lender_category,
        categories.shown_category,
        lenders.lender_status,
        lenders.created_at as admitted_at,
        coalesce(loan_counts.loans_reported, 0) as loans_reported,
        report_spans.first_report_month,
        report_spans.last_report_month,
        coalesce(latest_book.active_loans, 0) as active_loans,
        coalesce(latest_book.outstanding_principal, 0) as outstanding_principal
    from lenders
    inner join categories
        on categories.lender_code = lenders.lender_code
    left join loan_counts
        on loan_counts.lender_code = lenders.lender_code
    left join report_spans
        on report_spans.lender_code = lenders.lender_code
    left join latest_book
        on latest_book.lender_code = lenders.lender_code
)

select * from final
