{{
    config(
        materialized='incremental',
        indexes=[
            {'columns': ['lender_code', 'loan_id', 'as_of_date'], 'unique': True},
            {'columns': ['lender_code', 'report_month']},
            {'columns': ['report_month']},
            {'columns': ['status_submission_id']},
            {'columns': ['rules_version', 'as_of_date']},
            {'columns': ['borrower_key']},
        ],
    )
}}
-- depends_on: {{ ref('int_submissions_effective') }}
-- depends_on: {{ ref('int_rule_versions') }}

{# Loan status facts (贷款状态事实表): one row per loan and reporting date, standardized. #}

with

{% if is_incremental() %}

rebuild as (
    {{ rebuild_window() }}
),

{% endif %}

history as (
    select * from {{ ref('int_loan_status_history') }}
    {% if is_incremental() %}
    where {{ in_rebuilt_months('status_submission_id') }}
    {% endif %}
),

loans as (
    select * from {{ ref('int_loans_latest') }}
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
        loans.product_type,
        loans.region_code,
        loans.guarantee_type,
        {{ months_between('loans.issue_month', 'history.report_month') }} as months_on_book,
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
    inner join loans
        on loans.lender_code = history.lender_code
        and loans.loan_id = history.loan_id
    inner join risk_classes
        on risk_classes.risk_class = history.standardized_class
)

select * from final
{{ month_order(['report_month', 'lender_code', 'loan_id', 'as_of_date']) }}
