{# Whether a loan's current negative data may reach other members (DOMAIN sections 4-5), one row
   per reported loan:
     - unreported: the loan is missing from the lender's two latest accepted loan_status files
       while the lender reports others, and its last report did not close it (settled,
       compensated, transferred). A row the exchange rejected counts as reported (the lender
       did send it; int_rejected_status_rows). Its episodes, listings and alerts are held back.
     - pending_notice: it is overdue on its latest report and the lender gave no notice
       (notice_date) on or after the day the delinquency began (overdue_since).
   The episode- and listing-level rules build on this (int_episode_publishability,
   int_listing_reasons). #}

with

latest_reports as (
    -- each loan's latest report, and the notice given during its delinquency
    select * from {{ ref('int_loan_latest_reports') }}
),

submissions as (
    select * from {{ ref('int_submissions_effective') }}
),

rejected as (
    -- the latest file in which the exchange rejected the loan's row: the lender did report it there
    select lender_code, loan_id, max(as_of_date) as last_rejected_date
    from {{ ref('int_rejected_status_rows') }}
    group by lender_code, loan_id
),

lender_files as materialized (
    -- each lender's second latest accepted loan_status file: a loan last reported before it is
    -- missing from two consecutive files
    select lender_code, max(as_of_date) filter (where file_rank = 2) as second_latest_file_date
    from (
        select
            lender_code,
            as_of_date,
            dense_rank() over (partition by lender_code order by as_of_date desc) as file_rank
        from submissions
        where kind = 'loan_status' and is_effective
    ) as ranked
    group by lender_code
),

final as (
    select
        latest_reports.lender_code,
        latest_reports.loan_id,
        latest_reports.borrower_key,
        latest_reports.as_of_date as last_report_date,
        latest_reports.account_status as last_account_status,
        lender_files.second_latest_file_date,
        latest_reports.account_status not in ('settled', 'compensated', 'transferred')
            and greatest(latest_reports.as_of_date, rejected.last_rejected_date)
                < coalesce(lender_files.second_latest_file_date, date '0001-01-01')
            as is_unreported,
        latest_reports.dpd as last_dpd,
        latest_reports.overdue_since as delinquency_start,
        latest_reports.delinquency_notice_date,
        latest_reports.dpd > 0
            and coalesce(latest_reports.delinquency_notice_date < latest_reports.overdue_since, true)
            as is_delinquency_pending_notice
    from latest_reports
    left join lender_files
        on lender_files.lender_code = latest_reports.lender_code
    left join rejected
        on rejected.lender_code = latest_reports.lender_code
        and rejected.loan_id = latest_reports.loan_id
)

select * from final
