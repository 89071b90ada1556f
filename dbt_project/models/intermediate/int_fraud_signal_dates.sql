{# The dates the fraud signals are computed as of (信号日期): the month end of every month for which
   a lender's loans or loan_status file is effective, with the fraud-signal rules in force on it. #}

with

submissions as (
    select * from {{ ref('int_submissions_effective') }}
    where is_effective and kind in ('loans', 'loan_status')
),

rules as (
    select * from {{ ref('int_fraud_signal_rules') }}
),

month_ends as (
    select distinct (date_trunc('month', as_of_date) + interval '1 month - 1 day')::date as signal_date
    from submissions
),

final as (
    select
        month_ends.signal_date,
        date_trunc('month', month_ends.signal_date)::date as signal_month,
        rules.*
    from month_ends
    inner join rules
        on rules.effective_from <= month_ends.signal_date
        and (rules.effective_until is null or month_ends.signal_date < rules.effective_until)
)

select * from final
