{{
    config(
        materialized='incremental',
        rebuild_signal_inputs={'producers': ['int_loan_status_history'], 'loan_keys': true},
        indexes=[
            {'columns': ['borrower_key', 'signal_date'], 'unique': True},
            {'columns': ['signal_date']},
        ],
    )
}}
-- depends_on: {{ ref('int_signal_loans') }}
-- depends_on: {{ ref('int_submissions_effective') }}
-- depends_on: {{ ref('int_loans_latest') }}

{# Co-debt (共债), one row per borrower key and signal date on which the key has an active loan
   in the signal month or a lender reported it overdue within the lookback: lenders with open
   (active on their last report of the month) loans and their total outstanding principal, and
   lenders that reported one of the key's loans overdue (DPD > 0) fewer than
   co_debt_overdue_lookback_days before the signal date. Only records that may reach other
   members count (DOMAIN section 5): a loan held as unreported (stale) counts in neither figure,
   and a loan whose delinquency is pending notice counts as open but not as overdue.
   Incremental (rebuild_signal_inputs, macros/signal_inputs.sql): a run rebuilds the dates from the
   first month the status history rebuilt (usually the new month) and the keys whose loans changed
   (int_signal_loans), not every key on every date, and reads only the history rows those can
   count (macro signal_history). #}

with

publishability as (
    select * from {{ ref('int_loan_publishability') }}
),

publishable_loans as (
    {{ publishable_loans() }}
),

dates as (
    select * from {{ ref('int_fraud_signal_dates') }}
    {%- if is_incremental() %}
    where signal_date >= ({{ signal_first_date() }})
    {%- endif %}
),

open_history as not materialized (
    {{ signal_history("(history.report_month + interval '1 month')::date",
                      "(" ~ signal_rebuild_from() ~ ") - interval '1 month'") }}
),

overdue_history as not materialized (
    {{ signal_history('history.as_of_date + (select max(co_debt_overdue_lookback_days) from dates)',
                      '(' ~ signal_rebuild_from() ~ ') - (select max(co_debt_overdue_lookback_days) from dates)') }}
),

open_loans as (
    -- loans active on their last report of a month, unless held as unreported (stale)
    select history.report_month, history.borrower_key, history.lender_code, history.outstanding_principal
    from open_history as history
    inner join publishability
        on publishability.lender_code = history.lender_code
        and publishability.loan_id = history.loan_id
    where history.is_month_last_report
        and history.is_active
        and not publishability.is_unreported
),

open_debt as (
    select
        dates.signal_date,
        open_loans.borrower_key,
        count(distinct open_loans.lender_code) as open_lenders,
        coalesce(sum(open_loans.outstanding_principal), 0) as total_outstanding
    from dates
    inner join open_loans
        on open_loans.report_month = dates.signal_month
    group by dates.signal_date, open_loans.borrower_key
),

overdue_reports as (
    select history.borrower_key, history.lender_code, history.as_of_date
    from overdue_history as history
    inner join publishable_loans
        on publishable_loans.lender_code = history.lender_code
        and publishable_loans.loan_id = history.loan_id
    where history.dpd > 0
        and {{ outside_upheld_episodes('history') }}
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
