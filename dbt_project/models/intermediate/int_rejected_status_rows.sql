{{ config(materialized='view') }}

{# Loans whose row in a loan_status file in force the exchange itself rejected (quarantined), one
   row per loan and file: the lender did report the loan there, so it is neither "disappeared"
   (int_consistency_findings) nor missing from that file (int_loan_publishability). Only rows
   whose loan_id was one of the lender's valid contract numbers carry it. #}

with

row_problems as (
    select * from {{ ref('stg_control__row_problems') }}
),

submissions as (
    select * from {{ ref('int_submissions_effective') }}
),

final as (
    select distinct
        submissions.lender_code,
        row_problems.loan_id,
        submissions.as_of_date,
        submissions.report_month
    from row_problems
    inner join submissions
        on submissions.submission_id = row_problems.submission_id
    where submissions.kind = 'loan_status'
        and submissions.is_effective
        and row_problems.severity = 'error'
        and row_problems.loan_id is not null
)

select * from final
