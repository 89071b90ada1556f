{{
    config(
        materialized='incremental',
        rebuild_producer='int_collection_actions',
        rebuild_month_column='action_month',
        indexes=[
            {'columns': ['lender_code', 'borrower_key', 'action_date'], 'unique': True},
            {'columns': ['lender_code', 'action_month']},
        ],
    )
}}
-- depends_on: {{ ref('int_submissions_effective') }}

{# Per lender, debtor (borrower key) and local day: the calls the debtor got from the lender and its
    agencies together, and whether the connected ones exceed the daily limit. An incremental run
    rebuilds the action months int_collection_actions rebuilt. #}

with

{% if is_incremental() %}

rebuild as (
    {{ rebuild_window() }}
),

actions as (
    {{ collection_rows_from('int_collection_actions', 'rebuild') }}
),

{% else %}

actions as (
    select * from {{ ref('int_collection_actions') }}
),

{% endif %}

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
    -- grouped by sorting in this order (for the count of distinct actors): a full build writes
    -- the days in month order at no extra cost (macros/incremental.sql, month_order)
    group by action_month, lender_code, action_date, borrower_key
),

final as (
    select
        days.*,
        days.connected_calls > params.max_connected_calls_per_day as is_over_call_limit
    from days
    cross join params
)

select * from final
