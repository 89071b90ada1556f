{{
    config(
        materialized='incremental',
        rebuild_collection_files=true,
        rebuild_month_column='action_month',
        rebuild_rules=['rule_collection_parameters'],
        full_build_joins_as_written=true,
        indexes=[
            {'columns': ['submission_id', 'line'], 'unique': True},
            {'columns': ['lender_code', 'action_month']},
        ],
    )
}}

{# Collection actions (催收记录) of the files in force, with the debtor's borrower key, the local time
    in the exchange's time zone (Asia/Shanghai) and the conduct flags each action raises.
    An incremental run rebuilds, per lender, the action months from the first one that changed
    (macros/collection_rebuilds.sql): it reads only the files dated in those months or later, as
    an action is never dated after its file. #}

with

{% if is_incremental() %}

rebuild as (
    {{ rebuild_window() }}
),

files as (
    -- the collection files in force dated from each lender's first month rebuilt
    select submissions.submission_id
    from {{ ref('int_submissions_effective') }} as submissions
    inner join rebuild
        on rebuild.lender_code = submissions.lender_code
        and submissions.as_of_date >= rebuild.rebuild_month
    where submissions.kind = 'collection_actions'
        and submissions.is_effective
),

{% endif %}

actions as (
    select * from {{ ref('stg_raw__collection_actions') }}
    {% if is_incremental() %}
    where submission_id = any(array(select submission_id from files))
    {% endif %}
),

submissions as (
    select * from {{ ref('int_submissions_effective') }}
),

loans as {% if is_incremental() %}materialized {% endif %}(
    -- materialized in an incremental run: a month's actions were estimated at a tenth of their
    -- number, and the planner probed the loans' index once per action, reading the table at
    -- random (461k blocks for the 941k actions of a month at a million loans); one scan of the
    -- two columns read costs a second. Not in a full build, which hashes the loans (below)
    select lender_code, loan_id, borrower_key
    from {{ ref('int_loans_latest') }}
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
    -- a full build joins in this order (config full_build_joins_as_written): every action to its
    -- loan by hashing the loans, then to the files in force. The files in force are estimated
    -- at one (their filter is over window functions), so the planner, left to choose, took the
    -- actions of the files in force for a small set and sorted every action by loan for a merge
    -- join (388 MB on disk at 200k loans; with the loans as a materialized CTE, which has no
    -- statistics) or probed the loans' index once per action (18.7M probes at a million loans).
    -- CREATE TABLE AS at 200k x 24: 39.0 -> 18.3 s
    from actions
    inner join loans
        on loans.lender_code = actions.lender_code
        and loans.loan_id = actions.loan_id
    inner join submissions
        on submissions.submission_id = actions.submission_id
        and submissions.is_effective
    -- computed once per action before final reads it (OFFSET 0 keeps the planner from folding
    -- this query into final's, which repeated the time-zone conversion in each of the five
    -- expressions that read the local time): CREATE TABLE AS at 200k x 24: 9.1-10.3 -> 6.9-7.2 s
    offset 0
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
        -- date_part, not extract (numeric): 3.7M actions 2.89 -> 2.56 s
        date_part('hour', localized.action_local_time) >= params.night_start_hour
            or date_part('hour', localized.action_local_time) < params.night_end_hour as is_night,
        localized.contacted_party not in ('borrower', 'guarantor') as is_third_party
    from localized
    cross join params
)

select final.*
from final
{% if is_incremental() %}
inner join rebuild
    on rebuild.lender_code = final.lender_code
    and final.action_month >= rebuild.rebuild_month
{% endif %}
