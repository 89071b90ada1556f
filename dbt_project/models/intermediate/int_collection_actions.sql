{# Collection actions (催收记录) of the files in force, with the debtor's borrower key, the local time
    in the exchange's time zone (Asia/Shanghai) and the conduct flags each action raises. #}

with

actions as (
    select * from {{ ref('stg_raw__collection_actions') }}
),

submissions as (
    select * from {{ ref('int_submissions_effective') }}
),

loans as (
    select * from {{ ref('int_loans_latest') }}
),

params as (
    {{ collection_parameters() }}
),

localized as (
    select
        actions.lender_code,
        actions.loan_id,
        loans.borrower_key,
        actions.submission_id,
        actions.line,
        actions.action_time,
        actions.action_time at time zone '{{ var("exchange_timezone") }}' as action_local_time,
        actions.channel,
        actions.actor,
        actions.contacted_party,
        actions.outcome,
        actions.promise_date,
        actions.promise_amount
    from actions
    inner join submissions
        on submissions.submission_id = actions.submission_id
        and submissions.is_effective
    inner join loans
        on loans.lender_code = actions.lender_code
        and loans.loan_id = actions.loan_id
),

final as (
    select
        localized.*,
        localized.action_local_time::date as action_date,
        date_trunc('month', localized.action_local_time)::date as action_month,
        localized.actor = 'in_house' as is_in_house,
        localized.channel = 'call' as is_call,
        localized.channel = 'call'
            and localized.outcome in ('contacted', 'promise_to_pay', 'refused', 'paid') as is_connected_call,
        extract(hour from localized.action_local_time) >= params.night_start_hour
            or extract(hour from localized.action_local_time) < params.night_end_hour as is_night,
        localized.contacted_party not in ('borrower', 'guarantor') as is_third_party
    from localized
    cross join params
)

select * from final
