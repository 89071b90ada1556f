{{
    config(
        materialized='incremental',
        rebuild_producer='int_loan_status_history',
        rebuild_month_column='to_month',
        indexes=[
            {'columns': ['lender_code', 'to_month']},
        ],
    )
}}
-- depends_on: {{ ref('int_submissions_effective') }}

{# Roll rates (迁徙率): where the loans active in a DPD bucket at one month's end stand at the
    next month's end, per lender and product. The destination is a DPD bucket, a terminal status
    (settled, compensated, written_off, transferred) or unreported (the lender's next file does not
    report the loan). Only month pairs where the lender reported the next month count.
    An incremental run rebuilds, per lender, the pairs ending in a month that the status history
    rebuilt, from the month-end rows of the month before on. #}

with

{% if is_incremental() %}

rebuild as (
    {{ rebuild_window() }}
),

{% endif %}

month_end as (
    select
        loan_status.lender_code,
        loan_status.loan_id,
        loan_status.product_type,
        loan_status.report_month,
        loan_status.dpd_bucket,
        loan_status.outstanding_principal,
        loan_status.is_active,
        loan_status.account_status
    from {{ ref('fct_loan_status') }} as loan_status
    {% if is_incremental() %}
    inner join rebuild
        on rebuild.lender_code = loan_status.lender_code
        and loan_status.report_month >= (rebuild.rebuild_month - interval '1 month')::date
    {% endif %}
    where loan_status.is_month_last_report
    {% if is_incremental() %}
        and {{ in_rebuilt_months('loan_status.status_submission_id', first_month="(rebuild.rebuild_month - interval '1 month')::date") }}
    {% endif %}
),

lender_months as (
    select distinct lender_code, report_month
    from month_end
),

next_reports as (
    -- each month-end row with the loan's next month-end row, in one sort by loan (loan_id first:
    -- see int_collection_first_contacts). Joined to itself, the month ends were sorted twice and
    -- merged: 6.6 -> 3.1 s at 200k loans x 24 months, the same rows
    select
        month_end.*,
        lead(month_end.report_month) over by_loan as next_report_month,
        lead(month_end.account_status) over by_loan as next_account_status,
        lead(month_end.dpd_bucket) over by_loan as next_dpd_bucket,
        lead(month_end.outstanding_principal) over by_loan as next_outstanding_principal
    from month_end
    window by_loan as (partition by month_end.loan_id, month_end.lender_code order by month_end.report_month)
),

transitions as (
    select
        origin.lender_code,
        origin.product_type,
        origin.report_month as from_month,
        next_month.report_month as to_month,
        origin.dpd_bucket as from_bucket,
        case
            -- the loan's next month-end row is not in the next month: not reported there
            when origin.next_report_month is distinct from next_month.report_month then 'unreported'
            when origin.next_account_status in ('settled', 'compensated', 'written_off', 'transferred')
                then origin.next_account_status
            else origin.next_dpd_bucket
        end as to_bucket,
        origin.outstanding_principal as from_balance,
        coalesce(
            case when origin.next_report_month = next_month.report_month then origin.next_outstanding_principal end,
            0
        ) as to_balance
    from next_reports as origin
    inner join lender_months as next_month
        on next_month.lender_code = origin.lender_code
        and next_month.report_month = (origin.report_month + interval '1 month')::date
    where origin.is_active
),

aggregated as (
    select
        lender_code,
        product_type,
        from_month,
        to_month,
        from_bucket,
        to_bucket,
        count(*) as loans,
        sum(from_balance) as from_balance,
        sum(to_balance) as to_balance
    from transitions
    group by lender_code, product_type, from_month, to_month, from_bucket, to_bucket
),

final as (
    select
        aggregated.*,
        {{ safe_ratio(
            'loans',
            'sum(loans) over (partition by lender_code, product_type, from_month, from_bucket)'
        ) }} as count_roll_rate,
        {{ safe_ratio(
            'from_balance',
            'sum(from_balance) over (partition by lender_code, product_type, from_month, from_bucket)'
        ) }} as balance_roll_rate
    from aggregated
)

select * from final
