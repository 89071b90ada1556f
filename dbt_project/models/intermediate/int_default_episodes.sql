{#- logged, unlike the other intermediate models: disputes read its episode numbers outside the
    transform, so a crash recovery must not empty it -#}
{{
    config(
        materialized='incremental',
        unlogged=false,
        rebuild_producer='int_loan_status_history',
        rebuild_month_column='last_report_date',
        rebuild_unique_key=['lender_code', 'loan_id'],
        rebuild_drops_gone_loans=true,
        indexes=[
            {'columns': ['lender_code', 'loan_id', 'default_episode_no'], 'unique': True},
        ],
    )
}}
-- depends_on: {{ ref('int_submissions_effective') }}
-- depends_on: {{ ref('int_loans_latest') }}

{# Default episodes (违约), one row per episode: from the report that opened it to the one that
    closed it (settled, compensated, cured) or, while it is open, the latest report.
    Incremental: a run rebuilds every episode of the loans with an episode report in the months
    int_loan_status_history rebuilt, and of those whose episodes built reach such a month (a
    corrected file may have ended or removed them). When every episode built of a loan is older
    than the months rebuilt (carried: the monthly case), its figures are the episodes built
    combined with the month's episode reports; otherwise they are recomputed from the loan's
    reports, read through the history's unique index. Rebuilt whole every month, this model read
    the whole history to find the few reports in default (2.3 GB at a million loans x 24 months);
    recomputed from each loan's reports, it read every report of a loan in default since the
    start (7.2 s on 6 months of history at a million loans, 26.6 s on 24). #}

with

{% if is_incremental() %}

rebuild as (
    {{ rebuild_window() }}
),

recent_reports as (
    -- the episode reports of the months rebuilt
    select history.*
    from {{ ref('int_loan_status_history') }} as history
    where {{ in_rebuilt_months('history.status_submission_id') }}
        and history.default_episode_no is not null
),

recomputed_loans as (
    -- loans with an episode built in a rebuilt month: its reports there may have changed or gone
    select distinct built.lender_code, built.loan_id
    from {{ this }} as built
    inner join rebuild
        on rebuild.lender_code = built.lender_code
        and built.last_report_date >= rebuild.rebuild_month
),

carried_loans as (
    select distinct recent_reports.lender_code, recent_reports.loan_id
    from recent_reports
    left join recomputed_loans
        on recomputed_loans.lender_code = recent_reports.lender_code
        and recomputed_loans.loan_id = recent_reports.loan_id
    where recomputed_loans.loan_id is null
),

episode_reports as (
    -- a carried loan's episode reports in the months rebuilt (added to its episodes built)
    select recent_reports.*
    from recent_reports
    inner join carried_loans
        on carried_loans.lender_code = recent_reports.lender_code
        and carried_loans.loan_id = recent_reports.loan_id

    union all

    -- a recomputed loan's every episode report: offset 0 keeps the subquery a probe per loan
    -- through the (lender_code, loan_id, as_of_date) index
    select history.*
    from recomputed_loans
    cross join lateral (
        select *
        from {{ ref('int_loan_status_history') }} as loan_history
        where loan_history.lender_code = recomputed_loans.lender_code
            and loan_history.loan_id = recomputed_loans.loan_id
            and loan_history.default_episode_no is not null
        offset 0
    ) as history
),

{% else %}

episode_reports as (
    select *
    from {{ ref('int_loan_status_history') }}
    where default_episode_no is not null
),

{% endif %}

report_episodes as (
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
        max(status_line) filter (where starts_default_episode) as default_line,
        false as is_built
    from episode_reports
    group by lender_code, loan_id, default_episode_no
),

{% if is_incremental() %}

carried_episodes as (
    -- a carried loan's episodes built, in report_episodes' columns
    select
        built.lender_code,
        built.loan_id,
        built.default_episode_no,
        built.borrower_key,
        built.default_date,
        built.entry_reasons,
        built.dpd_at_default,
        built.outstanding_at_default,
        built.overdue_amount_at_default,
        built.overdue_since_at_default,
        built.max_dpd,
        built.worst_standardized_class,
        built.end_date,
        -- an episode has an end reason exactly when it has an end date (the model's data test)
        case when built.end_date is not null then built.episode_status end as end_reason,
        built.last_report_date,
        built.last_account_status,
        built.last_outstanding_principal,
        built.reports_in_episode,
        built.first_notice_date,
        built.latest_notice_date,
        built.default_submission_id,
        built.default_line,
        true as is_built
    from {{ this }} as built
    inner join carried_loans
        on carried_loans.lender_code = built.lender_code
        and carried_loans.loan_id = built.loan_id
),

episodes as (
    -- each figure over the union of the two parts' reports: the maximum of their maximums, the
    -- minimum of their minimums, the sum of their counts, the latest report's of the later part
    select
        lender_code,
        loan_id,
        default_episode_no,
        max(borrower_key) as borrower_key,
        min(default_date) as default_date,
        max(entry_reasons) as entry_reasons,
        max(dpd_at_default) as dpd_at_default,
        max(outstanding_at_default) as outstanding_at_default,
        max(overdue_amount_at_default) as overdue_amount_at_default,
        max(overdue_since_at_default) as overdue_since_at_default,
        max(max_dpd) as max_dpd,
        max(worst_standardized_class) as worst_standardized_class,
        max(end_date) as end_date,
        max(end_reason) as end_reason,
        max(last_report_date) as last_report_date,
        (array_agg(last_account_status order by last_report_date desc))[1] as last_account_status,
        (array_agg(last_outstanding_principal order by last_report_date desc))[1] as last_outstanding_principal,
        sum(reports_in_episode)::bigint as reports_in_episode,
        min(first_notice_date) as first_notice_date,
        max(latest_notice_date) as latest_notice_date,
        max(default_submission_id) as default_submission_id,
        max(default_line) as default_line,
        bool_or(is_built) as is_built
    from (
        select * from report_episodes
        union all
        select * from carried_episodes
    ) as parts
    group by lender_code, loan_id, default_episode_no
),

{% else %}

episodes as (
    select * from report_episodes
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
        -- the notices of the delinquency (不良信息告知), its reports before the default included
        least(episodes.first_notice_date, before_default.first_notice_date) as first_notice_date,
        greatest(episodes.latest_notice_date, before_default.latest_notice_date) as latest_notice_date,
        default_submission_id,
        default_line
    from episodes
    -- a lender may give notice once, on the first overdue report, long before the default: the
    -- delinquency's reports before the default are probed through the history's unique index, once
    -- per episode (an episode built keeps the notices it found)
    left join lateral (
        select
            min(history.notice_date) as first_notice_date,
            max(history.notice_date) as latest_notice_date
        from {{ ref('int_loan_status_history') }} as history
        where not episodes.is_built
            and history.lender_code = episodes.lender_code
            and history.loan_id = episodes.loan_id
            and history.as_of_date >= episodes.overdue_since_at_default
            and history.as_of_date < episodes.default_date
            and history.overdue_since = episodes.overdue_since_at_default
    ) as before_default on true
)

select * from final
