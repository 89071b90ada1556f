{# Blacklist reasons (恶意逾期名单列入原因): the one model that decides them. One row per loan in a
   default episode on its latest report and reason of the rule table rule_listing_reasons (in the
   rules version of that report) whose every criterion holds:
     - min_dpd: DPD at least this;
     - no_repayment_days: no repayment evidence in that many days up to the report: no
       last_payment_date inside the window and no fall in outstanding principal or overdue amount
       between consecutive reports whose later one lies inside it;
     - legal_statuses: the report's legal_status is one of these;
     - fraud_flag: the report's fraud flag has this value (so a cleared flag ends the reason);
     - min_default_lenders: the borrower is in a publishable, ongoing default episode at this many
       lenders or more at once.
   Each row carries its publishability: the episode's hold (int_episode_publishability), or
   dispute_upheld when a listing dispute covering this loan and reason was upheld. Only
   publishable rows reach members (pub_blacklist_candidates, the alerts); held ones are shown to
   the reporting lender and the association. #}

with

history as (
    select * from {{ ref('int_loan_status_history') }}
),

episodes as not materialized (
    select * from {{ ref('int_episode_publishability') }}
),

rules as (
    select * from {{ ref('rule_listing_reasons') }}
),

disputes as (
    select * from {{ ref('stg_control__disputes') }}
),

latest_reports as (
    -- the latest report of each loan in default on it
    select * from {{ ref('int_loan_latest_reports') }}
    where is_in_default
),

default_lenders as materialized (
    -- lenders at which each borrower is in a publishable, ongoing default episode
    select borrower_key, count(distinct lender_code) as default_lender_count
    from episodes
    where is_publishable and end_date is null
    group by borrower_key
),

in_default as materialized (
    -- materialized: planned on its own, so the join to default_lenders is hashed. Planned together
    -- with the rules below, it was estimated at one row and looped over every borrower's count
    -- for each loan in default (574 million comparisons, 97 s at a million loans)
    select
        latest_reports.lender_code,
        latest_reports.loan_id,
        latest_reports.borrower_key,
        latest_reports.borrower_type,
        latest_reports.rules_version,
        latest_reports.as_of_date,
        latest_reports.dpd,
        latest_reports.overdue_amount,
        latest_reports.last_payment_date,
        latest_reports.legal_status,
        coalesce(latest_reports.fraud_flag, false) as fraud_flag,
        latest_reports.status_submission_id,
        latest_reports.status_line,
        episodes.default_episode_no,
        episodes.default_date,
        episodes.delinquency_start,
        episodes.notice_date,
        episodes.hold_reason as episode_hold_reason,
        episodes.is_disputed as is_episode_disputed,
        episodes.dispute_deadline as episode_dispute_deadline,
        coalesce(default_lenders.default_lender_count, 0) as default_lender_count
    from latest_reports
    inner join episodes
        on episodes.lender_code = latest_reports.lender_code
        and episodes.loan_id = latest_reports.loan_id
        and episodes.default_episode_no = latest_reports.default_episode_no
    left join default_lenders
        on default_lenders.borrower_key = latest_reports.borrower_key
),

reasons as (
    select
        in_default.*,
        rules.reason_code
    from in_default
    inner join rules
        on rules.rules_version = in_default.rules_version
    where (rules.min_dpd is null or in_default.dpd >= rules.min_dpd)
        and (rules.legal_statuses is null
            or in_default.legal_status = any(string_to_array(rules.legal_statuses, '|')))
        and (rules.fraud_flag is null or in_default.fraud_flag = rules.fraud_flag)
        and (rules.min_default_lenders is null or in_default.default_lender_count >= rules.min_default_lenders)
        and (
            rules.no_repayment_days is null
            or not exists (
                -- the loan's reports in the window, through the history's unique index
                select 1
                from history as window_reports
                where window_reports.lender_code = in_default.lender_code
                    and window_reports.loan_id = in_default.loan_id
                    and window_reports.as_of_date > in_default.as_of_date - rules.no_repayment_days
                    and window_reports.as_of_date <= in_default.as_of_date
                    and (
                        window_reports.amounts_fell
                        or window_reports.last_payment_date > in_default.as_of_date - rules.no_repayment_days
                    )
            )
        )
),

reason_disputes as (
    select
        reasons.lender_code,
        reasons.loan_id,
        reasons.reason_code,
        bool_or(disputes.dispute_status = 'upheld') as is_dispute_upheld,
        bool_or(disputes.dispute_status = 'open') as is_disputed,
        min(disputes.dispute_deadline) filter (where disputes.dispute_status = 'open') as dispute_deadline
    from reasons
    inner join disputes
        on {{ dispute_covers('disputes', 'reasons') }}
        and disputes.record_kind = 'listing'
        and (disputes.reason_code is null or disputes.reason_code = reasons.reason_code)
    group by reasons.lender_code, reasons.loan_id, reasons.reason_code
),

held as (
    select
        reasons.lender_code,
        reasons.loan_id,
        reasons.borrower_key,
        reasons.borrower_type,
        reasons.reason_code,
        reasons.rules_version,
        reasons.as_of_date as report_date,
        reasons.default_episode_no,
        reasons.default_date,
        reasons.delinquency_start,
        reasons.notice_date,
        -- listed from the later of the default and the notice
        greatest(reasons.default_date, reasons.notice_date) as listed_since,
        reasons.dpd,
        reasons.overdue_amount,
        reasons.last_payment_date,
        reasons.legal_status,
        reasons.fraud_flag,
        coalesce(
            reasons.episode_hold_reason,
            case when reason_disputes.is_dispute_upheld then 'dispute_upheld' end
        ) as hold_reason,
        reasons.is_episode_disputed or coalesce(reason_disputes.is_disputed, false) as is_disputed,
        least(reasons.episode_dispute_deadline, reason_disputes.dispute_deadline) as dispute_deadline,
        reasons.status_submission_id as source_submission_id,
        reasons.status_line as source_line
    from reasons
    left join reason_disputes
        on reason_disputes.lender_code = reasons.lender_code
        and reason_disputes.loan_id = reasons.loan_id
        and reason_disputes.reason_code = reasons.reason_code
),

final as (
    select
        held.*,
        held.hold_reason is null as is_publishable
    from held
)

select * from final
