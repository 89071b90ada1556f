{# Publishability of each default episode (违约信息), computed once for everything a member, an
   analyst or the data subject sees (DOMAIN section 5). An episode is held back, with the first
   reason that applies:
     - purged: its purge date (end + retention years) has passed; it leaves every zone;
     - dispute_upheld: a dispute on this episode was upheld (异议成立); a later episode of the same
       loan or person is not covered (see the macro dispute_covers);
     - unreported: the loan went missing from its lender's files (int_loan_publishability);
     - pending_notice: no notice_date (不良信息告知日期) on or after the start of the delinquency
       the episode announces.
   An open dispute on it marks it (异议标注) until resolved; a rejected or withdrawn one no longer
   does. #}

{#- logged, unlike the other intermediate models: the portal's data-subject report and the
    retention purge read it outside the transform, so a crash recovery must not empty it -#}
{{ config(unlogged=false) }}

with

episodes as not materialized (
    select * from {{ ref('int_default_episodes') }}
),

loans as (
    select * from {{ ref('int_loan_publishability') }}
),

disputes as (
    select * from {{ ref('stg_control__disputes') }}
),

episode_disputes as (
    select
        episodes.lender_code,
        episodes.loan_id,
        episodes.default_episode_no,
        bool_or(disputes.dispute_status = 'upheld' and disputes.record_kind = 'default_episode') as is_dispute_upheld,
        bool_or(disputes.dispute_status = 'open' and disputes.record_kind = 'default_episode') as is_disputed,
        min(disputes.dispute_deadline) filter (
            where disputes.dispute_status = 'open' and disputes.record_kind = 'default_episode'
        ) as dispute_deadline
    from episodes
    inner join disputes
        on {{ dispute_covers('disputes', 'episodes') }}
    group by episodes.lender_code, episodes.loan_id, episodes.default_episode_no
),

flagged as (
    select
        episodes.*,
        {{ purge_date('episodes.end_date') }} as purge_date,
        episodes.latest_notice_date is not null
            and episodes.latest_notice_date >= episodes.delinquency_start as is_noticed,
        -- the notice shown: the first one reported, unless it came before the delinquency began
        case
            when episodes.first_notice_date >= episodes.delinquency_start then episodes.first_notice_date
            else episodes.latest_notice_date
        end as shown_notice_date,
        coalesce(episode_disputes.is_dispute_upheld, false) as is_dispute_upheld,
        coalesce(episode_disputes.is_disputed, false) as is_disputed,
        episode_disputes.dispute_deadline,
        coalesce(loans.is_unreported, false) as is_unreported
    from episodes
    left join episode_disputes
        on episode_disputes.lender_code = episodes.lender_code
        and episode_disputes.loan_id = episodes.loan_id
        and episode_disputes.default_episode_no = episodes.default_episode_no
    left join loans
        on loans.lender_code = episodes.lender_code
        and loans.loan_id = episodes.loan_id
),

held as (
    select
        flagged.*,
        case
            when purge_date <= current_date then 'purged'
            when is_dispute_upheld then 'dispute_upheld'
            when is_unreported then 'unreported'
            when not is_noticed then 'pending_notice'
        end as hold_reason
    from flagged
),

final as (
    select
        lender_code,
        loan_id,
        default_episode_no,
        borrower_key,
        default_date,
        delinquency_start,
        entry_reasons,
        dpd_at_default,
        outstanding_at_default,
        max_dpd,
        episode_status,
        end_date,
        purge_date,
        last_report_date,
        shown_notice_date as notice_date,
        is_noticed,
        is_unreported,
        is_dispute_upheld,
        is_disputed,
        dispute_deadline,
        hold_reason,
        hold_reason is null as is_publishable,
        default_submission_id,
        default_line
    from held
)

select * from final
