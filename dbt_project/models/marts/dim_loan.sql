{# Loans (贷款维度): one row per loan with its latest attributes and where it stands now. #}

with

loans as (
    select * from {{ ref('int_loans_latest') }}
),

history as (
    select * from {{ ref('int_loan_status_history') }}
),

loan_reports as (
    select
        lender_code,
        loan_id,
        min(as_of_date) as first_report_date,
        max(as_of_date) as last_report_date,
        count(*) as reports,
        max(dpd) as max_dpd,
        bool_or(dpd >= 91) as is_ever_90_plus,
        max(default_episodes_started) as default_episodes
    from history
    group by lender_code, loan_id
),

latest_reports as (
    select distinct on (lender_code, loan_id)
        lender_code,
        loan_id,
        account_status,
        is_active,
        outstanding_principal,
        dpd,
        dpd_bucket,
        standardized_class,
        is_in_default
    from history
    order by lender_code, loan_id, as_of_date desc
),

final as (
    select
        {{ loan_key('loans.lender_code', 'loans.loan_id') }} as loan_key,
        loans.lender_code,
        loans.loan_id,
        loans.borrower_key,
        loans.borrower_type,
        loans.id_type,
        loans.region_code,
        loans.product_type,
        loans.guarantee_type,
        loans.guarantor_key is not null as has_guarantor,
        loans.principal,
        loans.currency,
        loans.annual_rate,
        loans.issue_date,
        loans.issue_month as cohort_month,
        loans.maturity_date,
        {{ months_between('loans.issue_date', 'loans.maturity_date') }} as term_months,
        loans.repayment_method,
        loans.installments,
        loans.first_reported_date as first_loans_file_date,
        loan_reports.first_report_date,
        loan_reports.last_report_date,
        coalesce(loan_reports.reports, 0) as status_reports,
        latest_reports.account_status as latest_account_status,
        latest_reports.is_active as is_active,
        latest_reports.outstanding_principal as latest_outstanding_principal,
        latest_reports.dpd as latest_dpd,
        latest_reports.dpd_bucket as latest_dpd_bucket,
        latest_reports.standardized_class as latest_standardized_class,
        latest_reports.is_in_default as is_in_default,
        loan_reports.max_dpd,
        coalesce(loan_reports.is_ever_90_plus, false) as is_ever_90_plus,
        coalesce(loan_reports.default_episodes, 0) as default_episodes
    from loans
    left join loan_reports
        on loan_reports.lender_code = loans.lender_code
        and loan_reports.loan_id = loans.loan_id
    left join latest_reports
        on latest_reports.lender_code = loans.lender_code
        and latest_reports.loan_id = loans.loan_id
)

select * from final
