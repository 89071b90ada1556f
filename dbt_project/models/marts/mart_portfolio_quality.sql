{{
    config(
        materialized='incremental',
        serial_plans=true,
        rebuild_producer='int_loan_status_history',
        indexes=[
            {'columns': ['lender_code', 'report_month']},
        ],
    )
}}
-- depends_on: {{ ref('int_submissions_effective') }}

{# Portfolio quality (资产质量): one row per lender, product, region and month, over the loans
    active at the month's last report (normal, overdue, restructured). Ratios by balance use
    outstanding principal; M1+, M2+, M3+ and 90+ are the loans at or above the buckets M1, M2, M3
    and M4 of rule_dpd_buckets (DPD 1, 31, 61 and 91 days or more in v1). An incremental run rebuilds each
    lender's months from the first one int_loan_status_history (fct_loan_status's rows) rebuilt. #}

with

{% if is_incremental() %}

rebuild as (
    {{ rebuild_window() }}
),

{% endif %}

month_end_book as (
    select loan_status.*
    from {{ ref('fct_loan_status') }} as loan_status
    {% if is_incremental() %}
    inner join rebuild
        on rebuild.lender_code = loan_status.lender_code
        and loan_status.report_month >= rebuild.rebuild_month
    {% endif %}
    where loan_status.is_month_last_report
        and loan_status.is_active
    {% if is_incremental() %}
        and {{ in_rebuilt_months('loan_status.status_submission_id') }}
    {% endif %}
),

aggregated as (
    select
        report_month,
        lender_code,
        product_type,
        region_code,
        count(*) as active_loans,
        sum(outstanding_principal) as outstanding_principal,
        sum(overdue_amount) as overdue_amount,
        count(*) filter (where dpd_bucket_order >= {{ var('m1_bucket_order') }}) as m1_plus_loans,
        count(*) filter (where dpd_bucket_order >= {{ var('m2_bucket_order') }}) as m2_plus_loans,
        count(*) filter (where dpd_bucket_order >= {{ var('m3_bucket_order') }}) as m3_plus_loans,
        count(*) filter (where dpd_bucket_order >= {{ var('dpd90_bucket_order') }}) as dpd90_plus_loans,
        coalesce(sum(outstanding_principal) filter (where dpd_bucket_order >= {{ var('m1_bucket_order') }}), 0) as m1_plus_balance,
        coalesce(sum(outstanding_principal) filter (where dpd_bucket_order >= {{ var('m2_bucket_order') }}), 0) as m2_plus_balance,
        coalesce(sum(outstanding_principal) filter (where dpd_bucket_order >= {{ var('m3_bucket_order') }}), 0) as m3_plus_balance,
        coalesce(sum(outstanding_principal) filter (where dpd_bucket_order >= {{ var('dpd90_bucket_order') }}), 0) as dpd90_plus_balance,
        count(*) filter (where is_non_performing) as npl_loans,
        coalesce(sum(outstanding_principal) filter (where is_non_performing), 0) as npl_balance,
        coalesce(sum(outstanding_principal) filter (where standardized_class = 1), 0) as class_1_balance,
        coalesce(sum(outstanding_principal) filter (where standardized_class = 2), 0) as class_2_balance,
        coalesce(sum(outstanding_principal) filter (where standardized_class = 3), 0) as class_3_balance,
        coalesce(sum(outstanding_principal) filter (where standardized_class = 4), 0) as class_4_balance,
        coalesce(sum(outstanding_principal) filter (where standardized_class = 5), 0) as class_5_balance,
        count(*) filter (where is_in_default) as loans_in_default
    from month_end_book
    group by report_month, lender_code, product_type, region_code
),

final as (
    select
        aggregated.*,
        {{ safe_ratio('m1_plus_balance', 'outstanding_principal') }} as m1_plus_balance_ratio,
        {{ safe_ratio('m2_plus_balance', 'outstanding_principal') }} as m2_plus_balance_ratio,
        {{ safe_ratio('m3_plus_balance', 'outstanding_principal') }} as m3_plus_balance_ratio,
        {{ safe_ratio('dpd90_plus_balance', 'outstanding_principal') }} as dpd90_plus_balance_ratio,
        {{ safe_ratio('m1_plus_loans', 'active_loans') }} as m1_plus_count_ratio,
        {{ safe_ratio('m2_plus_loans', 'active_loans') }} as m2_plus_count_ratio,
        {{ safe_ratio('m3_plus_loans', 'active_loans') }} as m3_plus_count_ratio,
        {{ safe_ratio('dpd90_plus_loans', 'active_loans') }} as dpd90_plus_count_ratio,
        {{ safe_ratio('npl_balance', 'outstanding_principal') }} as npl_ratio
    from aggregated
)

select * from final
