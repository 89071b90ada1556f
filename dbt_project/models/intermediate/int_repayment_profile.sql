{{
    config(
        materialized='incremental',
        rebuild_checks_rules=false,
        indexes=[
            {'columns': ['lender_code', 'loan_id', 'as_of_date'], 'unique': True},
            {'columns': ['lender_code', 'report_month']},
            {'columns': ['status_submission_id']},
        ],
    )
}}
-- depends_on: {{ ref('int_submissions_effective') }}

{# The 24-month repayment profile (24 个月还款状态) per loan and reporting date, newest month
    first: the reporting month's own code, then one code per earlier calendar month back to the
    loan's issue month, at most 24 in all. An earlier month's code is that of the loan's last
    report in the month; a month without a report is '#'. Codes: N normal, 1-7 overdue in 30-day
    steps (7 = over 180 days), C settled, G ended otherwise (transferred, written off),
    D compensated by the guarantor, # unknown, * nothing due. #}

with

history as (
    select * from {{ ref('int_loan_status_history') }}
),

loans as (
    select * from {{ ref('int_loans_latest') }}
),

{% if is_incremental() %}

rebuild as (
    {{ rebuild_window() }}
),

{% endif %}

targets as (
    select
        history.lender_code,
        history.loan_id,
        history.as_of_date,
        history.report_month,
        history.is_month_last_report,
        history.status_submission_id,
        history.loan_attributes_hash,
        history.repayment_code
    from history
    {% if is_incremental() %}
    where {{ in_rebuilt_months('history.status_submission_id') }}
    {% endif %}
),

{% if is_incremental() %}

target_loans as (
    select distinct targets.lender_code, targets.loan_id
    from targets
),

anchors as (
    -- the profile already built at each loan's last report before the months being rebuilt
    {{ last_rows_before_window('target_loans',
        'previous.lender_code, previous.loan_id, previous.report_month, previous.repayment_profile_24m') }}
),

{% endif %}

report_steps as (
    -- each report with the reporting month of the loan's report before it in the months built
    -- (and in an incremental run the profile built before them)
    select
        targets.*,
        loans.issue_month,
        {% if is_incremental() %}
        anchors.report_month as anchor_month,
        anchors.repayment_profile_24m as anchor_profile,
        {% endif %}
        lag(targets.report_month) over loan_reports as previous_report_month
    from targets
    inner join loans
        on loans.lender_code = targets.lender_code
        and loans.loan_id = targets.loan_id
    {% if is_incremental() %}
    left join anchors
        on anchors.lender_code = targets.lender_code
        and anchors.loan_id = targets.loan_id
    {% endif %}
    -- loan_id first in every window here: see int_collection_first_contacts
    window loan_reports as (partition by targets.loan_id, targets.lender_code order by targets.as_of_date)
),

month_codes as (
    -- what each report adds to the loan's codes, oldest first: a '#' per calendar month without a
    -- report since the report before it (for the loan's first report built: since the profile
    -- built before the months rebuilt, else since the issue month), then, when it is its
    -- month's last report, its own code
    select
        *,
        repeat('#', greatest(least(case
            when previous_report_month is not null then
                {{ months_between('previous_report_month', 'report_month') }} - 1
            {% if is_incremental() %}
            when anchor_month is not null then
                {{ months_between('anchor_month', 'report_month') }} - 1
            {% endif %}
            else {{ months_between('issue_month', 'report_month') }}
        end, 23), 0))
        || case when is_month_last_report then repayment_code else '' end as codes_added
    from report_steps
),

codes_so_far as (
    -- one pass over each loan's reports in date order (the order report_steps sorted them in): the
    -- codes up to and including each report; a frame that starts at the partition's start is
    -- aggregated row by row, where a sliding frame would be aggregated again for every row.
    -- This replaced a month spine per loan joined back to its reports (two joins of every
    -- loan-month), the model's largest cost in a full build.
    select
        *,
        string_agg(codes_added, '') over (
            partition by loan_id, lender_code
            order by as_of_date
            rows between unbounded preceding and current row
        ) as codes_through
    from month_codes
),

profiles as (
    -- newest first: the report's own code, the up to 23 months before it (the month's own code
    -- left out of codes_through; codes are single characters, so the reversed oldest-first
    -- string is the newest-first one), then the profile built before the months rebuilt
    select
        lender_code,
        loan_id,
        as_of_date,
        report_month,
        status_submission_id,
        loan_attributes_hash,
        repayment_code as month_code,
        left(
            repayment_code
            || reverse(right(
                case when is_month_last_report then left(codes_through, -1) else codes_through end, 23
            ))
            {% if is_incremental() %}
            || coalesce(anchor_profile, '')
            {% endif %}
            , 24
        ) as repayment_profile_24m
    from codes_so_far
),

final as (
    select
        profiles.*,
        length(profiles.repayment_profile_24m) as months_covered,
        -- plain string functions, not a regular expression or a subquery per row (both cost
        -- seconds per million rows): the codes other than 1-7 are N C G D # *
        length(translate(profiles.repayment_profile_24m, 'NCGD#*', '')) as overdue_months_24m,
        case
            when strpos(profiles.repayment_profile_24m, '7') > 0 then 7
            when strpos(profiles.repayment_profile_24m, '6') > 0 then 6
            when strpos(profiles.repayment_profile_24m, '5') > 0 then 5
            when strpos(profiles.repayment_profile_24m, '4') > 0 then 4
            when strpos(profiles.repayment_profile_24m, '3') > 0 then 3
            when strpos(profiles.repayment_profile_24m, '2') > 0 then 2
            when strpos(profiles.repayment_profile_24m, '1') > 0 then 1
            else 0
        end as worst_overdue_level_24m
    from profiles
)

select * from final
{{ month_order(['report_month', 'lender_code', 'loan_id', 'as_of_date']) }}
