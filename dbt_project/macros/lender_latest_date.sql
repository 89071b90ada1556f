{#- A lender's latest reporting date in int_loan_status_history (null: none), read through the
    (lender_code, report_month) index instead of a scan of the whole history; with `before_month`
    (SQL), its latest one in the months before that one. -#}
{% macro lender_latest_date(lender_code, before_month=none) -%}
    (
        select max(reports.as_of_date)
        from {{ ref('int_loan_status_history') }} as reports
        where reports.lender_code = {{ lender_code }}
            and reports.report_month = (
                select max(months.report_month) from {{ ref('int_loan_status_history') }} as months
                where months.lender_code = {{ lender_code }}
                {%- if before_month %}
                    and months.report_month < {{ before_month }}
                {%- endif %}
            )
    )
{%- endmacro %}
