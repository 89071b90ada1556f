with

source as (
    select * from {{ source('raw', 'loans') }}
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
