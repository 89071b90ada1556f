{{ config(tests_scope_files=true) }}
{# Loan rows of accepted loans files. A row retention has de-keyed (dekeyed_at: the loan's
    negative record passed its purge date) is left out: it no longer belongs to any person, so
    every borrower-keyed model loses the loan at its next run. #}

with

source as (
    select * from {{ source('raw', 'loans') }}
    where dekeyed_at is null
),

renamed as (
    select
        submission_id,
        line,
        lender_code,
        as_of_date,
        loan_id,
        borrower_type,
        id_type,
        borrower_key::text as borrower_key,
        name_hash::text as name_hash,
        phone_hash::text as phone_hash,
        region_code::text as region_code,
        product_type,
        guarantee_type,
        guarantor_key::text as guarantor_key,
        principal,
        currency::text as currency,
        annual_rate,
        issue_date,
        maturity_date,
        repayment_method,
        installments
    from source
)

select * from renamed
