{{ config(indexes=[{'columns': ['report_month']}]) }}

{# Cure rate by delinquent-borrower segment (逾期客群回收率), per lender and month: of the delinquent
    loans in a segment at a month end, the share back at DPD 0 within the horizon (seed parameter
    segment_cure_horizon_months). Months whose horizon is not yet reported are left out of the rate.
    A plain table: it reads int_delinquency_segments' few rows (delinquent loans at month ends)
    in a fraction of a second even on a long history, so it needs no incremental rebuild. #}

with

segments as (
    select * from {{ ref('int_delinquency_segments') }}
),

final as (
    select
        lender_code,
        report_month,
        segment_code,
        max(segment_zh) as segment_zh,
        count(*) as delinquent_loans,
        count(*) filter (where is_evaluable) as evaluable_loans,
        count(*) filter (where is_evaluable and is_cured) as cured_loans,
        {{ safe_ratio('count(*) filter (where is_evaluable and is_cured)', 'count(*) filter (where is_evaluable)') }}
            as cure_rate
    from segments
    group by lender_code, report_month, segment_code
)

select * from final
