{# Multi-lender borrowing (多头借贷): per month and borrower type, how many borrowers have an
    active loan at 1, 2, 3, ... lenders (by borrower key across all lenders). #}

with

borrower_months as not materialized (
    -- not materialized: referenced more than once, PostgreSQL would otherwise copy the whole table first
    select * from {{ ref('int_borrower_months') }}
),

active_borrowers as (
    select *
    from borrower_months
    where active_lender_count >= 1
),

aggregated as (
    select
        report_month,
        borrower_type,
        active_lender_count,
        count(*) as borrowers,
        sum(active_loans) as active_loans,
        sum(outstanding_principal) as outstanding_principal,
        count(*) filter (where lenders_in_default >= 1) as borrowers_in_default
    from active_borrowers
    group by report_month, borrower_type, active_lender_count
),

final as (
    select
        aggregated.*,
        {{ safe_ratio('borrowers', 'sum(borrowers) over (partition by report_month, borrower_type)') }}
            as share_of_borrowers,
        {{ safe_ratio(
            'outstanding_principal',
            'sum(outstanding_principal) over (partition by report_month, borrower_type)'
        ) }} as share_of_outstanding
    from aggregated
)

select * from final
