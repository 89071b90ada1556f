{# Portfolio quality (资产质量): one row per lender, product, region and month, over the loans
    active at the month's last report (normal, overdue, restructured). Ratios by balance use
    outstanding principal; 90+ means DPD of 91 days or more. #}

with

loan_status as (
    select * from {{ ref('fct_loan_status') }}
),

month_end_book as (
    select *
    from loan_status
    where is_month_last_report
        and is_active
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
        count(*) filter (where dpd >= 1) as m1_plus_loans,
        count(*) filter (where dpd >= 31) as m2_plus_loans,
        count(*) filter (where dpd >= 61) as m3_plus_loans,
        count(*) filter (where dpd >= 91) as dpd90_plus_loans,
        coalesce(sum(outstanding_principal) filter (where dpd >= 1), 0) as m1_plus_balance,
        coalesce(sum(outstanding_principal) filter (where dpd >= 31), 0) as m2_plus_balance,
        coalesce(sum(outstanding_principal) filter (where dpd >= 61), 0) as m3_plus_balance,
        coalesce(sum(outstanding_principal) filter (where dpd >= 91), 0) as dpd90_plus_balance,
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
