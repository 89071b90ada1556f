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
   borrower key, the name and phone hashes, and the loan's issue date and principal. The fraud
   signals read this model, so it keeps to what may reach other members (DOMAIN section 5):
     - rows that retention de-keyed are gone already (stg_raw__loans);
     - an identity report is not negative data: notice (which holds back a delinquency) and an
       unreported status do not hold it back;
     - a phone link (the key and the phone hash as this loan reported it) contested in a dispute
       (record_kind phone_link) that was upheld (异议成立) loses its phone hash: the row still
       counts for names and loans, the link no longer for phone sharing or clusters; one under an
       open dispute is marked (is_phone_link_disputed, 异议标注). A rejected or withdrawn dispute
       changes nothing. #}

with

loans as (
    select * from {{ ref('stg_raw__loans') }}
),

submissions as (
    select * from {{ ref('int_submissions_effective') }}
    where is_effective
),

link_disputes as (
    select
        borrower_key,
        lender_code,
        loan_id,
        phone_hash,
        bool_or(dispute_status = 'upheld') as is_upheld,
        bool_or(dispute_status = 'open') as is_open
    from {{ ref('stg_control__disputes') }}
    where record_kind = 'phone_link'
    group by borrower_key, lender_code, loan_id, phone_hash
),

final as (
    select
        loans.lender_code,
        loans.loan_id,
        loans.borrower_key,
        loans.name_hash,
        case when coalesce(link_disputes.is_upheld, false) then null else loans.phone_hash end as phone_hash,
        not coalesce(link_disputes.is_upheld, false) and coalesce(link_disputes.is_open, false)
            as is_phone_link_disputed,
        loans.as_of_date as reported_date,
        loans.issue_date,
        loans.principal
    from loans
    inner join submissions
        on submissions.submission_id = loans.submission_id
    left join link_disputes
        on link_disputes.borrower_key = loans.borrower_key
        and link_disputes.lender_code = loans.lender_code
        and link_disputes.loan_id = loans.loan_id
        and link_disputes.phone_hash = loans.phone_hash
)

select * from final
