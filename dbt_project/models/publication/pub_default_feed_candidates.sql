{# Default feed candidates (违约信息候选): one row per default episode, traceable to the report that
   opened it. Purge date = end date + retention_years (5, 征信业管理条例 art. 16); an episode whose
   purge date has passed is left out (retention), as is one a dispute upheld. An ongoing or
   written-off episode has no end yet, so no purge date. #}

with

episodes as (
    select * from {{ ref('fct_default_episodes') }}
),

lenders as (
    select * from {{ ref('dim_lender') }}
),

history as (
    select as_of_date from {{ ref('int_loan_status_history') }}
),

disputes as (
    select * from {{ source('exchange_control', 'disputes') }}
),

as_of as (
    select max(as_of_date) as publication_as_of from history
),

open_disputes as (
    select distinct lender_code, loan_id
    from disputes
    where status = 'open' and record_kind = 'default_episode'
),

open_listing_disputes as (
    select distinct borrower_key
    from disputes
    where status = 'open' and record_kind = 'listing'
),

upheld as (
    select distinct lender_code, loan_id
    from disputes
    where status = 'upheld' and record_kind = 'default_episode'
),

dated as (
    -- the purge date comes with the episode (fct_default_episodes.purge_date)
    select * from episodes
),

final as (
    select
        as_of.publication_as_of,
        dated.borrower_key,
        dated.lender_code,
        lenders.lender_category,
        dated.loan_id,
        dated.default_episode_no,
        dated.product_type,
        dated.default_date,
        dated.max_dpd,
        dated.outstanding_at_default as amount_at_default,
        dated.episode_status,
        dated.end_date,
        dated.purge_date,
        dated.latest_notice_date as notice_date,
        dated.latest_notice_date is null as pending_notice,
        open_disputes.loan_id is not null or open_listing_disputes.borrower_key is not null as disputed,
        dated.default_submission_id as source_submission_id,
        dated.default_line as source_line
    from dated
    cross join as_of
    inner join lenders on lenders.lender_code = dated.lender_code
    left join open_disputes
        on open_disputes.lender_code = dated.lender_code
        and open_disputes.loan_id = dated.loan_id
    left join open_listing_disputes on open_listing_disputes.borrower_key = dated.borrower_key
    left join upheld
        on upheld.lender_code = dated.lender_code
        and upheld.loan_id = dated.loan_id
    where upheld.loan_id is null
        and (dated.purge_date is null or dated.purge_date > current_date)
)

select * from final
