{{
    config(
        materialized='incremental',
        rebuild_key_log=true,
        indexes=[{'columns': ['lender_code', 'loan_id'], 'unique': True}],
    )
}}

{# What the fraud signals count about each loan beside its reports, one row per loan: its key,
   loan attributes, first report, publishability (notice, staleness: int_loan_publishability) and
   the default episodes whose dispute was upheld, as one hash. A loan whose hash changed, appeared
   or went has its keys logged (macros/key_log.sql), so the signal models rebuild those keys'
   rows on every date from the loan's first report instead of every key on every date. #}

with

loans as (
    select * from {{ ref('int_loans_latest') }}
),

latest_reports as (
    select * from {{ ref('int_loan_latest_reports') }}
),

publishability as (
    select * from {{ ref('int_loan_publishability') }}
),

disputes as (
    select * from {{ ref('stg_control__disputes') }}
),

upheld_episodes as (
    select lender_code, loan_id, array_agg(default_episode_no order by default_episode_no) as episode_nos
    from disputes
    where record_kind = 'default_episode'
        and dispute_status = 'upheld'
    group by lender_code, loan_id
),

final as (
    select
        loans.lender_code,
        loans.loan_id,
        loans.borrower_key,
        least(loans.first_reported_date, latest_reports.first_report_date) as first_reported_date,
        md5(row(
            loans.borrower_key,
            loans.issue_date,
            loans.principal,
            loans.first_reported_date,
            latest_reports.first_report_date,
            publishability.is_unreported,
            publishability.is_delinquency_pending_notice,
            upheld_episodes.episode_nos
        )::text) as signal_state_hash
    from loans
    left join latest_reports
        on latest_reports.lender_code = loans.lender_code
        and latest_reports.loan_id = loans.loan_id
    left join publishability
        on publishability.lender_code = loans.lender_code
        and publishability.loan_id = loans.loan_id
    left join upheld_episodes
        on upheld_episodes.lender_code = loans.lender_code
        and upheld_episodes.loan_id = loans.loan_id
)

select * from final
