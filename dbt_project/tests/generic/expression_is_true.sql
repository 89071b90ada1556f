{#- Fails for every row where `expression` is not true (null counts as not true). Usable on a
    model or on a column (the column is then only documentation; the expression names it). -#}
{% test expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}
