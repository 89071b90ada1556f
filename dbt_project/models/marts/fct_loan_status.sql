{{
    config(
        materialized='view',
        rows_of='int_loan_status_history',
    )
}}

{# Loan status facts (贷款状态事实表): one row per loan and reporting date, standardized. A view of
    int_loan_status_history, which holds every column below but the loan key and whether the class
    is non-performing: the history's indexes serve it (lender, loan and date; lender and month;
    status file; rules version; borrower key), and its data tests read the months the history's
    latest run rebuilt (config rows_of, macros/test_scope.sql). #}

with

history as (
    select * from {{ ref('int_loan_status_history') }}
),

risk_classes as (
    select * from {{ ref('ref_risk_classes') }}
),

final as (
    select
        {{ loan_key('history.lender_code', 'history.loan_id') }} as loan_key,
        history.lender_code,
        history.loan_id,
        history.as_of_date,
        history.report_month,
        history.is_month_last_report,
        history.borrower_key,
        history.borrower_type,
        history.product_type,
        history.region_code,
        history.guarantee_type,
        history.months_on_book,
        history.account_status,
        history.is_active,
        history.outstanding_principal,
        history.overdue_principal,
        history.overdue_interest,
        history.overdue_amount,
        history.overdue_since,
        history.dpd,
        history.dpd_reported,
        history.dpd_bucket,
        history.dpd_bucket_order,
        history.legal_status,
        history.fraud_flag,
        history.rule_set,
        history.floor_class,
        history.override_codes,
        history.override_class,
        history.default_hold_class,
        history.exchange_class,
        history.lender_risk_class,
        history.standardized_class,
        risk_classes.is_non_performing,
        history.is_under_classified,
        history.is_in_default,
        history.default_episode_no,
        history.default_date,
        history.repayment_code,
        history.repayment_profile_24m,
        history.rules_version,
        history.status_submission_id,
        history.status_line,
        history.loan_attributes_hash
    from history
    inner join risk_classes
        on risk_classes.risk_class = history.standardized_class
)

select * from final
