{#- Fails with a row per column of `columns` that holds nulls (column_name, nulls): every column
    of a model counted in one scan, where a not_null test per column would scan the table once
    per column and cost dbt a test node each (444 of the project's 617 tests were not_null). -#}
{% test not_null_columns(model, columns) %}

select per_column.column_name, per_column.nulls
from (
    select
        {%- for column in columns %}
        count(*) filter (where "{{ column }}" is null) as "{{ column }}"{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}
) as counted
cross join lateral (
    values
        {%- for column in columns %}
        ('{{ column }}', counted."{{ column }}"){{ ',' if not loop.last }}
        {%- endfor %}
) as per_column (column_name, nulls)
where per_column.nulls > 0

{% endtest %}
