{# Held records (不予发布的记录): negative records of a lender that no other member sees, each
   with why (hold_reason: pending_notice, unreported, dispute_upheld). Published with each version
   to shared.held_record_rows for the reporting lender and the association, and into the
   data-subject report marked as not published. Purged records are gone for everyone. #}

with

episodes as (
    select * from {{ ref('int_episode_publishability') }}
    where not is_publishable and hold_reason <> 'purged'
),

reasons as (
    select * from {{ ref('int_listing_reasons') }}
    where not is_publishable and hold_reason <> 'purged'
),

final as (
    select
        lender_code,
        borrower_key,
        loan_id,
        'default_episode' as record_kind,
        default_episode_no,
        cast(null as text) as reason_code,
        hold_reason,
        default_date,
        notice_date,
        default_submission_id as source_submission_id,
        default_line as source_line
    from episodes

    union all

    select
        lender_code,
        borrower_key,
        loan_id,
        'listing' as record_kind,
        default_episode_no,
        reason_code,
        hold_reason,
        default_date,
        notice_date,
        source_submission_id,
        source_line
    from reasons
)

select * from final
