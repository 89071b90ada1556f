{#- logged, unlike the other intermediate models: analysts read it through the view fct_loan_status,
    so a crash recovery must not empty it -#}
{{
    config(
        materialized='incremental',
        unlogged=false,
        indexes=[
            {'columns': ['lender_code', 'loan_id', 'as_of_date'], 'unique': True},
            {'columns': ['lender_code', 'report_month']},
            {'columns': ['status_submission_id']},
            {'columns': ['rules_version', 'as_of_date']},
            {'columns': ['borrower_key']},
        ],
    )
}}
-- depends_on: {{ ref('int_submissions_effective') }}
-- depends_on: {{ ref('int_rule_versions') }}

{# Status history: one row per loan and reporting date, with the state that runs across months.
   Default (违约): a loan enters at a report meeting an entry condition (DPD over 90, written off,
   judgment, enforcement, dishonest, fraud) and leaves when an end condition holds (settled,
   compensated, transferred) or it is cured: the first clean report (DPD 0, no override, no entry
   condition) plus cure_clean_months calendar months is on or before the report's date, with a
   clean report in every month between; a loan restructured (重组) cures no earlier than its last
   restructured report plus restructure_observation_months. Until then its class stays at least
   default_hold_class (次级). The 24-month repayment profile (24 个月还款状态) runs in the same
   windows: newest month first, the reporting month's own code, then one code per earlier
   calendar month back to the loan's issue month, at most 24 in all; an earlier month's code is
   that of the loan's last report in the month, a month without a report is '#'. (It was a model
   of its own that read this table again, sorted it the same way and was joined back to it in
   fct_loan_status: one more pass over every loan-month, and one more step between this model
   and the marts.) It carries the loan's product, region, guarantee and months on book as well, so
   that fct_loan_status is a view of it rather than a second copy of every loan-month (a full
   build wrote both, with six more indexes; a month rewrote both). The state comes from running
   windows over each loan's reports, all in one ordering; an incremental run seeds them with the
   last row already built before the months it rebuilds (the anchor), so it reads only the months
   it rebuilds. #}

with

classified as (
    select * from {{ ref('int_loan_status_classified') }}
),

loans as (
    select * from {{ ref('int_loans_latest') }}
),

{% if is_incremental() %}

rebuild as (
    {{ rebuild_window() }}
),

{% endif %}

reports as (
    -- the report's own columns only: the loan's attributes (its key, hash, product, region,
    -- guarantee, type, issue month; 160 of the row's bytes) are joined after the windows (final),
    -- so the two sorts and five window passes over every report carry a narrower row
    select
        lender_code,
        loan_id,
        as_of_date,
        report_month,
        status_submission_id,
        status_line,
        issue_date,
        account_status,
        outstanding_principal,
        overdue_principal,
        overdue_interest,
        overdue_amount,
        overdue_since,
        dpd_reported,
        dpd,
        last_payment_date,
        last_payment_amount,
        lender_risk_class,
        notice_date,
        legal_status,
        fraud_flag,
        rules_version,
        cure_clean_months,
        default_hold_class,
        restructure_observation_months,
        is_active,
        rule_set,
        dpd_bucket,
        dpd_bucket_order,
        floor_class,
        override_class,
        override_codes,
        default_entry_codes,
        default_end_status,
        repayment_code,
        is_default_trigger,
        is_clean_report
    from classified
    {% if is_incremental() %}
    where {{ in_rebuilt_months('status_submission_id') }}
    {% endif %}
),

{% if is_incremental() %}

{#- the columns of a loan's last row built that carry its state into the months rebuilt -#}
{%- set anchor_columns -%}
    previous.lender_code, previous.loan_id, previous.report_month, previous.is_clean_report,
        previous.clean_streak_start, previous.last_trigger_date, previous.last_exit_date,
        previous.last_restructure_date, previous.is_in_default, previous.default_episodes_started,
        previous.default_date, previous.outstanding_principal, previous.overdue_amount,
        previous.repayment_profile_24m
{%- endset %}

rebuilt_loans as (
    select distinct lender_code, loan_id from reports
),

anchors as (
    -- each rebuilt loan's last row built before the months being rebuilt: it carries the state
    {{ last_rows_before_window('rebuilt_loans', anchor_columns) }}
),

{% endif %}

anchored as (
    select
        reports.*,
        {% if is_incremental() %}
        anchors.report_month as anchor_report_month,
        anchors.is_clean_report as anchor_is_clean_report,
        anchors.clean_streak_start as anchor_clean_streak_start,
        anchors.last_trigger_date as anchor_last_trigger_date,
        anchors.last_exit_date as anchor_last_exit_date,
        anchors.last_restructure_date as anchor_last_restructure_date,
        anchors.is_in_default as anchor_is_in_default,
        anchors.default_episodes_started as anchor_default_episodes_started,
        anchors.default_date as anchor_default_date,
        anchors.outstanding_principal as anchor_outstanding_principal,
        anchors.overdue_amount as anchor_overdue_amount,
        anchors.repayment_profile_24m as anchor_repayment_profile
        {% else %}
        cast(null as date) as anchor_report_month,
        cast(null as boolean) as anchor_is_clean_report,
        cast(null as date) as anchor_clean_streak_start,
        cast(null as date) as anchor_last_trigger_date,
        cast(null as date) as anchor_last_exit_date,
        cast(null as date) as anchor_last_restructure_date,
        cast(null as boolean) as anchor_is_in_default,
        cast(null as integer) as anchor_default_episodes_started,
        cast(null as date) as anchor_default_date,
        cast(null as numeric) as anchor_outstanding_principal,
        cast(null as numeric) as anchor_overdue_amount,
        cast(null as text) as anchor_repayment_profile
        {% endif %}
    from reports
    {% if is_incremental() %}
    left join anchors
        on anchors.lender_code = reports.lender_code
        and anchors.loan_id = reports.loan_id
    {% endif %}
),

streak_starts as (
    select
        anchored.*,
        coalesce(lag(report_month) over loan_reports, anchor_report_month) as previous_report_month,
        -- a clean streak starts at a clean report after a report that was not clean, after a
        -- month without a report, or at the loan's first report
        is_clean_report
            and (
                coalesce(lag(is_clean_report) over loan_reports, anchor_is_clean_report) is not true
                or coalesce(lag(report_month) over loan_reports, anchor_report_month)
                    < (report_month - interval '1 month')::date
            ) as starts_clean_streak,
        greatest(
            max(case when is_default_trigger then as_of_date end) over loan_reports,
            anchor_last_trigger_date
        ) as last_trigger_date,
        greatest(
            max(case when account_status = 'restructured' then as_of_date end) over loan_reports,
            anchor_last_restructure_date
        ) as last_restructure_date,
        -- repayment evidence besides a payment date: the balance or the arrears fell since the last report
        coalesce(
            outstanding_principal < coalesce(lag(outstanding_principal) over loan_reports, anchor_outstanding_principal)
            or overdue_amount < coalesce(lag(overdue_amount) over loan_reports, anchor_overdue_amount),
            false
        ) as amounts_fell,
        lead(as_of_date) over loan_reports is null
            or lead(report_month) over loan_reports > report_month as is_month_last_report
    from anchored
    -- loan_id first in every window here: see int_collection_first_contacts. One window for lag,
    -- lead and the running maxima: a loan has one report per date (the unique index), so its
    -- default frame (range up to the current row's peers) is the rows so far, and PostgreSQL
    -- passes the rows through one WindowAgg instead of two (the history's query at 200k x 24:
    -- 27.2-29.3 -> 25.9 s)
    window loan_reports as (partition by loan_id, lender_code order by as_of_date)
),

streaks as (
    select
        streak_starts.*,
        case
            when is_clean_report then coalesce(
                max(case when starts_clean_streak then as_of_date end) over loan_reports_so_far,
                anchor_clean_streak_start
            )
        end as clean_streak_start,
        -- the profile codes up to and including each report, oldest first. Each report adds a '#'
        -- per calendar month without a report since the report before it (for the loan's first
        -- report built: since the anchor, else since the issue month), then, when it is its month's
        -- last report, its own code. A frame that starts at the partition's start is aggregated
        -- row by row, where a sliding frame would be aggregated again for every row
        string_agg(
            repeat('#', greatest(least(case
                when previous_report_month is not null then
                    {{ months_between('previous_report_month', 'report_month') }} - 1
                else {{ months_between('issue_date', 'report_month') }}
            end, 23), 0))
            || case when is_month_last_report then repayment_code else '' end,
            ''
        ) over loan_reports_so_far as profile_codes_through
    from streak_starts
    window loan_reports_so_far as (partition by loan_id, lender_code order by as_of_date rows unbounded preceding)
),

exits as (
    select
        streaks.*,
        case
            when is_clean_report then {{ months_between('clean_streak_start', 'report_month') }} + 1
            else 0
        end as clean_months,
        greatest(
            max(
                case
                    when default_end_status is not null then as_of_date
                    -- cured: six calendar months elapsed since the first clean report (not six
                    -- reports), and the observation period after a restructuring is over
                    when is_clean_report
                        and as_of_date >= (clean_streak_start + make_interval(months => cure_clean_months))::date
                        and (
                            last_restructure_date is null
                            or as_of_date
                                >= (last_restructure_date + make_interval(months => restructure_observation_months))::date
                        )
                        then as_of_date
                end
            ) over loan_reports_so_far,
            anchor_last_exit_date
        ) as last_exit_date
    from streaks
    window loan_reports_so_far as (partition by loan_id, lender_code order by as_of_date rows unbounded preceding)
),

in_default as (
    select
        exits.*,
        last_trigger_date is not null
            and (last_exit_date is null or last_exit_date < last_trigger_date) as is_in_default
    from exits
),

episode_starts as (
    select
        in_default.*,
        coalesce(lag(is_in_default) over loan_reports, anchor_is_in_default, false) as was_in_default,
        is_default_trigger
            and not coalesce(lag(is_in_default) over loan_reports, anchor_is_in_default, false)
            as starts_default_episode
    from in_default
    window loan_reports as (partition by loan_id, lender_code order by as_of_date)
),

episodes as (
    select
        episode_starts.*,
        (was_in_default or starts_default_episode) and not is_in_default as ends_default_episode,
        cast(
            coalesce(anchor_default_episodes_started, 0)
            + sum(case when starts_default_episode then 1 else 0 end) over loan_reports_so_far
            as integer
        ) as default_episodes_started,
        coalesce(
            max(case when starts_default_episode then as_of_date end) over loan_reports_so_far,
            anchor_default_date
        ) as current_default_date,
        case when is_in_default then default_hold_class end as held_class
    from episode_starts
    window loan_reports_so_far as (partition by loan_id, lender_code order by as_of_date rows unbounded preceding)
),

final as (
    select
        episodes.lender_code,
        episodes.loan_id,
        as_of_date,
        report_month,
        is_month_last_report,
        status_submission_id,
        status_line,
        loans.loan_attributes_hash,
        rules_version,
        loans.borrower_key,
        loans.borrower_type,
        loans.product_type,
        loans.region_code,
        loans.guarantee_type,
        {{ months_between('loans.issue_month', 'report_month') }} as months_on_book,
        rule_set,
        account_status,
        is_active,
        outstanding_principal,
        overdue_principal,
        overdue_interest,
        overdue_amount,
        overdue_since,
        dpd,
        dpd_reported,
        dpd_bucket,
        dpd_bucket_order,
        last_payment_date,
        last_payment_amount,
        amounts_fell,
        notice_date,
        legal_status,
        fraud_flag,
        repayment_code,
        floor_class,
        override_class,
        override_codes,
        lender_risk_class,
        held_class as default_hold_class,
        greatest(floor_class, override_class, held_class) as exchange_class,
        greatest(floor_class, override_class, held_class, lender_risk_class) as standardized_class,
        coalesce(lender_risk_class < greatest(floor_class, override_class, held_class), false)
            as is_under_classified,
        is_default_trigger,
        default_entry_codes,
        is_clean_report,
        clean_streak_start,
        clean_months,
        last_trigger_date,
        last_exit_date,
        last_restructure_date,
        is_in_default,
        starts_default_episode,
        ends_default_episode,
        case when ends_default_episode then coalesce(default_end_status, 'cured') end as default_end_reason,
        default_episodes_started,
        case when is_in_default or ends_default_episode then default_episodes_started end as default_episode_no,
        case when is_in_default or ends_default_episode then current_default_date end as default_date,
        -- newest first: the report's own code, the up to 23 months before it (the month's own
        -- code left out of the codes so far; codes are single characters, so the reversed
        -- oldest-first string is the newest-first one), then the anchor's profile
        left(
            repayment_code
            || reverse(right(
                case when is_month_last_report then left(profile_codes_through, -1) else profile_codes_through end,
                23
            ))
            || coalesce(anchor_repayment_profile, ''),
            24
        ) as repayment_profile_24m
    from episodes
    -- every report has its loan (int_loan_status_classified joins the same table): a left join only
    -- so that the unit tests need not repeat the loans
    left join loans
        on loans.lender_code = episodes.lender_code
        and loans.loan_id = episodes.loan_id
)

select * from final
-- by month alone: only the month needs to lead the pages (macros/incremental.sql, month_order); a
-- sort on the month, lender and loan compared the loans of each month in vain (CREATE TABLE AS at
-- 200k loans x 24 months, the same rows: 39.4-40.6 -> 36.2-36.7 s)
{{ month_order(['report_month']) }}
