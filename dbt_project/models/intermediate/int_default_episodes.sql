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
    select
        lender_code,
        loan_id,
        default_episode_no,
        min(as_of_date) as default_date,
        max(as_of_date) as last_report_date,
        max(as_of_date) filter (where ends_default_episode) as end_date,
        max(default_end_reason) as end_reason,
        max(dpd) as max_dpd,
        max(standardized_class) as worst_standardized_class,
        count(*) as reports_in_episode
    from episode_reports
    group by lender_code, loan_id, default_episode_no
),

episode_edges as (
    select
        episode_reports.lender_code,
        episode_reports.loan_id,
        episode_reports.default_episode_no,
        max(episode_reports.borrower_key) filter (where episode_reports.starts_default_episode) as borrower_key,
        max(episode_reports.default_entry_codes) filter (where episode_reports.starts_default_episode)
            as entry_reasons,
        max(episode_reports.dpd) filter (where episode_reports.starts_default_episode) as dpd_at_default,
        max(episode_reports.outstanding_principal) filter (where episode_reports.starts_default_episode)
            as outstanding_at_default,
        max(episode_reports.overdue_amount) filter (where episode_reports.starts_default_episode)
            as overdue_amount_at_default,
        max(episode_reports.overdue_since) filter (where episode_reports.starts_default_episode)
            as overdue_since_at_default,
        max(episode_reports.status_submission_id) filter (where episode_reports.starts_default_episode)
            as default_submission_id,
        max(episode_reports.status_line) filter (where episode_reports.starts_default_episode)
            as default_line,
        min(episode_reports.notice_date) as first_notice_date,
        max(episode_reports.notice_date) as latest_notice_date
    from episode_reports
    group by episode_reports.lender_code, episode_reports.loan_id, episode_reports.default_episode_no
),

latest_reports as (
    select distinct on (lender_code, loan_id, default_episode_no)
        lender_code,
        loan_id,
        default_episode_no,
        account_status as last_account_status,
        outstanding_principal as last_outstanding_principal
    from episode_reports
    order by lender_code, loan_id, default_episode_no, as_of_date desc
),

episode_figures as (
    -- the figures over the reports read
    select
        episodes.lender_code,
        episodes.loan_id,
        episodes.default_episode_no,
        episode_edges.borrower_key,
        episodes.default_date,
        episode_edges.entry_reasons,
        episode_edges.dpd_at_default,
        episode_edges.outstanding_at_default,
        episode_edges.overdue_amount_at_default,
        episode_edges.overdue_since_at_default,
        episodes.max_dpd,
        episodes.worst_standardized_class,
        episodes.end_date,
        episodes.end_reason,
        episodes.last_report_date,
        latest_reports.last_account_status,
        latest_reports.last_outstanding_principal,
        episodes.reports_in_episode,
        episode_edges.first_notice_date,
        episode_edges.latest_notice_date,
        episode_edges.default_submission_id,
        episode_edges.default_line
    from episodes
    inner join episode_edges
        on episode_edges.lender_code = episodes.lender_code
        and episode_edges.loan_id = episodes.loan_id
        and episode_edges.default_episode_no = episodes.default_episode_no
    inner join latest_reports
        on latest_reports.lender_code = episodes.lender_code
        and latest_reports.loan_id = episodes.loan_id
        and latest_reports.default_episode_no = episodes.default_episode_no
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
    from episode_figures
)

select * from final
