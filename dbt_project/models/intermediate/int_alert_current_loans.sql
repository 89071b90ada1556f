{# The loans each lender may be warned about: open (on the books) at the lender's latest reporting
    date. The alerts about other lenders' delinquencies and the surge take those at DPD 0 (the
    borrower is still current with the lender); the fraud-signal alerts every open one. #}

with

history as (
    select * from {{ ref('int_loan_status_history') }}
),

lender_dates as materialized (
    -- each lender's latest reporting date, through the (lender_code, report_month) index
    select lenders.lender_code, {{ lender_latest_date('lenders.lender_code') }} as data_as_of_date
    from (select distinct lender_code from {{ ref('int_submissions_effective') }}) as lenders
),

final as (
    select
        history.lender_code,
        history.loan_id,
        history.borrower_key,
        history.as_of_date,
        history.dpd
    from history
    inner join lender_dates
        on lender_dates.lender_code = history.lender_code
        and history.report_month = date_trunc('month', lender_dates.data_as_of_date)::date
        and lender_dates.data_as_of_date = history.as_of_date
    where history.is_active
)

select * from final
