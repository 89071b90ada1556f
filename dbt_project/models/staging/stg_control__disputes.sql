{# Disputes (异议), one row per dispute; renamed from control.disputes, with the Beijing dates a
   dispute is judged by. A phone-link dispute names the loan and the phone hash it reported. #}

with

source as (
    select * from {{ source('control', 'disputes') }}
),

renamed as (
    select
        dispute_id,
        borrower_key,
        record_kind,
        lender_code,
        loan_id,
        default_episode_no,
        reason_code,
        phone_hash,
        status as dispute_status,
        (opened_at at time zone '{{ var("exchange_timezone") }}')::date as opened_on,
        deadline as dispute_deadline,
        (resolved_at at time zone '{{ var("exchange_timezone") }}')::date as resolved_on
    from source
)

select * from renamed
