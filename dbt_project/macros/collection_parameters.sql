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
