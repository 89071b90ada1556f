{# Default episodes (违约事件): one row per episode, with the loan's product and region for
    cure-rate and loss analysis. An episode whose purge date has passed is left out (retention,
    征信业管理条例 art. 16), as the default feed candidates leave it out; aggregates built before
    keep what they counted. #}

with

episodes as (
    select * from {{ ref('int_default_episodes') }}
),

loans as (
    select * from {{ ref('int_loans_latest') }}
),

final as (
    select
        {{ loan_key('episodes.lender_code', 'episodes.loan_id') }} as loan_key,
        episodes.lender_code,
        episodes.loan_id,
        episodes.default_episode_no,
        episodes.borrower_key,
        loans.borrower_type,
        loans.product_type,
        loans.region_code,
        episodes.default_date,
        date_trunc('month', episodes.default_date)::date as default_month,
        episodes.entry_reasons,
        episodes.dpd_at_default,
        episodes.outstanding_at_default,
        episodes.overdue_amount_at_default,
        episodes.max_dpd,
        episodes.worst_standardized_class,
        episodes.episode_status,
        episodes.end_date,
        {{ purge_date('episodes.end_date') }} as purge_date,
        episodes.last_report_date,
        episodes.last_account_status,
        episodes.last_outstanding_principal,
        episodes.reports_in_episode,
        episodes.latest_notice_date,
        episodes.default_submission_id,
        episodes.default_line
    from episodes
    inner join loans
        on loans.lender_code = episodes.lender_code
        and loans.loan_id = episodes.loan_id
    where episodes.end_date is null
        or {{ purge_date('episodes.end_date') }} > current_date
)

select * from final
