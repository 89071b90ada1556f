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
        date (first seen: its first report), counted per lender for the 多头借贷 surge;
      - loan_stacking, bust_out, phone_shared, identity_mismatch: the borrower key carries that
        fraud signal (int_*_signals, thresholds of seed rule_fraud_signals) on the latest signal
        date, one row per lender involved in it (the stacking or surge lenders, the lenders that
        reported a link on the shared phones within 3 months, the lenders whose names for the key
        were compared). First seen: the first signal date of the run of consecutive signal dates
        on which the key carried it, so the event keeps its date while the signal stays and
        starts anew after a gap. signal_figure is the signal's own count, signal_window_days its
        window, is_disputed the phone-link disputed mark. The signal models read publishable
        records only.
    The event lender's code stays here (intermediate zone); the alerts mart shows what other
    members may be shown in its place (int_lender_categories). #}

with

history as (
    select * from {{ ref('int_loan_status_history') }}
),

episodes as not materialized (
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

latest_reports as (
    -- each loan's latest report
    select * from {{ ref('int_loan_latest_reports') }}
),

categories as (
    select * from {{ ref('int_lender_categories') }}
),

params as (
    {{ collection_parameters() }}
),

{% set alert_flags %}
        latest_reports.dpd >= params.alert_dpd_threshold as is_dpd_alert
{%- endset %}

latest as (
    -- each loan's latest report, when its delinquency may be shown to other members
    select
        latest_reports.*,
        {{ alert_flags }}
    from latest_reports
    inner join loan_publishability
        on loan_publishability.lender_code = latest_reports.lender_code
        and loan_publishability.loan_id = latest_reports.loan_id
        and not loan_publishability.is_unreported
        and not loan_publishability.is_delinquency_pending_notice
    left join episodes
        on episodes.lender_code = latest_reports.lender_code
        and episodes.loan_id = latest_reports.loan_id
        and episodes.default_episode_no = latest_reports.default_episode_no
    cross join params
    where latest_reports.dpd >= params.alert_dpd_threshold
        and coalesce(episodes.is_publishable, true)
),

dpd_events as (
    select
        latest.lender_code,
        latest.borrower_key,
        'dpd_30_plus' as event_type,
        min(flagged.as_of_date) as first_seen_date,
        max(latest.dpd) as dpd,
        cast(null as text) as reason_codes,
        cast(null as integer) as signal_figure,
        cast(null as integer) as signal_window_days,
        false as is_disputed
    from latest
    cross join params
    -- the loan's first report of the same delinquency at or over the threshold, the first-seen
    -- date: DPD counts the days since overdue_since, so none is dated before overdue_since plus
    -- the threshold, and the history's (lender_code, loan_id, as_of_date) index is read from that
    -- date to the first match (the latest report matches: is_dpd_alert). Reading every report of
    -- the delinquency grew with history: a loan in default for two years has 24 of them
    cross join lateral (
        select history.as_of_date
        from history
        where history.lender_code = latest.lender_code
            and history.loan_id = latest.loan_id
            and history.as_of_date >= latest.overdue_since + params.alert_dpd_threshold
            and history.overdue_since = latest.overdue_since
            and history.dpd >= params.alert_dpd_threshold
        order by history.as_of_date
        limit 1
    ) as flagged
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
        string_agg(distinct entry_reasons, ',') as reason_codes,
        cast(null as integer) as signal_figure,
        cast(null as integer) as signal_window_days,
        false as is_disputed
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
        string_agg(distinct reason_code, ',' order by reason_code) as reason_codes,
        cast(null as integer) as signal_figure,
        cast(null as integer) as signal_window_days,
        false as is_disputed
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
        cast(null as text) as reason_codes,
        cast(null as integer) as signal_figure,
        cast(null as integer) as signal_window_days,
        false as is_disputed
    from loans
    cross join exchange_date
    cross join params
    where loans.issue_date > exchange_date.data_as_of_date - params.surge_window_days
        and loans.issue_date <= exchange_date.data_as_of_date
    group by loans.lender_code, loans.borrower_key
),

signal_dates as (
    select * from {{ ref('int_fraud_signal_dates') }}
),

{% set signals = [
    ('loan_stacking', 'int_loan_stacking_signals', 'is_loan_stacking', 'stacking_lender_codes',
     'stacking_lenders', 'stacking_window_days', 'false'),
    ('bust_out', 'int_bust_out_signals', 'is_bust_out', 'surge_lender_codes',
     'first_payment_default_lenders', 'bust_out_surge_window_days', 'false'),
    ('phone_shared', 'int_phone_link_signals', 'is_phone_shared', 'shared_phone_lender_codes',
     'keys_per_phone_3m', 'phone_window_3m_days', 'is_phone_link_disputed'),
    ('identity_mismatch', 'int_identity_mismatch_signals', 'is_identity_mismatch', 'reporting_lender_codes',
     'name_hashes', 'null', 'false'),
] %}

signals_now as (
    -- the signals on the latest signal date, one row per signal (each model's signal_date index)
    {%- for event_type, model, flag, lender_codes, figure, window, disputed in signals %}
    select
        signal.signal_date,
        signal.borrower_key,
        '{{ event_type }}' as event_type,
        signal.{{ lender_codes }} as lender_codes,
        signal.{{ figure }} as signal_figure,
        cast({{ 'signal_dates.' ~ window if window != 'null' else 'null' }} as integer) as signal_window_days,
        {{ 'signal.' ~ disputed if disputed != 'false' else 'false' }} as is_disputed
    from {{ ref(model) }} as signal
    inner join signal_dates
        on signal_dates.signal_date = signal.signal_date
    where signal.signal_date = (select max(signal_dates.signal_date) from signal_dates)
        and signal.{{ flag }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

signal_flags as (
    -- every signal date on which a key carrying a signal now carried it: only those keys' rows,
    -- through each model's (borrower_key, signal_date) index (a pass over every date of every
    -- model grew with history)
    {%- for event_type, model, flag, lender_codes, figure, window, disputed in signals %}
    select flagged.signal_date, signals_now.borrower_key, signals_now.event_type
    from signals_now
    cross join lateral (
        select signal.signal_date
        from {{ ref(model) }} as signal
        where signal.borrower_key = signals_now.borrower_key
            and signal.{{ flag }}
        offset 0
    ) as flagged
    where signals_now.event_type = '{{ event_type }}'
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

signal_gaps as (
    -- the latest signal date before it on which the key did not carry the signal
    select
        signals_now.borrower_key,
        signals_now.event_type,
        max(signal_dates.signal_date) as last_clear_date
    from signals_now
    inner join signal_dates
        on signal_dates.signal_date < signals_now.signal_date
    left join signal_flags
        on signal_flags.borrower_key = signals_now.borrower_key
        and signal_flags.event_type = signals_now.event_type
        and signal_flags.signal_date = signal_dates.signal_date
    where signal_flags.borrower_key is null
    group by signals_now.borrower_key, signals_now.event_type
),

signal_events as (
    select
        involved.lender_code,
        signals_now.borrower_key,
        signals_now.event_type,
        (
            select min(signal_dates.signal_date) from signal_dates
            where signal_dates.signal_date > coalesce(signal_gaps.last_clear_date, date '0001-01-01')
        ) as first_seen_date,
        cast(null as integer) as dpd,
        cast(null as text) as reason_codes,
        signals_now.signal_figure,
        signals_now.signal_window_days,
        signals_now.is_disputed
    from signals_now
    cross join lateral unnest(string_to_array(signals_now.lender_codes, ',')) as involved (lender_code)
    left join signal_gaps
        on signal_gaps.borrower_key = signals_now.borrower_key
        and signal_gaps.event_type = signals_now.event_type
),

events as (
    select * from dpd_events
    union all
    select * from default_events
    union all
    select * from blacklist_events
    union all
    select * from new_loan_events
    union all
    select * from signal_events
),

final as (
    select
        events.lender_code as event_lender_code,
        categories.shown_category as event_lender_category,
        events.borrower_key,
        events.event_type,
        events.first_seen_date,
        events.dpd,
        events.reason_codes,
        events.signal_figure,
        events.signal_window_days,
        events.is_disputed
    from events
    inner join categories
        on categories.lender_code = events.lender_code
)

select * from final
