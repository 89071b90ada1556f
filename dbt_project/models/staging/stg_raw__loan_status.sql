{{ config(tests_scope_files=true) }}
with

source as (
    select * from {{ source('raw', 'loan_status') }}
),

renamed as (
    select
        submission_id,
        line,
        lender_code,
        as_of_date,
        loan_id,
        account_status,
        outstanding_principal,
        overdue_principal,
        overdue_interest,
        overdue_since,
        dpd_reported,
        last_payment_date,
        last_payment_amount,
        lender_risk_class::integer as lender_risk_class,
        notice_date,
        legal_status,
        fraud_flag
    from source
)

select * from renamed
