{# Blacklist candidates (恶意逾期名单候选): one row per borrower with at least one reason. A reason
   counts for the listing once its reporting lender has given notice (notice_date); a borrower
   whose reasons all lack it is held back as pending_notice and shown to those lenders only.
   An open dispute marks the listing (异议标注); one upheld on the listing removes it. #}

with

reasons as (
    select * from {{ ref('pub_listing_reasons') }}
),

disputes as (
    select * from {{ source('exchange_control', 'disputes') }}
),

open_disputes as (
    select borrower_key, min(deadline) as dispute_deadline
    from disputes
    where status = 'open'
    group by borrower_key
),

upheld_listings as (
    select distinct borrower_key
    from disputes
    where status = 'upheld' and record_kind = 'listing'
),

noticed as (
    select * from reasons where not pending_notice
),

-- the reasons that make the listing: the noticed ones, else (pending) all of them
listing_reasons as (
    select reasons.*
    from reasons
    where not reasons.pending_notice
        or not exists (select 1 from noticed where noticed.borrower_key = reasons.borrower_key)
),

primary_source as (
    select distinct on (borrower_key)
        borrower_key,
        source_submission_id,
        source_line
    from listing_reasons
    order by borrower_key, greatest(default_date, coalesce(notice_date, default_date)), lender_code, loan_id,
        reason_code
),

borrower_loans as (
    -- every loan of the borrower in default, reason or not: the listing's amounts and lenders
    select
        borrower_key,
        count(distinct lender_code) as lenders_count,
        sum(overdue_amount) as total_overdue,
        max(dpd) as max_dpd
    from (select distinct borrower_key, lender_code, loan_id, overdue_amount, dpd from reasons) as loans
    group by borrower_key
),

listings as (
    select
        listing_reasons.publication_as_of,
        listing_reasons.borrower_key,
        max(listing_reasons.borrower_type) as borrower_type,
        string_agg(distinct listing_reasons.reason_code, ',' order by listing_reasons.reason_code) as reason_codes,
        bool_or(listing_reasons.reason_code = 'B1') as reason_b1,
        bool_or(listing_reasons.reason_code = 'B2') as reason_b2,
        bool_or(listing_reasons.reason_code = 'B3') as reason_b3,
        bool_or(listing_reasons.reason_code = 'B4') as reason_b4,
        min(greatest(listing_reasons.default_date, coalesce(listing_reasons.notice_date, listing_reasons.default_date)))
            as first_listed_date,
        min(listing_reasons.notice_date) as notice_date,
        bool_and(listing_reasons.pending_notice) as pending_notice,
        string_agg(distinct listing_reasons.lender_code, ',' order by listing_reasons.lender_code)
            filter (where listing_reasons.pending_notice) as pending_notice_lenders,
        count(*) as source_rows
    from listing_reasons
    group by listing_reasons.publication_as_of, listing_reasons.borrower_key
),

final as (
    select
        listings.publication_as_of,
        listings.borrower_key,
        listings.borrower_type,
        listings.reason_codes,
        listings.reason_b1,
        listings.reason_b2,
        listings.reason_b3,
        listings.reason_b4,
        listings.first_listed_date,
        borrower_loans.lenders_count,
        borrower_loans.total_overdue,
        borrower_loans.max_dpd,
        listings.notice_date,
        listings.pending_notice,
        listings.pending_notice_lenders,
        open_disputes.borrower_key is not null as disputed,
        open_disputes.dispute_deadline,
        primary_source.source_submission_id,
        primary_source.source_line,
        listings.source_rows
    from listings
    inner join borrower_loans on borrower_loans.borrower_key = listings.borrower_key
    inner join primary_source on primary_source.borrower_key = listings.borrower_key
    left join open_disputes on open_disputes.borrower_key = listings.borrower_key
    where listings.borrower_key not in (select borrower_key from upheld_listings)
)

select * from final
