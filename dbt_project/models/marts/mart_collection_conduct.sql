{{
    config(
        large_sorts=true,
        materialized='incremental',
        rebuild_producer=['int_collection_actions', 'int_loan_status_history'],
        rebuild_mixes_lenders=true,
        rebuild_lookback_days='contact_cure_window_days',
        indexes=[
            {'columns': ['lender_code', 'report_month'], 'unique': True},
            {'columns': ['report_month']},
        ],
    )
}}
-- depends_on: {{ ref('int_submissions_effective') }}
-- depends_on: {{ ref('rule_collection_parameters') }}

{# Collection conduct (催收行为) per lender and month, for the association's supervision: actions in
    the night window, debtors over the daily connected-call limit (lender and agencies together),
    actions aimed at third parties, contact frequency against the industry median, promise-to-pay
    kept rate and cure rate after first contact. A month mixes lenders (the median), so an
    incremental run rebuilds every lender's months from the earliest month its collection inputs
    rebuilt (int_collection_first_contacts and int_collection_promises look a cure window back). #}

with

{% if is_incremental() %}

rebuild as (
    {{ rebuild_window() }}
),

actions as not materialized (
    {{ collection_rows_from('int_collection_actions', 'rebuild') }}
),

debtor_days as not materialized (
    {{ collection_rows_from('int_collection_debtor_days', 'rebuild') }}
),

promises as not materialized (
    select * from ({{ collection_rows_from('int_collection_promises', 'rebuild', 'latest_month') }}) as due
    where due.promise_month >= (select min(rebuild_month) from rebuild)
),

first_contacts as not materialized (
    {{ collection_rows_from('int_collection_first_contacts', 'rebuild', 'first_contact_month') }}
),

history as not materialized (
    -- the month-end reports from the month before the window: a loan delinquent at the end of
    -- the month before is delinquent during the month
    select * from {{ ref('int_loan_status_history') }}
    where is_month_last_report
        and {{ in_rebuilt_months('status_submission_id', first_month="(rebuild.rebuild_month - interval '1 month')::date") }}
),

{% else %}

actions as not materialized (
    -- not materialized: referenced more than once, PostgreSQL would otherwise copy the whole table first
    select * from {{ ref('int_collection_actions') }}
),

debtor_days as not materialized (
    select * from {{ ref('int_collection_debtor_days') }}
),

promises as not materialized (
    select * from {{ ref('int_collection_promises') }}
),

first_contacts as not materialized (
    select * from {{ ref('int_collection_first_contacts') }}
),

history as not materialized (
    select * from {{ ref('int_loan_status_history') }}
    where is_month_last_report
),

{% endif %}

monthly as (
    select
        lender_code,
        action_month as report_month,
        count(*) as actions,
        count(*) filter (where is_call) as calls,
        count(*) filter (where is_connected_call) as connected_calls,
        count(*) filter (where not is_in_house) as agency_actions,
        count(*) filter (where is_night) as night_actions,
        count(*) filter (where is_third_party) as third_party_actions,
        count(distinct loan_id) as loans_contacted
    from actions
    group by lender_code, action_month
),

over_limit as (
    select
        lender_code,
        action_month as report_month,
        count(*) filter (where is_over_call_limit) as debtor_days_over_call_limit,
        count(distinct borrower_key) filter (where is_over_call_limit) as debtors_over_call_limit
    from debtor_days
    group by lender_code, action_month
),

delinquent_months as (
    -- a loan is delinquent during a month when its report at the month's end or at the end of the
    -- month before shows DPD > 0: each such report counts for its month and the next, in one
    -- read of the history (a union of two reads read the window's reports twice)
    select distinct history.lender_code, history.loan_id, months.report_month
    from history
    cross join lateral (
        values (history.report_month), ((history.report_month + interval '1 month')::date)
    ) as months (report_month)
    where history.is_active and history.dpd > 0
),

delinquent as (
    select lender_code, report_month, count(*) as delinquent_loans
    from delinquent_months
    group by lender_code, report_month
),

kept as (
    select
        lender_code,
        promise_month as report_month,
        count(*) as promises_due,
        count(*) filter (where is_kept) as promises_kept
    from promises
    where is_due
    group by lender_code, promise_month
),

cures as (
    select
        lender_code,
        first_contact_month as report_month,
        count(*) as first_contacts,
        count(*) filter (where is_evaluable) as first_contacts_evaluable,
        count(*) filter (where is_evaluable and is_cured) as cured_after_first_contact
    from first_contacts
    group by lender_code, first_contact_month
),

joined as (
    select
        monthly.*,
        coalesce(over_limit.debtor_days_over_call_limit, 0) as debtor_days_over_call_limit,
        coalesce(over_limit.debtors_over_call_limit, 0) as debtors_over_call_limit,
        coalesce(delinquent.delinquent_loans, 0) as delinquent_loans,
        {{ safe_ratio('monthly.actions',
            "delinquent.delinquent_loans * extract(day from (monthly.report_month + interval '1 month' - interval '1 day'))") }}
            as contacts_per_delinquent_loan_day,
        {{ safe_ratio('monthly.third_party_actions', 'monthly.actions') }} as third_party_share,
        coalesce(kept.promises_due, 0) as promises_due,
        coalesce(kept.promises_kept, 0) as promises_kept,
        {{ safe_ratio('kept.promises_kept', 'kept.promises_due') }} as promise_kept_rate,
        coalesce(cures.first_contacts, 0) as first_contacts,
        coalesce(cures.first_contacts_evaluable, 0) as first_contacts_evaluable,
        coalesce(cures.cured_after_first_contact, 0) as cured_after_first_contact,
        {{ safe_ratio('cures.cured_after_first_contact', 'cures.first_contacts_evaluable') }}
            as cure_rate_after_first_contact
    from monthly
    left join over_limit
        on over_limit.lender_code = monthly.lender_code
        and over_limit.report_month = monthly.report_month
    left join delinquent
        on delinquent.lender_code = monthly.lender_code
        and delinquent.report_month = monthly.report_month
    left join kept
        on kept.lender_code = monthly.lender_code
        and kept.report_month = monthly.report_month
    left join cures
        on cures.lender_code = monthly.lender_code
        and cures.report_month = monthly.report_month
),

medians as (
    select
        report_month,
        percentile_cont(0.5) within group (order by contacts_per_delinquent_loan_day) as industry_median
    from joined
    where contacts_per_delinquent_loan_day is not null
    group by report_month
),

final as (
    select
        joined.*,
        round(medians.industry_median::numeric, 6) as industry_median_contacts_per_loan_day,
        {{ safe_ratio('joined.contacts_per_delinquent_loan_day', 'medians.industry_median::numeric') }}
            as contact_frequency_vs_median
    from joined
    left join medians
        on medians.report_month = joined.report_month
)

select * from final
