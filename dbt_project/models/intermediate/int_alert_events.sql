{# Cross-lender events that warn other lenders of the same borrower, one row per event lender,
    borrower and event type, judged at each loan's latest report:
      - dpd_30_plus: a loan at DPD >= alert_dpd_threshold (first seen: the first report of the
        current delinquency at or over the threshold);
      - default: an open default episode (违约) (first seen: the default date);
      - blacklisted: a blacklist reason (恶意逾期名单) B1 DPD over 90 with no repayment in the last
        90 days, B2 legal_status enforcement or dishonest, B3 fraud_flag (first seen: the first
        report with the reason); B4 (in default at two or more lenders) is borrower-wide and is
        judged in mart_lender_alerts without the alerted lender's own loans;
      - new_loan: a loan issued within the surge window before the exchange's latest reporting
        date (first seen: its first report), counted per lender for the 多头借贷 surge.
    The event lender's code stays here (intermediate zone); the alerts mart shows its category only. #}

with

history as (
    select * from {{ ref('int_loan_status_history') }}
),

episodes as (
    select * from {{ ref('int_default_episodes') }}
),

loans as (
    select * from {{ ref('int_loans_latest') }}
),

lenders as (
    select * from {{ ref('stg_control__lenders') }}
),

params as (
    {{ collection_parameters() }}
),

flagged as (
    select
        history.*,
        history.dpd >= params.alert_dpd_threshold as is_dpd_alert,
        nullif(concat_ws(
            ',',
            case when history.dpd >= params.blacklist_min_dpd
                and (history.last_payment_date is null
                    or history.last_payment_date < history.as_of_date - params.blacklist_no_payment_days)
                then 'B1' end,
            case when history.legal_status in ('enforcement', 'dishonest') then 'B2' end,
            case when history.fraud_flag then 'B3' end
        ), '') as blacklist_reasons,
        row_number() over (partition by history.lender_code, history.loan_id order by history.as_of_date desc)
            as recency
    from history
    cross join params
),

latest as (
    select * from flagged where recency = 1
),

dpd_events as (
    select
        latest.lender_code,
        latest.borrower_key,
        'dpd_30_plus' as event_type,
        min(flagged.as_of_date) as first_seen_date,
        max(latest.dpd) as dpd,
        cast(null as text) as reason_codes
    from latest
    inner join flagged
        on flagged.lender_code = latest.lender_code
        and flagged.loan_id = latest.loan_id
        and flagged.overdue_since = latest.overdue_since
        and flagged.is_dpd_alert
    where latest.is_dpd_alert
    group by latest.lender_code, latest.borrower_key
),

default_events as (
    select
        lender_code,
        borrower_key,
        'default' as event_type,
        min(default_date) as first_seen_date,
        max(max_dpd) as dpd,
        string_agg(distinct entry_reasons, ',') as reason_codes
    from episodes
    where end_date is null
    group by lender_code, borrower_key
),

blacklist_events as (
    select
        latest.lender_code,
        latest.borrower_key,
        'blacklisted' as event_type,
        min(flagged.as_of_date) as first_seen_date,
        max(latest.dpd) as dpd,
        string_agg(distinct latest.blacklist_reasons, ',') as reason_codes
    from latest
    inner join flagged
        on flagged.lender_code = latest.lender_code
        and flagged.loan_id = latest.loan_id
        and flagged.blacklist_reasons is not null
    where latest.blacklist_reasons is not null
    group by latest.lender_code, latest.borrower_key
),

exchange_date as (
    select max(as_of_date) as data_as_of_date from history
),

new_loan_events as (
    select
        loans.lender_code,
        loans.borrower_key,
        'new_loan' as event_type,
        min(loans.first_reported_date) as first_seen_date,
        cast(null as integer) as dpd,
        cast(null as text) as reason_codes
    from loans
    cross join exchange_date
    cross join params
    where loans.issue_date > exchange_date.data_as_of_date - params.surge_window_days
        and loans.issue_date <= exchange_date.data_as_of_date
    group by loans.lender_code, loans.borrower_key
),

events as (
    select * from dpd_events
    union all
    select * from default_events
    union all
    select * from blacklist_events
    union all
    select * from new_loan_events
),

final as (
    select
        events.lender_code as event_lender_code,
        lenders.lender_category as event_lender_category,
        events.borrower_key,
        events.event_type,
        events.first_seen_date,
        events.dpd,
        events.reason_codes
    from events
    inner join lenders
        on lenders.lender_code = events.lender_code
)

select * from final
