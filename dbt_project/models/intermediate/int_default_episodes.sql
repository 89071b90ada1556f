{{
    config(
        indexes=[
            {'columns': ['lender_code', 'loan_id', 'default_episode_no'], 'unique': True},
        ],
    )
}}

{# Default episodes (违约), one row per episode: from the report that opened it to the one that
    closed it (settled, compensated, cured) or, while it is open, the latest report.
    A plain table: its episode reports (the defaulted loans' rows) are few, so rebuilding it in
    full costs less than an incremental run carrying each episode's figures forward, and hardly
    grows with the history. #}

with

episode_reports as (
    select *
    from {{ ref('int_loan_status_history') }}
    where default_episode_no is not null
),

episodes as (
    -- every figure in one aggregate over the episode's reports (a join of separate aggregates on
    -- the episode key was estimated at one row and planned as a quadratic nested loop)
    select
        lender_code,
        loan_id,
        default_episode_no,
        max(borrower_key) filter (where starts_default_episode) as borrower_key,
        min(as_of_date) as default_date,
        max(default_entry_codes) filter (where starts_default_episode) as entry_reasons,
        max(dpd) filter (where starts_default_episode) as dpd_at_default,
        max(outstanding_principal) filter (where starts_default_episode) as outstanding_at_default,
        max(overdue_amount) filter (where starts_default_episode) as overdue_amount_at_default,
        max(overdue_since) filter (where starts_default_episode) as overdue_since_at_default,
        max(dpd) as max_dpd,
        max(standardized_class) as worst_standardized_class,
        max(as_of_date) filter (where ends_default_episode) as end_date,
        max(default_end_reason) as end_reason,
        max(as_of_date) as last_report_date,
        -- the latest report's (one report per loan and date)
        (array_agg(account_status order by as_of_date desc))[1] as last_account_status,
        (array_agg(outstanding_principal order by as_of_date desc))[1] as last_outstanding_principal,
        count(*) as reports_in_episode,
        min(notice_date) as first_notice_date,
        max(notice_date) as latest_notice_date,
        max(status_submission_id) filter (where starts_default_episode) as default_submission_id,
        max(status_line) filter (where starts_default_episode) as default_line
    from episode_reports
    group by lender_code, loan_id, default_episode_no
),

final as (
    select
        lender_code,
        loan_id,
        default_episode_no,
        borrower_key,
        default_date,
        entry_reasons,
        dpd_at_default,
        outstanding_at_default,
        overdue_amount_at_default,
        overdue_since_at_default,
        -- the start of the delinquency the episode announces: a notice (不良信息告知) must be on or after it
        coalesce(least(overdue_since_at_default, default_date), default_date) as delinquency_start,
        max_dpd,
        worst_standardized_class,
        end_date,
        case
            when end_reason is not null then end_reason
            when last_account_status = 'written_off' then 'written_off'
            else 'ongoing'
        end as episode_status,
        last_report_date,
        last_account_status,
        last_outstanding_principal,
        reports_in_episode,
        first_notice_date,
        latest_notice_date,
        default_submission_id,
        default_line
    from episodes
)

select * from final
