{{
    config(
        materialized='incremental',
        rebuild_producer='int_loan_status_history',
        rebuild_month_column='as_of_date',
        rebuild_unique_key=['lender_code', 'loan_id'],
        rebuild_drops_gone_loans=true,
        indexes=[
            {'columns': ['lender_code', 'loan_id'], 'unique': True},
        ],
    )
}}
-- depends_on: {{ ref('int_submissions_effective') }}
-- depends_on: {{ ref('int_loans_latest') }}

{# Each loan's latest report (最新报送), one row per reported loan: the columns of its latest row
    in int_loan_status_history that the publication rules (int_loan_publishability,
    int_alert_events, int_listing_reasons) and dim_loan's latest_* columns read, and the latest
    notice (不良信息告知) the lender gave during the delinquency that report shows; and the date of
    the loan's first report, which int_signal_loans and dim_loan read (held here, not in dim_loan,
    so the fraud signals need not wait for dim_loan's pass over the whole history).
    Those models rebuild whole every month; joined to the history they read all of it each time
    (2.3 GB at a million loans x 24 months, once per model). This table holds a row per loan and
    is rebuilt incrementally: a run replaces the loans reported in the months the history rebuilt
    and those whose latest report was in such a month (a corrected file may have dropped them:
    their latest report before it is read through the history's unique index). The notice of a
    loan whose row built is older than those months and shows the same delinquency (or one that
    began after it) is the row built's combined with those months' reports; any other overdue
    loan's is read from the reports of its delinquency. #}

with

history as not materialized (
    -- not materialized: referenced more than once, PostgreSQL would otherwise copy the whole table first
    select * from {{ ref('int_loan_status_history') }}
),

{% if is_incremental() %}

rebuild as (
    {{ rebuild_window() }}
),

recent_latest as materialized (
    -- the latest report in the months rebuilt: any report there is later than every one before
    select distinct on (history.lender_code, history.loan_id) history.*
    from history
    where {{ in_rebuilt_months('history.status_submission_id') }}
    order by history.lender_code, history.loan_id, history.as_of_date desc
),

earlier_latest as (
    -- a loan whose latest report built is in a rebuilt month and which has no report there now:
    -- its latest report before, one loan at a time through the history's unique index
    select earlier.*
    from {{ this }} as built
    inner join rebuild
        on rebuild.lender_code = built.lender_code
        and built.as_of_date >= rebuild.rebuild_month
    cross join lateral (
        select *
        from history as loan_history
        where loan_history.lender_code = built.lender_code
            and loan_history.loan_id = built.loan_id
        order by loan_history.as_of_date desc
        limit 1
    ) as earlier
    where not exists (
        select 1 from recent_latest
        where recent_latest.lender_code = built.lender_code
            and recent_latest.loan_id = built.loan_id
    )
),

latest as (
    -- the first report's date: the row built's when it is older than the months rebuilt (the
    -- reports before them are unchanged), otherwise the loan's first report through the
    -- history's unique index (a new loan, or one whose first report a corrected file replaced)
    select
        rebuilt.*,
        case
            when built.first_report_date < rebuild.rebuild_month then built.first_report_date
            else (
                select min(loan_history.as_of_date)
                from history as loan_history
                where loan_history.lender_code = rebuilt.lender_code
                    and loan_history.loan_id = rebuilt.loan_id
            )
        end as first_report_date
    from (
        select * from recent_latest
        union all
        select * from earlier_latest
    ) as rebuilt
    left join {{ this }} as built
        on built.lender_code = rebuilt.lender_code
        and built.loan_id = rebuilt.loan_id
    left join rebuild
        on rebuild.lender_code = rebuilt.lender_code
),

recent_overdue as materialized (
    -- the overdue reports of the months rebuilt, narrow (read once, by the files in force)
    select history.lender_code, history.loan_id, history.as_of_date, history.overdue_since, history.notice_date
    from history
    where {{ in_rebuilt_months('history.status_submission_id') }}
        and history.overdue_since is not null
),

notice_modes as (
    -- carried: the loan's row built is older than the months rebuilt and the delinquency its
    -- latest report shows is the one of that row (whose notice it holds) or began after it, so
    -- every report of the delinquency before those months is counted in the row built
    select
        latest.lender_code,
        latest.loan_id,
        latest.overdue_since,
        coalesce(built.as_of_date < rebuild.rebuild_month
            and ((built.dpd > 0 and built.overdue_since = latest.overdue_since)
                or latest.overdue_since > built.as_of_date), false) as is_carried,
        case when built.dpd > 0 and built.overdue_since = latest.overdue_since
            then built.delinquency_notice_date end as built_notice_date
    from latest
    left join {{ this }} as built
        on built.lender_code = latest.lender_code
        and built.loan_id = latest.loan_id
    left join rebuild
        on rebuild.lender_code = latest.lender_code
    where latest.dpd > 0
),

probed as (
    select lender_code, loan_id, overdue_since
    from notice_modes
    where not is_carried
),

{% else %}

latest as (
    -- the first report's date in the window over the loan's reports that sorts them for the
    -- latest: one sort, not a second pass over the history
    select distinct on (reports.lender_code, reports.loan_id) reports.*
    from (
        select
            history.*,
            min(history.as_of_date) over (
                partition by history.lender_code, history.loan_id
                order by history.as_of_date desc
                rows between unbounded preceding and unbounded following
            ) as first_report_date
        from history
    ) as reports
    order by reports.lender_code, reports.loan_id, reports.as_of_date desc
),

probed as (
    select lender_code, loan_id, overdue_since
    from latest
    where dpd > 0
),

{% endif %}

delinquency_notices as (
    -- the latest notice among the reports of the delinquency the latest report shows (same
    -- overdue_since; none is dated before it, rule R_DATE_ORDER). A loan in default since the
    -- start has every report in it: read through the unique index for each loan, this grew with
    -- the history (54.7 s of a month's run at a million loans x 24 months), so a carried loan's
    -- notice is the row built's combined with the months rebuilt's reports
    select probed.lender_code, probed.loan_id, notices.notice_date
    from probed
    cross join lateral (
        select max(delinquency.notice_date) as notice_date
        from history as delinquency
        where delinquency.lender_code = probed.lender_code
            and delinquency.loan_id = probed.loan_id
            and delinquency.as_of_date >= probed.overdue_since
            and delinquency.overdue_since = probed.overdue_since
    ) as notices
    {%- if is_incremental() %}

    union all

    select
        notice_modes.lender_code,
        notice_modes.loan_id,
        greatest(max(notice_modes.built_notice_date), max(recent_overdue.notice_date)) as notice_date
    from notice_modes
    left join recent_overdue
        on recent_overdue.lender_code = notice_modes.lender_code
        and recent_overdue.loan_id = notice_modes.loan_id
        and recent_overdue.as_of_date >= notice_modes.overdue_since
        and recent_overdue.overdue_since = notice_modes.overdue_since
    where notice_modes.is_carried
    group by notice_modes.lender_code, notice_modes.loan_id
    {%- endif %}
),

final as (
    select
        latest.lender_code,
        latest.loan_id,
        latest.as_of_date,
        latest.report_month,
        latest.borrower_key,
        latest.borrower_type,
        latest.rules_version,
        latest.status_submission_id,
        latest.status_line,
        latest.account_status,
        latest.is_active,
        latest.outstanding_principal,
        latest.dpd,
        latest.dpd_bucket,
        latest.standardized_class,
        latest.overdue_since,
        latest.overdue_amount,
        latest.last_payment_date,
        latest.legal_status,
        latest.fraud_flag,
        latest.is_in_default,
        latest.default_episode_no,
        latest.first_report_date,
        delinquency_notices.notice_date as delinquency_notice_date
    from latest
    left join delinquency_notices
        on delinquency_notices.lender_code = latest.lender_code
        and delinquency_notices.loan_id = latest.loan_id
)

select * from final
