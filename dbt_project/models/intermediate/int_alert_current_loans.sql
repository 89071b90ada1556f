{# The loans each lender may be warned about: at the lender's latest reporting date the loan is on
    the books (normal or restructured) at DPD 0, i.e. the borrower is still current with it. #}

with

history as (
    select * from {{ ref('int_loan_status_history') }}
),

lender_dates as (
    select lender_code, max(as_of_date) as data_as_of_date
    from history
    group by lender_code
),

final as (
    select
        history.lender_code,
        history.loan_id,
        history.borrower_key,
        history.as_of_date
    from history
    inner join lender_dates
        on lender_dates.lender_code = history.lender_code
        and lender_dates.data_as_of_date = history.as_of_date
    where history.is_active
        and history.dpd = 0
)

select * from final
