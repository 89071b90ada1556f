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

{# Bust-out (恶意骗贷 / 撸贷), one row per borrower key and signal date with loans issued within
   the surge window: the different lenders of those loans (the surge), and how many of those
   lenders report one of them in first-payment default (首期逾期) in the signal month: overdue on
   its last report of the month, overdue since at most first_payment_default_days after issue,
   no payment ever reported. Only records that may reach other members count as a default here
   (DOMAIN section 5): a loan held back (unreported, or its delinquency pending notice) does not.
   The surge itself is new loans, not negative data: every effective loans file counts. The surge
   lenders' codes stay here for the alerts (int_alert_events). Incremental like int_co_debt_signals:
   the dates from the first month the status history rebuilt, and the keys whose loans changed,
   reading only the history rows those can count (macro signal_history). #}

with

loans as (
    select * from {{ ref('int_loans_latest') }}
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

history as not materialized (
    {{ signal_history("(history.report_month + interval '1 month')::date",
                      "(" ~ signal_rebuild_from() ~ ") - interval '1 month'") }}
),

surge_loans as (
    select
        dates.signal_date,
        dates.signal_month,
        dates.bust_out_min_lenders,
        dates.bust_out_min_fpd_lenders,
        dates.first_payment_default_days,
        loans.borrower_key,
        loans.lender_code,
        loans.loan_id,
        loans.issue_date
    from dates
    inner join loans
        on loans.issue_date <= dates.signal_date
        and loans.issue_date > dates.signal_date - dates.bust_out_surge_window_days
        and loans.first_reported_date <= dates.signal_date
    {%- if is_incremental() %}
    where {{ in_signal_scope('dates.signal_date', 'loans.borrower_key') }}
    {%- endif %}
),

month_end_reports as (
    -- each loan's last report of a month, overdue with no payment ever reported: a first-payment
    -- default when it is overdue since soon enough after issue (checked in the join to the surge,
    -- on the whole (lender, loan, month) key: a separate step was estimated at one row and probed
    -- for every surge loan)
    select history.lender_code, history.loan_id, history.report_month, history.overdue_since
    from history
    inner join publishable_loans
        on publishable_loans.lender_code = history.lender_code
        and publishable_loans.loan_id = history.loan_id
    where history.is_month_last_report
        and history.dpd > 0
        and history.last_payment_date is null
        and {{ outside_upheld_episodes('history') }}
),

final as (
    select
        surge_loans.signal_date,
        surge_loans.borrower_key,
        count(distinct surge_loans.lender_code) as surge_lenders,
        count(distinct month_end_reports.lender_code) as first_payment_default_lenders,
        count(distinct surge_loans.lender_code) >= min(surge_loans.bust_out_min_lenders)
            and count(distinct month_end_reports.lender_code) >= min(surge_loans.bust_out_min_fpd_lenders)
            as is_bust_out,
        string_agg(distinct surge_loans.lender_code, ',' order by surge_loans.lender_code) as surge_lender_codes
    from surge_loans
    -- a surge loan's last report of the signal month, in first-payment default
    left join month_end_reports
        on month_end_reports.lender_code = surge_loans.lender_code
        and month_end_reports.loan_id = surge_loans.loan_id
        and month_end_reports.report_month = surge_loans.signal_month
        and month_end_reports.overdue_since <= surge_loans.issue_date + surge_loans.first_payment_default_days
    group by surge_loans.signal_date, surge_loans.borrower_key
)

select * from final
