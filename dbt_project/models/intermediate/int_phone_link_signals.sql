{{
    config(
        materialized='incremental',
        rebuild_signal_inputs={
            'input': 'int_borrower_identity_reports',
            'date_column': 'reported_date',
            'columns': ['lender_code', 'loan_id', 'borrower_key', 'phone_hash', 'reported_date',
                        'is_phone_link_disputed'],
            'where': 'phone_hash is not null',
        },
        indexes=[
            {'columns': ['borrower_key', 'signal_date'], 'unique': True},
            {'columns': ['signal_date']},
        ],
    )
}}

{# Phone sharing (共用手机号), one row per borrower key and signal date on which any link between
   the key and a phone hash was reported within the 12-month window. A link's age is the days
   from its latest report to the signal date; it counts in a window when younger than the
   window's days (rule_fraud_signals). Per window: the distinct phone hashes of the key, and the
   most distinct keys any one of those phones was reported for within the same window. The link
   last changed on the latest date a key-phone pair on any of the key's phones was first
   reported (a new phone for the key, or a new key on its phone).
   Built from int_borrower_identity_reports: no row de-keyed by retention, no link whose dispute
   was upheld. A key's row is marked disputed (异议标注) when any link its
   figures count (its own, or another key's on one of its phones, within 12 months) is under an
   open phone-link dispute. For the alerts (int_alert_events), the lenders that reported, within
   the 3-month window, a link on one of the key's phones shared by phone_shared_min_keys keys.
   Incremental (rebuild_signal_inputs, macros/signal_inputs.sql): a run computes only the signal
   dates from the first one whose identity reports or rules changed, usually the new month. #}

with

reports as not materialized (
    select * from {{ ref('int_borrower_identity_reports') }}
    where phone_hash is not null
),

dates as (
    select * from {{ ref('int_fraud_signal_dates') }}
    {% if is_incremental() %}
    where signal_date >= ({{ signal_rebuild_from() }})
    {% endif %}
),

links as (
    select borrower_key, phone_hash, reported_date, bool_or(coalesce(is_phone_link_disputed, false)) as is_disputed
    from reports
    group by borrower_key, phone_hash, reported_date
),

phone_changes as (
    -- each date on which a key-phone pair was first reported, per phone hash, with the phone's next
    -- such date: on a signal date, the link last changed on the phone at the one whose span holds
    -- the date. Pairs whose latest report is older than the window count too (a phone's other key
    -- first reported two years ago, say), so this reads every pair, not the dated links
    select
        pairs.phone_hash,
        pairs.first_seen_date,
        lead(pairs.first_seen_date) over (partition by pairs.phone_hash order by pairs.first_seen_date)
            as next_first_seen_date
    from (
        select distinct phone_hash, min(reported_date) as first_seen_date
        from links
        group by borrower_key, phone_hash
    ) as pairs
),

link_reports as (
    -- each report of a key-phone pair with the pair's next report and its latest disputed report
    -- so far
    select
        links.*,
        lead(links.reported_date) over pair_reports as next_reported_date,
        max(case when links.is_disputed then links.reported_date end) over (pair_reports rows unbounded preceding)
            as last_disputed_date
    from links
    window pair_reports as (partition by links.phone_hash, links.borrower_key order by links.reported_date)
),

windowed_links as (
    -- each link reported within the 12-month window before a signal date, with the windows its
    -- age there (computed once, in the lateral) counts in: the pair's latest report on or before
    -- the date (the one whose span up to the pair's next report holds the date), disputed when a
    -- report of the pair in the window was. Each (date, key, phone) comes out of the join once,
    -- where a grouping of every report in the window hashed 1.6M rows at 200k loans x 24 months.
    -- Each pair's reports take the dates (lateral; OFFSET 0 keeps the planner from turning the
    -- join round), so the links come out in the pairs' order, led by phone hash, and the phone
    -- windows below sort each phone's few links by date instead of every dated link on disk
    select
        dates.signal_date,
        link_reports.borrower_key,
        link_reports.phone_hash,
        coalesce(link_reports.last_disputed_date > dates.signal_date - dates.phone_window_12m_days, false)
            as is_disputed,
        dates.link_age_days < dates.phone_window_1m_days as in_1m,
        dates.link_age_days < dates.phone_window_3m_days as in_3m,
        dates.link_age_days < dates.phone_window_6m_days as in_6m,
        true as in_12m,
        dates.phone_shared_min_keys
    from link_reports
    cross join lateral (
        select dates.*, dates.signal_date - link_reports.reported_date as link_age_days
        from dates
        where link_reports.reported_date <= dates.signal_date
            and link_reports.reported_date > dates.signal_date - dates.phone_window_12m_days
            and (link_reports.next_reported_date is null or link_reports.next_reported_date > dates.signal_date)
        offset 0
    ) as dates
),

links_with_phone_keys as (
    -- each dated link with its phone's figures in the same windows: the distinct keys per phone
    -- hash and window (a dated link is unique per key and phone), counted over the phone's links
    -- in one sort, and the phone's last change on the date (joined in the phones' order, no sort).
    -- Grouped by phone and joined back to every link, the counts cost two sorts of every dated
    -- link on disk and a merge join. The last changes were a grouping of every dated link of its
    -- own, joined to the key's figures: at 200k loans x 24 months the model took 9.6-10.2 s
    -- that way, 6.3 s this way (CREATE TABLE AS, the same rows)
    select
        phone_links.*,
        phone_changes.first_seen_date as phone_last_change_date
    from (
        select
            windowed_links.*,
            count(*) filter (where windowed_links.in_1m) over phone_links as keys_1m,
            count(*) filter (where windowed_links.in_3m) over phone_links as keys_3m,
            count(*) filter (where windowed_links.in_6m) over phone_links as keys_6m,
            count(*) over phone_links as keys_12m,
            bool_or(windowed_links.is_disputed) over phone_links as phone_has_disputed_link
        from windowed_links
        window phone_links as (partition by windowed_links.phone_hash, windowed_links.signal_date)
    ) as phone_links
    inner join phone_changes
        on phone_changes.phone_hash = phone_links.phone_hash
        and phone_changes.first_seen_date <= phone_links.signal_date
        and (phone_changes.next_first_seen_date is null or phone_changes.next_first_seen_date > phone_links.signal_date)
),

shared_phone_lenders as (
    -- the lenders that reported, within the 3-month window, a link on a phone shared by enough keys
    select distinct shared_phones.signal_date, shared_phones.phone_hash, reports.lender_code
    from (
        select distinct signal_date, phone_hash
        from links_with_phone_keys
        where keys_3m >= phone_shared_min_keys
    ) as shared_phones
    inner join dates
        on dates.signal_date = shared_phones.signal_date
    inner join reports
        on reports.phone_hash = shared_phones.phone_hash
        and reports.reported_date <= dates.signal_date
        and dates.signal_date - reports.reported_date < dates.phone_window_3m_days
),

key_lenders as (
    select
        links_with_phone_keys.signal_date,
        links_with_phone_keys.borrower_key,
        string_agg(distinct shared_phone_lenders.lender_code, ',' order by shared_phone_lenders.lender_code)
            as shared_phone_lender_codes
    from links_with_phone_keys
    inner join shared_phone_lenders
        on shared_phone_lenders.signal_date = links_with_phone_keys.signal_date
        and shared_phone_lenders.phone_hash = links_with_phone_keys.phone_hash
    where links_with_phone_keys.in_3m
    group by links_with_phone_keys.signal_date, links_with_phone_keys.borrower_key
),

key_figures as (
    select
        signal_date,
        borrower_key,
        count(*) filter (where in_1m) as phones_1m,
        count(*) filter (where in_3m) as phones_3m,
        count(*) filter (where in_6m) as phones_6m,
        count(*) as phones_12m,
        coalesce(max(keys_1m) filter (where in_1m), 0) as keys_per_phone_1m,
        coalesce(max(keys_3m) filter (where in_3m), 0) as keys_per_phone_3m,
        coalesce(max(keys_6m) filter (where in_6m), 0) as keys_per_phone_6m,
        max(keys_12m) as keys_per_phone_12m,
        min(phone_shared_min_keys) as phone_shared_min_keys,
        bool_or(phone_has_disputed_link) as is_phone_link_disputed,
        -- the latest first report of a key-phone pair on any of the key's phones, up to the date
        max(phone_last_change_date) as last_link_change_date
    from links_with_phone_keys
    group by signal_date, borrower_key
),

final as (
    select
        key_figures.signal_date,
        key_figures.borrower_key,
        key_figures.phones_1m,
        key_figures.phones_3m,
        key_figures.phones_6m,
        key_figures.phones_12m,
        key_figures.keys_per_phone_1m,
        key_figures.keys_per_phone_3m,
        key_figures.keys_per_phone_6m,
        key_figures.keys_per_phone_12m,
        key_figures.last_link_change_date,
        key_figures.signal_date - key_figures.last_link_change_date as days_since_link_change,
        key_figures.keys_per_phone_3m >= key_figures.phone_shared_min_keys as is_phone_shared,
        key_figures.is_phone_link_disputed,
        key_lenders.shared_phone_lender_codes
    from key_figures
    left join key_lenders
        on key_lenders.signal_date = key_figures.signal_date
        and key_lenders.borrower_key = key_figures.borrower_key
)

select * from final
