{{
    config(
        materialized='incremental',
        rebuild_producer='int_loan_status_history',
        rebuild_mixes_lenders=true,
        rebuild_lookahead='segment_cure_horizon_months',
        rebuild_rules=['rule_collection_parameters', 'rule_delinquency_segments', 'stg_control__disputes'],
        indexes=[
            {'columns': ['report_month']},
        ],
    )
}}
-- depends_on: {{ ref('int_submissions_effective') }}
-- depends_on: {{ ref('int_loan_status_history') }}
-- depends_on: {{ ref('rule_collection_parameters') }}
-- depends_on: {{ ref('rule_delinquency_segments') }}
-- depends_on: {{ ref('stg_control__disputes') }}

{# Cure rate by delinquent-borrower segment (逾期客群回收率), per lender and month: of the delinquent
    loans in a segment at a month end, the share back at DPD 0 within the horizon (seed parameter
    segment_cure_horizon_months). Months whose horizon is not yet reported are left out of the rate.
    An incremental run rebuilds the months int_delinquency_segments rebuilt (same first month). #}

with

segments as (
    select * from {{ ref('int_delinquency_segments') }}
    {% if is_incremental() %}
    where report_month >= (select min(rebuild.rebuild_month) from ({{ rebuild_window() }}) as rebuild)
    {% endif %}
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
