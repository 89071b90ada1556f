{# Cross-lender events that warn other lenders of the same borrower, one row per event lender,
    borrower and event type. Only publishable records make an event (DOMAIN section 5): nothing
    held back (pending_notice, unreported, dispute_upheld, purged) reaches another member.
      - dpd_30_plus: a loan at DPD >= alert_dpd_threshold on its latest report, the lender having
        given notice of the delinquency and still reporting the loan, its current default episode
        (if any) publishable (first seen: the first report of the current delinquency at or over
        the threshold);
      - default: a publishable, ongoing default episode (违约) (first seen: the default date);
      - blacklisted: a publishable blacklist reason of int_listing_reasons (恶意逾期名单, the one
        rule table) (first seen: the date the loan was listed);
      - new_loan: a loan issued within the surge window before the exchange's latest reporting
        date (first seen: its first report), counted per lender for the 多头借贷 surge.
    The event lender's code stays here (intermediate zone); the alerts mart shows what other
    members may be shown in its place (int_lender_categories). #}

with

history as not materialized (
    -- not materialized: referenced more than once, PostgreSQL would otherwise copy the whole table first
    select * from {{ ref('int_loan_status_history') }}
),

episodes as (
    select * from {{ ref('int_episode_publishability') }}
),

listing_reasons as (
    select * from {{ ref('int_listing_reasons') }}
    where is_publishable
),

loan_publishability as (
    select * from {{ ref('int_loan_publishability') }}
),

loans as (
    select * from {{ ref('int_loans_latest') }}
),

loans_reported as (
    -- each loan's latest reporting date
    select lender_code, loan_id, last_report_date from {{ ref('dim_loan') }}
    where last_report_date is not null
),

categories as (
    select * from {{ ref('int_lender_categories') }}
),

params as (
    {{ collection_parameters() }}
),

{% set alert_flags %}
        history.dpd >= params.alert_dpd_threshold as is_dpd_alert
{%- endset %}

latest as (
    -- each loan's latest report (dim_loan's last_report_date, through the history's unique index),
    -- when its delinquency may be shown to other members
    select
        history.*,
        {{ alert_flags }}
    from loans_reported
    inner join history
        on history.lender_code = loans_reported.lender_code
        and history.loan_id = loans_reported.loan_id
        and history.as_of_date = loans_reported.last_report_date
    inner join loan_publishability
        on loan_publishability.lender_code = loans_reported.lender_code
        and loan_publishability.loan_id = loans_reported.loan_id
        and not loan_publishability.is_unreported
        and not loan_publishability.is_delinquency_pending_notice
    left join episodes
        on episodes.lender_code = history.lender_code
        and episodes.loan_id = history.loan_id
        and episodes.default_episode_no = history.default_episode_no
    cross join params
    where history.dpd >= params.alert_dpd_threshold
        and coalesce(episodes.is_publishable, true)
),

flagged as (
    -- every report of those loans, for the first-seen dates
    select
        history.*,
        {{ alert_flags }}
    from (select lender_code, loan_id from latest) as alerting
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
    where is_publishable and end_date is null
    group by lender_code, borrower_key
),

blacklist_events as (
    select
        lender_code,
        borrower_key,
        'blacklisted' as event_type,
        min(listed_since) as first_seen_date,
        max(dpd) as dpd,
        string_agg(distinct reason_code, ',' order by reason_code) as reason_codes
    from listing_reasons
    group by lender_code, borrower_key
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
        categories.shown_category as event_lender_category,
        events.borrower_key,
        events.event_type,
        events.first_seen_date,
        events.dpd,
        events.reason_codes
    from events
    inner join categories
        on categories.lender_code = events.lender_code
)

select * from final
