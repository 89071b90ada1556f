with

source as (
    select * from {{ source('control', 'row_problems') }}
),

renamed as (
    select
        submission_id,
        line,
        loan_id,
        field,
        code as reason_code,
        severity
    from source
)

select * from renamed
