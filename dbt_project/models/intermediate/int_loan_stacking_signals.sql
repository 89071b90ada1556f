{{
    config(
        materialized='incremental',
        rebuild_signal_inputs={'loan_keys': true},
        indexes=[
            {'columns': ['borrower_key', 'signal_date'], 'unique': True},
            {'columns': ['signal_date']},
        ],
    )
}}
-- depends_on: {{ ref('int_signal_loans') }}

{# Loan stacking (叠贷), one row per borrower key and signal date with a loan issued within the
   stacking window: loans issued fewer than stacking_window_days before the signal date (and
   reported by then) at how many different lenders, and their total principal. A new loan is not
   negative data, so notice does not hold it back: every effective loans file counts (de-keyed
   rows are gone, stg_raw__loans). The lenders' codes stay here for the alerts (int_alert_events).
   Incremental (macros/signal_inputs.sql): a run rebuilds new dates or dates whose rules changed,
   and the keys whose loans changed (int_signal_loans). #}

with

loans as (
    select * from {{ ref('int_loans_latest') }}
),

dates as (
    select * from {{ ref('int_fraud_signal_dates') }}
    {%- if is_incremental() %}
    where signal_date >= ({{ signal_first_date() }})
    {%- endif %}
),

new_loans as (
    select
        dates.signal_date,
        dates.stacking_min_lenders,
        loans.borrower_key,
        loans.lender_code,
        loans.principal
    from dates
    inner join loans
        on loans.issue_date <= dates.signal_date
        and loans.issue_date > dates.signal_date - dates.stacking_window_days
        and loans.first_reported_date <= dates.signal_date
    {%- if is_incremental() %}
    where {{ in_signal_scope('dates.signal_date', 'loans.borrower_key') }}
    {%- endif %}
),

final as (
    select
        signal_date,
        borrower_key,
        count(distinct lender_code) as stacking_lenders,
        count(*) as stacking_new_loans,
        sum(principal) as stacking_new_principal,
        count(distinct lender_code) >= min(stacking_min_lenders) as is_loan_stacking,
        string_agg(distinct lender_code, ',' order by lender_code) as stacking_lender_codes
    from new_loans
    group by signal_date, borrower_key
)

select * from final
