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
    notice (不良信息告知) the lender gave during the delinquency that report shows.
    Those models rebuild whole every month; joined to the history they read all of it each time
    (2.3 GB at a million loans x 24 months, once per model). This table holds a row per loan and
    is rebuilt incrementally: a run replaces the loans reported in the months the history rebuilt
    and those whose latest report was in such a month (a corrected file may have dropped them:
    their latest report before it is read through the history's unique index). #}

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
    select * from recent_latest
    union all
    select * from earlier_latest
),

{% else %}

latest as (
    select distinct on (history.lender_code, history.loan_id) history.*
    from history
    order by history.lender_code, history.loan_id, history.as_of_date desc
),

{% endif %}

delinquency_notices as (
    -- the latest notice among the reports of the delinquency the latest report shows (same
    -- overdue_since; none is dated before it, rule R_DATE_ORDER), through the unique index
    select latest.lender_code, latest.loan_id, notices.notice_date
    from latest
    cross join lateral (
        select max(delinquency.notice_date) as notice_date
        from history as delinquency
        where delinquency.lender_code = latest.lender_code
            and delinquency.loan_id = latest.loan_id
            and delinquency.as_of_date >= latest.overdue_since
            and delinquency.overdue_since = latest.overdue_since
    ) as notices
    where latest.dpd > 0
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
        delinquency_notices.notice_date as delinquency_notice_date
    from latest
    left join delinquency_notices
        on delinquency_notices.lender_code = latest.lender_code
        and delinquency_notices.loan_id = latest.loan_id
)

select * from final
