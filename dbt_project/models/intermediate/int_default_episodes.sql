{{
    config(
        materialized='incremental',
        rebuild_producer='int_loan_status_history',
        rebuild_month_column='last_report_date',
        rebuild_unique_key=['lender_code', 'loan_id', 'default_episode_no'],
        indexes=[
            {'columns': ['lender_code', 'loan_id', 'default_episode_no'], 'unique': True},
            {'columns': ['lender_code', 'last_report_date']},
        ],
    )
}}
-- depends_on: {{ ref('int_submissions_effective') }}

{# Default episodes (违约), one row per episode: from the report that opened it to the one that
    closed it (settled, compensated, cured) or, while it is open, the latest report.
    An incremental run rebuilds the episodes with a report in the months int_loan_status_history
    rebuilt, and those whose last report was in a rebuilt month (they may be gone). When every
    report already counted in an episode is older than the months rebuilt, its figures are the
    row built combined with the rebuilt months' reports; otherwise they are recomputed from all
    the episode's reports. #}

with

{% if is_incremental() %}

rebuild as (
    {{ rebuild_window() }}
),

recent as (
    -- the episode reports of the months rebuilt
    select history.*
    from {{ ref('int_loan_status_history') }} as history
    where {{ in_rebuilt_months('history.status_submission_id') }}
        and history.default_episode_no is not null
),

built as (
    select
        built.*,
        case when built.end_date is not null then built.episode_status end as end_reason
    from {{ this }} as built
),

rebuilt_modes as (
    -- carried: every report counted in the row built is older than the months rebuilt
    select
        rebuilt_episodes.lender_code,
        rebuilt_episodes.loan_id,
        rebuilt_episodes.default_episode_no,
        coalesce(built.last_report_date < rebuild.rebuild_month, false) as is_carried
    from (select distinct lender_code, loan_id, default_episode_no from recent) as rebuilt_episodes
    inner join rebuild
        on rebuild.lender_code = rebuilt_episodes.lender_code
    left join built
        on built.lender_code = rebuilt_episodes.lender_code
        and built.loan_id = rebuilt_episodes.loan_id
        and built.default_episode_no = rebuilt_episodes.default_episode_no
),

episode_reports as (
    -- carried episodes: the rebuilt months' reports; the others: all their reports
    select recent.*
    from recent
    inner join rebuilt_modes
        on rebuilt_modes.lender_code = recent.lender_code
        and rebuilt_modes.loan_id = recent.loan_id
        and rebuilt_modes.default_episode_no = recent.default_episode_no
    where rebuilt_modes.is_carried

    union all

    select history.*
    from rebuilt_modes
    inner join {{ ref('int_loan_status_history') }} as history
        on history.lender_code = rebuilt_modes.lender_code
        and history.loan_id = rebuilt_modes.loan_id
        and history.default_episode_no = rebuilt_modes.default_episode_no
    where not rebuilt_modes.is_carried
),

{% else %}

episode_reports as (
    select *
    from {{ ref('int_loan_status_history') }}
    where default_episode_no is not null
),

{% endif %}

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

{% if is_incremental() %}

merged as (
    -- carried episodes: the row built (older reports) combined with the rebuilt months' reports
    select
        figures.lender_code,
        figures.loan_id,
        figures.default_episode_no,
        greatest(built.borrower_key, figures.borrower_key) as borrower_key,
        least(built.default_date, figures.default_date) as default_date,
        greatest(built.entry_reasons, figures.entry_reasons) as entry_reasons,
        greatest(built.dpd_at_default, figures.dpd_at_default) as dpd_at_default,
        greatest(built.outstanding_at_default, figures.outstanding_at_default) as outstanding_at_default,
        greatest(built.overdue_amount_at_default, figures.overdue_amount_at_default) as overdue_amount_at_default,
        greatest(built.overdue_since_at_default, figures.overdue_since_at_default) as overdue_since_at_default,
        greatest(built.max_dpd, figures.max_dpd) as max_dpd,
        greatest(built.worst_standardized_class, figures.worst_standardized_class) as worst_standardized_class,
        greatest(built.end_date, figures.end_date) as end_date,
        greatest(built.end_reason, figures.end_reason) as end_reason,
        figures.last_report_date,
        figures.last_account_status,
        figures.last_outstanding_principal,
        built.reports_in_episode + figures.reports_in_episode as reports_in_episode,
        least(built.first_notice_date, figures.first_notice_date) as first_notice_date,
        greatest(built.latest_notice_date, figures.latest_notice_date) as latest_notice_date,
        greatest(built.default_submission_id, figures.default_submission_id) as default_submission_id,
        greatest(built.default_line, figures.default_line) as default_line
    from episode_figures as figures
    inner join rebuilt_modes
        on rebuilt_modes.lender_code = figures.lender_code
        and rebuilt_modes.loan_id = figures.loan_id
        and rebuilt_modes.default_episode_no = figures.default_episode_no
        and rebuilt_modes.is_carried
    inner join built
        on built.lender_code = figures.lender_code
        and built.loan_id = figures.loan_id
        and built.default_episode_no = figures.default_episode_no

    union all

    select figures.*
    from episode_figures as figures
    inner join rebuilt_modes
        on rebuilt_modes.lender_code = figures.lender_code
        and rebuilt_modes.loan_id = figures.loan_id
        and rebuilt_modes.default_episode_no = figures.default_episode_no
    where not rebuilt_modes.is_carried
),

{% else %}

merged as (
    select * from episode_figures
),

{% endif %}

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
    from merged
)

select * from final
