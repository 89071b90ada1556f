{{ config(tests_scope_files=true) }}
with

source as (
    select * from {{ source('raw_collection', 'collection_actions') }}
),

renamed as (
    select
        submission_id,
        line,
        lender_code,
        as_of_date,
        loan_id,
        action_time,
        channel,
        actor,
        contacted_party,
        outcome,
        promise_date,
        promise_amount
    from source
)

select * from renamed
