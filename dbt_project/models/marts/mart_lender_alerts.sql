{# Early-warning alerts (风险预警) per lender: one row per lender, own loan and alert type, built
    from publishable events of other lenders only (int_alert_events):
      - about a borrower still current with the lender (DPD 0): DPD 30+, default or blacklisting
        at another lender, and the 多头借贷 surge;
      - about any borrower with an open loan at the lender: a fraud signal the borrower carries on
        the latest signal date (loan stacking, bust-out, phone sharing, identity mismatch), raised
        only where at least one other lender is involved in it (one wholly within the lender's own
        book is the lender's own to see). It is first seen on the first signal date of the run and
        keeps that date (and its key) while the signal stays.
    The evidence never names the other lender: what other members may be shown in its place (its
    category where three or more members share it, else 会员机构), and counts. The blacklist
    reasons are those of the one rule table (int_listing_reasons), B4 included. A phone-sharing
    alert resting on a phone link under an open dispute says so (异议处理中). Each lender reads only
    its own rows. #}

with

current_loans as (
    select * from {{ ref('int_alert_current_loans') }}
),

events as (
    select * from {{ ref('int_alert_events') }}
),

params as (
    {{ collection_parameters() }}
),

elsewhere as (
    -- events at lenders other than the alerted one, for the alerted lender's current borrowers
    select
        current_loans.lender_code,
        current_loans.loan_id,
        current_loans.borrower_key,
        current_loans.as_of_date,
        events.event_lender_code,
        events.event_lender_category,
        events.event_type,
        events.first_seen_date,
        events.dpd,
        events.reason_codes,
        events.signal_figure,
        events.signal_window_days,
        events.is_disputed,
        current_loans.dpd = 0 as is_current
    from current_loans
    inner join events
        on events.borrower_key = current_loans.borrower_key
        and events.event_lender_code <> current_loans.lender_code
),

single_event_alerts as (
    select
        lender_code,
        loan_id,
        borrower_key,
        as_of_date,
        case event_type when 'dpd_30_plus' then 'dpd_30_plus_elsewhere' when 'default' then 'default_elsewhere'
            else 'blacklisted_elsewhere' end as alert_type,
        min(first_seen_date) as first_seen_date,
        count(distinct event_lender_code) as other_lender_count,
        string_agg(distinct event_lender_category, ',' order by event_lender_category) as other_lender_categories,
        max(dpd) as max_dpd_elsewhere,
        (
            select string_agg(distinct code, ',' order by code)
            from unnest(string_to_array(string_agg(reason_codes, ','), ',')) as code
        ) as reason_codes,
        cast(null as integer) as signal_figure,
        cast(null as integer) as signal_window_days,
        false as is_disputed
    from elsewhere
    where event_type in ('dpd_30_plus', 'default', 'blacklisted')
        and is_current
    group by lender_code, loan_id, borrower_key, as_of_date, event_type
),

surge as (
    -- 多头借贷 surge: new loans at two or more other lenders within the window
    select
        elsewhere.lender_code,
        elsewhere.loan_id,
        elsewhere.borrower_key,
        elsewhere.as_of_date,
        'multi_lender_surge' as alert_type,
        (array_agg(elsewhere.first_seen_date order by elsewhere.first_seen_date))[params.surge_min_other_lenders]
            as first_seen_date,
        count(distinct elsewhere.event_lender_code) as other_lender_count,
        string_agg(distinct elsewhere.event_lender_category, ',' order by elsewhere.event_lender_category)
            as other_lender_categories,
        cast(null as integer) as max_dpd_elsewhere,
        cast(null as text) as reason_codes,
        cast(null as integer) as signal_figure,
        cast(null as integer) as signal_window_days,
        false as is_disputed
    from elsewhere
    cross join params
    where elsewhere.event_type = 'new_loan'
        and elsewhere.is_current
    group by elsewhere.lender_code, elsewhere.loan_id, elsewhere.borrower_key, elsewhere.as_of_date,
        params.surge_min_other_lenders
    having count(distinct elsewhere.event_lender_code) >= params.surge_min_other_lenders
),

signal_alerts as (
    -- a fraud signal of the borrower (the event types are the alert types), other lenders involved
    select
        lender_code,
        loan_id,
        borrower_key,
        as_of_date,
        event_type as alert_type,
        min(first_seen_date) as first_seen_date,
        count(distinct event_lender_code) as other_lender_count,
        string_agg(distinct event_lender_category, ',' order by event_lender_category) as other_lender_categories,
        cast(null as integer) as max_dpd_elsewhere,
        cast(null as text) as reason_codes,
        max(signal_figure) as signal_figure,
        max(signal_window_days) as signal_window_days,
        bool_or(is_disputed) as is_disputed
    from elsewhere
    where event_type in ('loan_stacking', 'bust_out', 'phone_shared', 'identity_mismatch')
    group by lender_code, loan_id, borrower_key, as_of_date, event_type
),

alerts as (
    select * from single_event_alerts
    union all
    select * from surge
    union all
    select * from signal_alerts
),

final as (
    select
        md5(alerts.lender_code || ':' || alerts.loan_id || ':' || alerts.alert_type) as alert_key,
        alerts.lender_code,
        alerts.alert_type,
        case alerts.alert_type
            when 'dpd_30_plus_elsewhere' then '他处逾期30天以上'
            when 'default_elsewhere' then '他处违约'
            when 'blacklisted_elsewhere' then '他处列入恶意逾期名单'
            when 'multi_lender_surge' then '多头借贷激增'
            when 'loan_stacking' then '叠贷'
            when 'bust_out' then '撸贷（集中借款后首期逾期）'
            when 'phone_shared' then '共用手机号'
            when 'identity_mismatch' then '身份信息不一致'
        end as alert_type_zh,
        alerts.borrower_key,
        alerts.loan_id,
        {{ loan_key('alerts.lender_code', 'alerts.loan_id') }} as loan_reference,
        alerts.first_seen_date,
        alerts.as_of_date,
        alerts.other_lender_count,
        alerts.other_lender_categories,
        alerts.max_dpd_elsewhere,
        alerts.reason_codes,
        case alerts.alert_type
            when 'dpd_30_plus_elsewhere' then format('%s days past due at %s other lender(s) (%s)',
                alerts.max_dpd_elsewhere, alerts.other_lender_count, alerts.other_lender_categories)
            when 'default_elsewhere' then format('in default at %s other lender(s) (%s), entry reasons %s',
                alerts.other_lender_count, alerts.other_lender_categories, alerts.reason_codes)
            when 'blacklisted_elsewhere' then format('blacklist reasons %s at %s other lender(s) (%s)',
                alerts.reason_codes, alerts.other_lender_count, alerts.other_lender_categories)
            when 'multi_lender_surge' then format('new loans at %s other lenders in the last %s days (%s)',
                alerts.other_lender_count, params.surge_window_days, alerts.other_lender_categories)
            when 'loan_stacking' then format('new loans at %s lenders within %s days, %s of them other lenders (%s)',
                alerts.signal_figure, alerts.signal_window_days, alerts.other_lender_count,
                alerts.other_lender_categories)
            when 'bust_out' then format('loans at %s other lender(s) (%s) within %s days, first-payment default'
                || ' at %s lenders this month', alerts.other_lender_count, alerts.other_lender_categories,
                alerts.signal_window_days, alerts.signal_figure)
            when 'phone_shared' then format('the mobile number is shared by %s borrowers within %s days,'
                || ' reported by %s other lender(s) (%s)%s', alerts.signal_figure, alerts.signal_window_days,
                alerts.other_lender_count, alerts.other_lender_categories,
                case when alerts.is_disputed then '; a phone link is under dispute' else '' end)
            when 'identity_mismatch' then format('reported under %s different names by the lenders,'
                || ' %s other lender(s) (%s)', alerts.signal_figure, alerts.other_lender_count,
                alerts.other_lender_categories)
        end as evidence_en,
        case alerts.alert_type
            when 'dpd_30_plus_elsewhere' then format('在 %s 家其他机构（%s）逾期 %s 天',
                alerts.other_lender_count, alerts.other_lender_categories, alerts.max_dpd_elsewhere)
            when 'default_elsewhere' then format('在 %s 家其他机构（%s）违约，违约原因 %s',
                alerts.other_lender_count, alerts.other_lender_categories, alerts.reason_codes)
            when 'blacklisted_elsewhere' then format('在 %s 家其他机构（%s）符合恶意逾期名单条件 %s',
                alerts.other_lender_count, alerts.other_lender_categories, alerts.reason_codes)
            when 'multi_lender_surge' then format('近 %s 天在 %s 家其他机构（%s）新增借款',
                params.surge_window_days, alerts.other_lender_count, alerts.other_lender_categories)
            when 'loan_stacking' then format('%s 天内在 %s 家机构新增借款，其中其他机构 %s 家（%s）',
                alerts.signal_window_days, alerts.signal_figure, alerts.other_lender_count,
                alerts.other_lender_categories)
            when 'bust_out' then format('%s 天内在 %s 家其他机构（%s）借款，本月 %s 家机构首期逾期',
                alerts.signal_window_days, alerts.other_lender_count, alerts.other_lender_categories,
                alerts.signal_figure)
            when 'phone_shared' then format('%s 天内该手机号被 %s 名借款人共用，涉及 %s 家其他机构（%s）%s',
                alerts.signal_window_days, alerts.signal_figure, alerts.other_lender_count,
                alerts.other_lender_categories, case when alerts.is_disputed then '；其中手机号关联异议处理中' else '' end)
            when 'identity_mismatch' then format('各机构报送的姓名有 %s 种不同，涉及 %s 家其他机构（%s）',
                alerts.signal_figure, alerts.other_lender_count, alerts.other_lender_categories)
        end as evidence_zh
    from alerts
    cross join params
)

select * from final
