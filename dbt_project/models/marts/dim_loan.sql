{{
    config(
        large_sorts=true,
        materialized='incremental',
        rebuild_producer='int_loan_status_history',
        rebuild_month_column='last_report_date',
        rebuild_unique_key=['lender_code', 'loan_id'],
        rebuild_drops_gone_loans=true,
        indexes=[
            {'columns': ['lender_code', 'loan_id'], 'unique': True},
        ],
    )
}}
-- depends_on: {{ ref('int_submissions_effective') }}

{# Loans (贷款维度): one row per loan with its latest attributes and where it stands now.
    An incremental run rebuilds only the loans with a report in the months int_loan_status_history
    rebuilt, the loans whose attributes changed (or that are new) and those whose last report was
    in a rebuilt month. When every report already counted is older than the months rebuilt, the
    figures over all reports are the row built combined with the rebuilt months' reports;
    otherwise they are recomputed from the loan's whole history. The latest_* columns and the
    first report's date are int_loan_latest_reports' (kept incrementally there). #}

with

loans as not materialized (
    select * from {{ ref('int_loans_latest') }}
),

latest_reports as materialized (
    -- each loan's latest report, which that model replaces for the loans this one rebuilds.
    -- Materialized: a month's rebuilt loans are estimated at a few hundred, and the planner probed
    -- the table's index once per loan, reading it at random (540k blocks for the 351k loans of a
    -- month at a million loans, 28 s); one scan of the columns read costs a second
    select
        lender_code,
        loan_id,
        account_status,
        is_active,
        outstanding_principal,
        dpd,
        dpd_bucket,
        standardized_class,
        is_in_default,
        first_report_date
    from {{ ref('int_loan_latest_reports') }}
),

{% if is_incremental() %}

rebuild as (
    {{ rebuild_window() }}
),

recent as (
    -- the reports of the months rebuilt
    select history.*
    from {{ ref('int_loan_status_history') }} as history
    where {{ in_rebuilt_months('history.status_submission_id') }}
),

built as (
    select
        built.*,
        rebuild.rebuild_month
    from {{ this }} as built
    left join rebuild
        on rebuild.lender_code = built.lender_code
),

rebuilt_loans as (
    select distinct lender_code, loan_id
    from (
        select lender_code, loan_id from recent
        union all
        -- new loans, and loans whose attributes differ from the row built
        select loans.lender_code, loans.loan_id
        from loans
        left join built
            on built.lender_code = loans.lender_code
            and built.loan_id = loans.loan_id
        where built.loan_id is null
            or (
                loans.borrower_key, loans.borrower_type, loans.id_type, loans.region_code, loans.product_type,
                loans.guarantee_type, loans.guarantor_key is not null, loans.principal, loans.currency,
                loans.annual_rate, loans.issue_date, loans.issue_month, loans.maturity_date,
                loans.repayment_method, loans.installments, loans.first_reported_date
            ) is distinct from (
                built.borrower_key, built.borrower_type, built.id_type, built.region_code, built.product_type,
                built.guarantee_type, built.has_guarantor, built.principal, built.currency,
                built.annual_rate, built.issue_date, built.cohort_month, built.maturity_date,
                built.repayment_method, built.installments, built.first_loans_file_date
            )
        union all
        -- loans whose last report counted is in a rebuilt month (it may be gone)
        select lender_code, loan_id
        from built
        where last_report_date >= rebuild_month
    ) as candidates
),

rebuilt_modes as (
    -- carried: every report counted in the row built is older than the months rebuilt
    select
        rebuilt_loans.lender_code,
        rebuilt_loans.loan_id,
        built.loan_id is not null
            and (built.last_report_date is null
                or built.rebuild_month is null
                or built.last_report_date < built.rebuild_month) as is_carried
    from rebuilt_loans
    left join built
        on built.lender_code = rebuilt_loans.lender_code
        and built.loan_id = rebuilt_loans.loan_id
),

counted_reports as (
    -- the reports to count: a carried loan's in the months rebuilt (added to the row built), the
    -- other loans' whole history
    select recent.*
    from recent
    inner join rebuilt_modes
        on rebuilt_modes.lender_code = recent.lender_code
        and rebuilt_modes.loan_id = recent.loan_id
    where rebuilt_modes.is_carried

    union all

    -- each loan's reports through the (lender_code, loan_id, as_of_date) index: planned as a join,
    -- this walked the whole history's index (7.2M rows at a million loans) for the month's new
    -- loans; offset 0 keeps the subquery a probe per loan
    select history.*
    from rebuilt_modes
    cross join lateral (
        select *
        from {{ ref('int_loan_status_history') }} as loan_history
        where loan_history.lender_code = rebuilt_modes.lender_code
            and loan_history.loan_id = rebuilt_modes.loan_id
        offset 0
    ) as history
    where not rebuilt_modes.is_carried
),

{% else %}

counted_reports as (
    select * from {{ ref('int_loan_status_history') }}
),

{% endif %}

report_figures as (
    select
        lender_code,
        loan_id,
        max(as_of_date) as last_report_date,
        count(*) as reports,
        max(dpd) as max_dpd,
        bool_or(dpd_bucket_order >= {{ var('dpd90_bucket_order') }}) as is_ever_90_plus,
        min(report_month) filter (where dpd_bucket_order >= {{ var('dpd90_bucket_order') }}) as first_90_plus_month,
        max(default_episodes_started) as default_episodes
    from counted_reports
    group by lender_code, loan_id
),

{% if is_incremental() %}

carried as (
    -- the row built of a carried loan: its figures over the reports before the months rebuilt
    select built.*
    from built
    inner join rebuilt_modes
        on rebuilt_modes.lender_code = built.lender_code
        and rebuilt_modes.loan_id = built.loan_id
    where rebuilt_modes.is_carried
),

loan_reports as (
    -- a carried loan's row built combined with the figures of the months rebuilt
    select
        rebuilt_modes.lender_code,
        rebuilt_modes.loan_id,
        coalesce(report_figures.last_report_date, carried.last_report_date) as last_report_date,
        coalesce(carried.status_reports, 0) + coalesce(report_figures.reports, 0) as reports,
        greatest(carried.max_dpd, report_figures.max_dpd) as max_dpd,
        carried.is_ever_90_plus or coalesce(report_figures.is_ever_90_plus, false) as is_ever_90_plus,
        least(carried.first_90_plus_month, report_figures.first_90_plus_month) as first_90_plus_month,
        greatest(carried.default_episodes, report_figures.default_episodes) as default_episodes
    from rebuilt_modes
    left join carried
        on carried.lender_code = rebuilt_modes.lender_code
        and carried.loan_id = rebuilt_modes.loan_id
    left join report_figures
        on report_figures.lender_code = rebuilt_modes.lender_code
        and report_figures.loan_id = rebuilt_modes.loan_id
),

{% else %}

loan_reports as (
    select * from report_figures
),

{% endif %}

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
        latest_reports.first_report_date,
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
        loan_reports.first_90_plus_month,
        coalesce(loan_reports.default_episodes, 0) as default_episodes
    from loans
    {% if is_incremental() %}
    inner join rebuilt_loans
        on rebuilt_loans.lender_code = loans.lender_code
        and rebuilt_loans.loan_id = loans.loan_id
    {% endif %}
    left join loan_reports
        on loan_reports.lender_code = loans.lender_code
        and loan_reports.loan_id = loans.loan_id
    left join latest_reports
        on latest_reports.lender_code = loans.lender_code
        and latest_reports.loan_id = loans.loan_id
)

select * from final
