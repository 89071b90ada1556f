{# Vintages (账龄分析): for each lender, product and disbursement-month cohort, the share of the
    cohort's loans that have ever been 90+ (bucket M4 or above of rule_dpd_buckets, DPD over 90 in v1) by each month on book, from 0
    up to the lender's latest reporting month. Loans count once reported in a status file. Read
    from dim_loan (the month each loan first reached 90+) and dim_lender (reporting spans), so the
    cost follows the loan book, not the length of the status history. #}

with

loans as (
    -- the loans reported in a status file, each with the month it first reached 90+ (dim_loan)
    select * from {{ ref('dim_loan') }}
    where first_report_date is not null
),

lenders as (
    select * from {{ ref('dim_lender') }}
),

cohort_loans as (
    select
        lender_code,
        product_type,
        cohort_month,
        principal,
        {{ months_between('cohort_month', 'first_90_plus_month') }} as first_90_plus_month_on_book
    from loans
),

cohorts as (
    select
        lender_code,
        product_type,
        cohort_month,
        count(*) as cohort_loans,
        sum(principal) as cohort_principal
    from cohort_loans
    group by lender_code, product_type, cohort_month
),

grid as (
    select
        cohorts.*,
        lenders.first_report_month,
        month_on_book
    from cohorts
    inner join lenders
        on lenders.lender_code = cohorts.lender_code
    cross join lateral generate_series(
        0, greatest({{ months_between('cohorts.cohort_month', 'lenders.last_report_month') }}, 0)
    ) as month_on_book
),

final as (
    select
        grid.lender_code,
        grid.product_type,
        grid.cohort_month,
        grid.month_on_book,
        grid.cohort_loans,
        grid.cohort_principal,
        count(cohort_loans.first_90_plus_month_on_book) as ever_90_plus_loans,
        coalesce(sum(cohort_loans.principal) filter (where cohort_loans.first_90_plus_month_on_book is not null), 0)
            as ever_90_plus_principal,
        {{ safe_ratio('count(cohort_loans.first_90_plus_month_on_book)', 'grid.cohort_loans') }}
            as ever_90_plus_share,
        {{ safe_ratio(
            'coalesce(sum(cohort_loans.principal) filter (where cohort_loans.first_90_plus_month_on_book is not null), 0)',
            'grid.cohort_principal'
        ) }} as ever_90_plus_principal_share,
        -- the cohort was disbursed after the lender started reporting: its early months were observed
        grid.cohort_month >= grid.first_report_month as is_fully_observed
    from grid
    left join cohort_loans
        on cohort_loans.lender_code = grid.lender_code
        and cohort_loans.product_type = grid.product_type
        and cohort_loans.cohort_month = grid.cohort_month
        and cohort_loans.first_90_plus_month_on_book <= grid.month_on_book
    group by
        grid.lender_code, grid.product_type, grid.cohort_month, grid.month_on_book,
        grid.cohort_loans, grid.cohort_principal, grid.first_report_month
)

select * from final
