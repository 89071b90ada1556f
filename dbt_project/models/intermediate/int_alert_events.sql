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

history as not materialized (
    -- not materialized: referenced more than once, PostgreSQL would otherwise copy the whole table first
    select * from {{ ref('int_loan_status_history') }}
),

episodes as (
    select * from {{ ref('int_default_episodes') }}
),

loans as (
    select * from {{ ref('int_loans_latest') }}
),

loans_reported as (
    -- each loan's latest reporting date
    select lender_code, loan_id, last_report_date from {{ ref('dim_loan') }}
    where last_report_date is not null
),

lenders as (
    select * from {{ ref('stg_control__lenders') }}
),

params as (
    {{ collection_parameters() }}
),

{% set alert_flags %}
        history.dpd >= params.alert_dpd_threshold as is_dpd_alert,
        nullif(concat_ws(
            ',',
            case when history.dpd >= params.blacklist_min_dpd
                and (history.last_payment_date is null
                    or history.last_payment_date < history.as_of_date - params.blacklist_no_payment_days)
                then 'B1' end,
            case when history.legal_status in ('enforcement', 'dishonest') then 'B2' end,
            case when history.fraud_flag then 'B3' end
        ), '') as blacklist_reasons
{%- endset %}

latest as (
    -- each loan's latest report (dim_loan's last_report_date, through the history's unique index)
    select
        history.*,
        {{ alert_flags }}
    from loans_reported
    inner join history
        on history.lender_code = loans_reported.lender_code
        and history.loan_id = loans_reported.loan_id
        and history.as_of_date = loans_reported.last_report_date
    cross join params
),

flagged as (
    -- every report of the loans with an alert on their latest report, for the first-seen dates
    select
        history.*,
        {{ alert_flags }}
    from (
        select lender_code, loan_id from latest
        where is_dpd_alert or blacklist_reasons is not null
    ) as alerting
    inner join history
        on history.lender_code = alerting.lender_code
        and history.loan_id = alerting.loan_id
    cross join params
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
    -- the latest reporting date of any lender
    select max({{ lender_latest_date('reporting_lenders.lender_code') }}) as data_as_of_date
    from (select distinct lender_code from {{ ref('int_submissions_effective') }}) as reporting_lenders
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
