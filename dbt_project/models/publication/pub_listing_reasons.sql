{# Why each borrower is on the blacklist (恶意逾期名单): one row per loan currently in default and
   each reason B1-B4 that holds on its latest report (DOMAIN section 5). Every reason implies the
   loan is in default, so the current default episode carries the notice_date (不良信息告知日期)
   and the source row (status_submission_id, status_line) of the report that makes it hold.
   Loans whose record a dispute upheld (异议成立) are left out. #}

with

history as not materialized (
    -- not materialized: referenced more than once, PostgreSQL would otherwise copy the whole table first
    select * from {{ ref('int_loan_status_history') }}
),

loans as (
    select * from {{ ref('dim_loan') }}
),

episodes as (
    select * from {{ ref('fct_default_episodes') }}
),

disputes as (
    select * from {{ source('exchange_control', 'disputes') }}
),

as_of as (
    -- the latest reporting date of any lender
    select max({{ lender_latest_date('reporting_lenders.lender_code') }}) as publication_as_of
    from (select distinct lender_code from {{ ref('int_submissions_effective') }}) as reporting_lenders
),

latest_reports as (
    -- the latest report of each loan in default on it (dim_loan), through the history's unique index
    select history.*
    from loans
    inner join history
        on history.lender_code = loans.lender_code
        and history.loan_id = loans.loan_id
        and history.as_of_date = loans.last_report_date
    where loans.is_in_default
),

payments as materialized (
    -- computed once: inlined, a nested loop can re-aggregate it for every loan in default
    select history.lender_code, history.loan_id, max(history.last_payment_date) as last_payment_date
    from latest_reports
    inner join history
        on history.lender_code = latest_reports.lender_code
        and history.loan_id = latest_reports.loan_id
    group by history.lender_code, history.loan_id
),

upheld as (
    select distinct lender_code, loan_id
    from disputes
    where status = 'upheld' and record_kind = 'default_episode'
),

in_default as (
    select
        latest_reports.lender_code,
        latest_reports.loan_id,
        latest_reports.borrower_key,
        latest_reports.borrower_type,
        latest_reports.as_of_date,
        latest_reports.dpd,
        latest_reports.overdue_amount,
        latest_reports.legal_status,
        latest_reports.fraud_flag,
        latest_reports.status_submission_id,
        latest_reports.status_line,
        payments.last_payment_date,
        episodes.default_episode_no,
        episodes.default_date,
        episodes.entry_reasons,
        episodes.latest_notice_date as notice_date
    from latest_reports
    inner join payments
        on payments.lender_code = latest_reports.lender_code
        and payments.loan_id = latest_reports.loan_id
    inner join episodes
        on episodes.lender_code = latest_reports.lender_code
        and episodes.loan_id = latest_reports.loan_id
        and episodes.default_episode_no = latest_reports.default_episode_no
    left join upheld
        on upheld.lender_code = latest_reports.lender_code
        and upheld.loan_id = latest_reports.loan_id
    where latest_reports.is_in_default
        and upheld.loan_id is null
),

multi_lender as materialized (
    -- computed once: inlined, the planner re-ran it for every loan in default
    select borrower_key
    from in_default
    group by borrower_key
    having count(distinct lender_code) >= 2
),

reasons as (
    select in_default.*, 'B1' as reason_code
    from in_default
    where dpd > 90
        and (last_payment_date is null or last_payment_date <= as_of_date - 90)

    union all

    select in_default.*, 'B2' as reason_code
    from in_default
    where legal_status in ('enforcement', 'dishonest')

    union all

    select in_default.*, 'B3' as reason_code
    from in_default
    where fraud_flag or coalesce(entry_reasons, '') like '%fraud%'

    union all

    select in_default.*, 'B4' as reason_code
    from in_default
    where borrower_key in (select borrower_key from multi_lender)
),

final as (
    select
        as_of.publication_as_of,
        reasons.borrower_key,
        reasons.borrower_type,
        reasons.lender_code,
        reasons.loan_id,
        reasons.reason_code,
        reasons.default_episode_no,
        reasons.default_date,
        reasons.as_of_date as report_date,
        reasons.dpd,
        reasons.overdue_amount,
        reasons.last_payment_date,
        reasons.legal_status,
        reasons.fraud_flag,
        reasons.notice_date,
        reasons.notice_date is null as pending_notice,
        reasons.status_submission_id as source_submission_id,
        reasons.status_line as source_line
    from reasons
    cross join as_of
)

select * from final
