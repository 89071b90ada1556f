{# Default feed candidates (违约信息候选): one row per publishable default episode
   (int_episode_publishability), traceable to the report that opened it. Held episodes
   (purged, dispute_upheld, unreported, pending_notice) are left out; pub_held_records lists
   them for their lender. The reporting lender's category is what other members see in place of
   its code (int_lender_categories). #}

with

episodes as (
    select * from {{ ref('int_episode_publishability') }}
    where is_publishable
),

loans as (
    select * from {{ ref('int_loans_latest') }}
),

categories as (
    select * from {{ ref('int_lender_categories') }}
),

as_of as (
    -- the latest reporting date of any lender
    select max({{ lender_latest_date('reporting_lenders.lender_code') }}) as publication_as_of
    from (select distinct lender_code from {{ ref('int_submissions_effective') }}) as reporting_lenders
),

final as (
    select
        as_of.publication_as_of,
        episodes.borrower_key,
        episodes.lender_code,
        categories.shown_category as lender_category,
        episodes.loan_id,
        episodes.default_episode_no,
        loans.product_type,
        episodes.default_date,
        episodes.max_dpd,
        episodes.outstanding_at_default as amount_at_default,
        episodes.episode_status,
        episodes.end_date,
        episodes.purge_date,
        episodes.notice_date,
        episodes.is_disputed as disputed,
        episodes.dispute_deadline,
        episodes.default_submission_id as source_submission_id,
        episodes.default_line as source_line
    from episodes
    cross join as_of
    inner join loans
        on loans.lender_code = episodes.lender_code
        and loans.loan_id = episodes.loan_id
    inner join categories
        on categories.lender_code = episodes.lender_code
)

select * from final
