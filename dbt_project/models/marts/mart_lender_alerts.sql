{# Early-warning alerts (风险预警) per lender: one row per lender, own loan and alert type, about a
    borrower who is still current with the lender, built from publishable events of other lenders
    only (int_alert_events). The evidence never names the other lender: what other members may be
    shown in its place (its category where three or more members share it, else 会员机构), and
    counts. The blacklist reasons are those of the one rule table (int_listing_reasons), B4
    included. Each lender reads only its own rows. #}

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
        events.reason_codes
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
        ) as reason_codes
    from elsewhere
    where event_type in ('dpd_30_plus', 'default', 'blacklisted')
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
        cast(null as text) as reason_codes
    from elsewhere
    cross join params
    where elsewhere.event_type = 'new_loan'
    group by elsewhere.lender_code, elsewhere.loan_id, elsewhere.borrower_key, elsewhere.as_of_date,
        params.surge_min_other_lenders
    having count(distinct elsewhere.event_lender_code) >= params.surge_min_other_lenders
),

alerts as (
    select * from single_event_alerts
    union all
    select * from surge
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
            else format('new loans at %s other lenders in the last %s days (%s)',
                alerts.other_lender_count, params.surge_window_days, alerts.other_lender_categories)
        end as evidence_en,
        case alerts.alert_type
            when 'dpd_30_plus_elsewhere' then format('在 %s 家其他机构（%s）逾期 %s 天',
                alerts.other_lender_count, alerts.other_lender_categories, alerts.max_dpd_elsewhere)
            when 'default_elsewhere' then format('在 %s 家其他机构（%s）违约，违约原因 %s',
                alerts.other_lender_count, alerts.other_lender_categories, alerts.reason_codes)
            when 'blacklisted_elsewhere' then format('在 %s 家其他机构（%s）符合恶意逾期名单条件 %s',
                alerts.other_lender_count, alerts.other_lender_categories, alerts.reason_codes)
            else format('近 %s 天在 %s 家其他机构（%s）新增借款',
                params.surge_window_days, alerts.other_lender_count, alerts.other_lender_categories)
        end as evidence_zh
    from alerts
    cross join params
)

select * from final
