with

source as (
    select * from {{ source('control', 'submissions') }}
),

renamed as (
    select
        submission_id,
        lender_code,
        kind,
        as_of_date,
        seq,
        file_name,
        file_format,
        size_bytes,
        received_at,
        processed_at,
        verdict,
        reason_code,
        rows_total,
        rows_accepted,
        rows_rejected,
        rows_warned,
        duplicate_of as duplicate_of_submission_id,
        superseded_by as superseded_by_submission_id,
        is_partial
    from source
)

select * from renamed
