{{
    config(
        materialized='incremental',
        rebuild_producer=['int_collection_actions', 'int_loan_status_history'],
        rebuild_lookback_days='contact_cure_window_days',
        rebuild_month_column='latest_month',
        indexes=[
            {'columns': ['submission_id', 'line'], 'unique': True},
            {'columns': ['lender_code', 'latest_month']},
        ],
    )
}}
-- depends_on: {{ ref('int_submissions_effective') }}
-- depends_on: {{ ref('rule_collection_parameters') }}

{# Promises to pay (承诺还款) and whether they were kept: a payment reported with a date from the
    day of the promise up to the promised date. A promise counts once its date has passed the
    lender's latest reporting date (is_due); the monthly status report carries the month's last
    payment only, so a kept promise followed by another payment in the same month may be missed.
    An incremental run rebuilds the promises made or due from a cure window
    (contact_cure_window_days, about two month ends) before the first month
    int_collection_actions or int_loan_status_history rebuilt and before the lender's latest
    report ahead of it: the report that shows a payment is the first one after it. #}

with

{% if is_incremental() %}

rebuild as (
    {{ rebuild_window() }}
),

promises as materialized (
    -- the promises made in the window, and those made before it but due in it (held already:
    -- read back through the actions' primary key). Materialized: read four times, each read
    -- filtered the window's actions again (3.6M at a million loans, for 0.5M promises)
    select * from ({{ collection_rows_from('int_collection_actions', 'rebuild') }}) as made
    where made.outcome = 'promise_to_pay'
    union all
    select actions.*
    from {{ this }} as held
    inner join rebuild
        on rebuild.lender_code = held.lender_code
        and held.latest_month >= rebuild.rebuild_month
        and date_trunc('month', held.action_date) < rebuild.rebuild_month
    inner join {{ ref('int_collection_actions') }} as actions
        on actions.submission_id = held.submission_id
        and actions.line = held.line
),

history as not materialized (
    select * from {{ ref('int_loan_status_history') }}
    where {{ in_rebuilt_months('status_submission_id',
        first_month="date_trunc('month', (select min(promises.action_date) from promises))::date") }}
),

{% else %}

promises as not materialized (
    -- not materialized: referenced more than once, PostgreSQL would otherwise copy the whole table first
    select * from {{ ref('int_collection_actions') }}
    where outcome = 'promise_to_pay'
),

history as not materialized (
    select * from {{ ref('int_loan_status_history') }}
),

{% endif %}

lender_dates as materialized (
    -- each lender's latest reporting date, through the (lender_code, report_month) index
    select lenders.lender_code, {{ lender_latest_date('lenders.lender_code') }} as data_as_of_date
    from (select distinct lender_code from promises) as lenders
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
        greatest(promises.action_month, date_trunc('month', promises.promise_date)::date) as latest_month,
        promises.promise_amount,
        promises.promise_date <= lender_dates.data_as_of_date as is_due,
        coalesce(kept.is_kept, false) as is_kept
    from promises
    inner join lender_dates
        on lender_dates.lender_code = promises.lender_code
        and lender_dates.data_as_of_date is not null
    left join kept
        on kept.submission_id = promises.submission_id
        and kept.line = promises.line
)

select * from final
