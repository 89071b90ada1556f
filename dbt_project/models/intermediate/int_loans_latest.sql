{{
    config(
        large_sorts=true,
        materialized='incremental',
        rebuild_loan_log=true,
        indexes=[{'columns': ['lender_code', 'loan_id'], 'unique': True}],
    )
}}

{# Every loan's latest row, computed whole each run; an incremental run replaces only the rows
   that differ and logs the loans whose attributes changed or that went for the models that
   hold rows per loan (macros/loan_log.sql). #}

with

loans as (
    select * from {{ ref('stg_raw__loans') }}
),

submissions as (
    select * from {{ ref('int_submissions_effective') }}
),

effective_rows as (
    select
        loans.*,
        submissions.seq
    from loans
    inner join submissions
        on submissions.submission_id = loans.submission_id
    where submissions.is_effective
),

ranked as (
    select
        effective_rows.*,
        -- a later row for the same loan supersedes an earlier one
        row_number() over (
            partition by lender_code, loan_id
            order by as_of_date desc, seq desc, submission_id desc, line desc
        ) as recency,
        min(as_of_date) over (partition by lender_code, loan_id) as first_reported_date
    from effective_rows
),

latest as (
    select
        lender_code,
        loan_id,
        borrower_key,
        borrower_type,
        id_type,
        region_code,
        product_type,
        guarantee_type,
        guarantor_key,
        principal,
        currency,
        annual_rate,
        issue_date,
        maturity_date,
        repayment_method,
        installments,
        date_trunc('month', issue_date)::date as issue_month,
        first_reported_date,
        as_of_date as attributes_as_of_date,
        submission_id as loans_submission_id,
        line as loans_line,
        -- fingerprint of the attributes: a change makes incremental models rebuild the loan
        md5(row(
            borrower_key, borrower_type, id_type, region_code, product_type, guarantee_type,
            guarantor_key, principal, currency, annual_rate, issue_date, maturity_date,
            repayment_method, installments
        )::text) as loan_attributes_hash
    from ranked
    where recency = 1
)

select * from latest
