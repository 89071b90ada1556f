{#- The loans whose current negative data may reach other members (DOMAIN section 5): not
    unreported and no delinquency pending notice (int_loan_publishability). The fraud signals
    count a default or an overdue report only on these loans. -#}

{% macro publishable_loans() -%}
    select lender_code, loan_id
    from {{ ref('int_loan_publishability') }}
    where not is_unreported
        and not is_delinquency_pending_notice
{%- endmacro %}
