with

source as (
    select * from {{ source('control', 'lenders') }}
),

renamed as (
    select
        lender_code,
        name as lender_name,
        category as lender_category,
        status as lender_status,
        created_at,
        updated_at
    from source
)

select * from renamed
