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
    -- each lender's loans on its latest date, through the history's (lender_code, report_month)
    -- index, one lender at a time (offset 0): as a join it read the whole history every month
    select
        current_reports.lender_code,
        current_reports.loan_id,
        current_reports.borrower_key,
        current_reports.as_of_date,
        current_reports.dpd
    from lender_dates
    cross join lateral (
        select history.*
        from history
        where history.lender_code = lender_dates.lender_code
            and history.report_month = date_trunc('month', lender_dates.data_as_of_date)::date
            and history.as_of_date = lender_dates.data_as_of_date
            and history.is_active
        offset 0
    ) as current_reports
)

select * from final
