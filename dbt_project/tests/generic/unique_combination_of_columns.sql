{#- Fails for every combination of `combination` that occurs more than once.

    Where the model's table has a valid unique index on exactly these columns, PostgreSQL refused
    every duplicate when the rows were written, except among rows with a null in one of them (a
    unique index treats nulls as distinct): only those rows are grouped then, so the test stays
    exact and a table of millions of rows is not grouped again (mart_borrower_signals: 42 s a
    month at a million loans). A model read through a filter (a test's `where`, the rebuilt-rows
    scope: get_where_subquery) is a subset of the table, so the table's index holds for it too. -#}
{% test unique_combination_of_columns(model, combination) %}

select {{ combination | join(', ') }}, count(*) as occurrences
from {{ model }}
{%- set table = tested_table(model) %}
{%- if table %}
where not exists (
    select 1
    from pg_index as indexes
    where indexes.indrelid = '{{ table }}'::regclass
        and indexes.indisunique
        and indexes.indisvalid
        and indexes.indpred is null
        and indexes.indexprs is null
        and indexes.indnkeyatts = {{ combination | length }}
        and array(
            select attributes.attname::text
            from pg_attribute as attributes
            where attributes.attrelid = indexes.indrelid
                and attributes.attnum = any(indexes.indkey::int2[])
            order by attributes.attname::text collate "C"
        ) = array[{% for column in combination | sort %}'{{ column }}'{{ ', ' if not loop.last }}{% endfor %}]::text[]
)
    {%- for column in combination %}
    or {{ column }} is null
    {%- endfor %}
{%- endif %}
group by {{ combination | join(', ') }}
having count(*) > 1

{% endtest %}
