{# Co-debt (共债), one row per borrower key and signal date on which the key has an active loan
   in the signal month or a lender reported it overdue within the lookback: lenders with open
   (active) loans and their total outstanding principal (from int_borrower_months), and lenders
   that reported one of the key's loans overdue (DPD > 0) fewer than co_debt_overdue_lookback_days
   before the signal date. Only records that may reach other members count as overdue (DOMAIN
   section 5): a loan held back (unreported, or its delinquency pending notice) does not. #}

with

borrower_months as (
    select * from {{ ref('int_borrower_months') }}
),

history as (
    select * from {{ ref('int_loan_status_history') }}
),

publishable_loans as (
    {{ publishable_loans() }}
),

dates as (
    select * from {{ ref('int_fraud_signal_dates') }}
),

open_debt as (
    select
        dates.signal_date,
        borrower_months.borrower_key,
        borrower_months.active_lender_count as open_lenders,
        borrower_months.outstanding_principal as total_outstanding
    from dates
    inner join borrower_months
        on borrower_months.report_month = dates.signal_month
    where borrower_months.active_lender_count >= 1
),

overdue_reports as (
    select history.borrower_key, history.lender_code, history.as_of_date
    from history
    inner join publishable_loans
        on publishable_loans.lender_code = history.lender_code
        and publishable_loans.loan_id = history.loan_id
    where history.dpd > 0
),

overdue as (
    select
        dates.signal_date,
        overdue_reports.borrower_key,
        count(distinct overdue_reports.lender_code) as overdue_lenders_6m
    from dates
    inner join overdue_reports
        on overdue_reports.as_of_date <= dates.signal_date
        and overdue_reports.as_of_date > dates.signal_date - dates.co_debt_overdue_lookback_days
    group by dates.signal_date, overdue_reports.borrower_key
),

final as (
    select
        coalesce(open_debt.signal_date, overdue.signal_date) as signal_date,
        coalesce(open_debt.borrower_key, overdue.borrower_key) as borrower_key,
        coalesce(open_debt.open_lenders, 0) as open_lenders,
        coalesce(open_debt.total_outstanding, 0) as total_outstanding,
        coalesce(overdue.overdue_lenders_6m, 0) as overdue_lenders_6m
    from open_debt
    full outer join overdue
        on overdue.signal_date = open_debt.signal_date
        and overdue.borrower_key = open_debt.borrower_key
)

select * from final
