{# Per lender, debtor (borrower key) and local day: the calls the debtor got from the lender and its
    agencies together, and whether the connected ones exceed the daily limit. #}

with

actions as (
    select * from {{ ref('int_collection_actions') }}
),

params as (
    {{ collection_parameters() }}
),

days as (
    select
        lender_code,
        borrower_key,
        action_date,
        action_month,
        count(*) as actions,
        count(*) filter (where is_call) as calls,
        count(*) filter (where is_connected_call) as connected_calls,
        count(distinct actor) as actors
    from actions
    group by lender_code, borrower_key, action_date, action_month
),

final as (
    select
        days.*,
        days.connected_calls > params.max_connected_calls_per_day as is_over_call_limit
    from days
    cross join params
)

select * from final
