{{
    config(
        indexes=[
            {'columns': ['borrower_key']},
            {'columns': ['phone_hash']},
        ],
    )
}}

{# What each lender reported of a borrower's identity, on keys only (身份信息报送): one row per
   row of an effective loans file (a correction's rows replace the file corrected), with the
   borrower key, the name and phone hashes, and the loan's issue date and principal. Rows that
   retention de-keyed are gone already (stg_raw__loans). The fraud signals read this model. #}

with

loans as (
    select * from {{ ref('stg_raw__loans') }}
),

submissions as (
    select * from {{ ref('int_submissions_effective') }}
    where is_effective
),

final as (
    select
        loans.lender_code,
        loans.loan_id,
        loans.borrower_key,
        loans.name_hash,
        loans.phone_hash,
        loans.as_of_date as reported_date,
        loans.issue_date,
        loans.principal
    from loans
    inner join submissions
        on submissions.submission_id = loans.submission_id
)

select * from final
