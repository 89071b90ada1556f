{{
    config(
        materialized='incremental',
        rebuild_producer='int_loan_status_history',
        indexes=[
            {'columns': ['lender_code', 'report_month'], 'unique': True},
        ],
    )
}}
-- depends_on: {{ ref('int_submissions_effective') }}

{# Classification counts per lender and reporting month (五级分类报送): the reports, those with
    the lender's own class and those the lender classed better than the exchange's standard.
    mart_lender_submission_quality rebuilds whole every month; grouping the whole history there
    read every report of every month (2.3 GB at a million loans x 24 months) to change the counts
    of the months rebuilt. An incremental run recounts the months int_loan_status_history rebuilt. #}

with

{% if is_incremental() %}

rebuild as (
    {{ rebuild_window() }}
),

{% endif %}

history as (
    select *
    from {{ ref('int_loan_status_history') }} as history
    {% if is_incremental() %}
    where {{ in_rebuilt_months('history.status_submission_id') }}
    {% endif %}
),

final as (
    select
        lender_code,
        report_month,
        count(*) as status_reports,
        count(lender_risk_class) as reports_with_lender_class,
        count(*) filter (where is_under_classified) as under_classified_reports
    from history
    group by lender_code, report_month
)

select * from final
