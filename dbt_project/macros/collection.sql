{#- The collection rules' parameters (seed rule_collection_parameters) as one row of named columns. -#}
{% macro collection_parameters() -%}
    select
        {%- for name in ['alert_dpd_threshold', 'surge_window_days', 'surge_min_other_lenders', 'segment_new_max_dpd',
                         'segment_cure_horizon_months', 'night_start_hour', 'night_end_hour',
                         'max_connected_calls_per_day', 'contact_cure_window_days'] %}
        max(value) filter (where parameter = '{{ name }}')::integer as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('rule_collection_parameters') }}
{%- endmacro %}

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
