{#- A lender's latest reporting date in int_loan_status_history (null: none), read through the
    (lender_code, report_month) index instead of a scan of the whole history. -#}
{% macro lender_latest_date(lender_code) -%}
    (
        select max(reports.as_of_date)
        from {{ ref('int_loan_status_history') }} as reports
        where reports.lender_code = {{ lender_code }}
            and reports.report_month = (
                select max(months.report_month) from {{ ref('int_loan_status_history') }} as months
                where months.lender_code = {{ lender_code }}
            )
    )
{%- endmacro %}
