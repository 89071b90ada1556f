{# Blacklist candidates (恶意逾期名单候选): one row per borrower with at least one publishable
   listing reason (int_listing_reasons). Everything on the row (reasons, lenders, total overdue,
   max DPD, the dispute mark) is built from publishable reasons only: a record held back
   (pending_notice, unreported, dispute_upheld) counts nowhere a member sees. #}

with

reasons as not materialized (
    select * from {{ ref('int_listing_reasons') }}
    where is_publishable
),

as_of as (
    -- the latest reporting date of any lender
    select max({{ lender_latest_date('reporting_lenders.lender_code') }}) as publication_as_of
    from (select distinct lender_code from {{ ref('int_submissions_effective') }}) as reporting_lenders
),

primary_source as (
    -- the report behind the earliest listed reason
    select distinct on (borrower_key)
        borrower_key,
        source_submission_id,
        source_line
    from reasons
    order by borrower_key, listed_since, lender_code, loan_id, reason_code
),

listed_loans as (
    -- each listed loan once, whatever number of reasons it has
    select
        borrower_key,
        count(*) as listed_loans,
        count(distinct lender_code) as lenders_count,
        sum(overdue_amount) as total_overdue,
        max(dpd) as max_dpd
    from (select distinct borrower_key, lender_code, loan_id, overdue_amount, dpd from reasons) as loans
    group by borrower_key
),

listings as (
    select
        borrower_key,
        max(borrower_type) as borrower_type,
        string_agg(distinct reason_code, ',' order by reason_code) as reason_codes,
        min(listed_since) as first_listed_date,
        min(notice_date) as notice_date,
        bool_or(is_disputed) as disputed,
        min(dispute_deadline) as dispute_deadline,
        count(*) as source_rows
    from reasons
    group by borrower_key
),

final as (
    select
        as_of.publication_as_of,
        listings.borrower_key,
        listings.borrower_type,
        listings.reason_codes,
        listings.first_listed_date,
        listed_loans.lenders_count,
        listed_loans.total_overdue,
        listed_loans.max_dpd,
        listings.notice_date,
        listings.disputed,
        listings.dispute_deadline,
        primary_source.source_submission_id,
        primary_source.source_line,
        listings.source_rows
    from listings
    inner join listed_loans on listed_loans.borrower_key = listings.borrower_key
    inner join primary_source on primary_source.borrower_key = listings.borrower_key
    cross join as_of
)

select * from final
