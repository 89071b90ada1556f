{# Promises to pay (承诺还款) and whether they were kept: a payment reported with a date from the
    day of the promise up to the promised date. A promise counts once its date has passed the
    lender's latest reporting date (is_due); the monthly status report carries the month's last
    payment only, so a kept promise followed by another payment in the same month may be missed. #}

with

promises as not materialized (
    -- not materialized: referenced more than once, PostgreSQL would otherwise copy the whole table first
    select * from {{ ref('int_collection_actions') }}
    where outcome = 'promise_to_pay'
),

history as not materialized (
    select * from {{ ref('int_loan_status_history') }}
),

lender_dates as (
    select lender_code, max(as_of_date) as data_as_of_date
    from history
    group by lender_code
),

kept as (
    -- one hash join on the loan, then the date window: no per-promise probe of the history
    select
        promises.submission_id,
        promises.line,
        bool_or(history.last_payment_date between promises.action_date and promises.promise_date) as is_kept
    from promises
    inner join history
        on history.lender_code = promises.lender_code
        and history.loan_id = promises.loan_id
        and history.as_of_date >= promises.action_date
    group by promises.submission_id, promises.line
),

final as (
    select
        promises.lender_code,
        promises.loan_id,
        promises.borrower_key,
        promises.submission_id,
        promises.line,
        promises.action_date,
        promises.promise_date,
        date_trunc('month', promises.promise_date)::date as promise_month,
        promises.promise_amount,
        promises.promise_date <= lender_dates.data_as_of_date as is_due,
        coalesce(kept.is_kept, false) as is_kept
    from promises
    inner join lender_dates
        on lender_dates.lender_code = promises.lender_code
    left join kept
        on kept.submission_id = promises.submission_id
        and kept.line = promises.line
)

select * from final
