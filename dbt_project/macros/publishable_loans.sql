{#- Which loans' records may reach other members (DOMAIN section 5), from int_loan_publishability:
    a loan is held back when it is unreported or its delinquency is pending notice. Purged and
    de-keyed rows are gone already (stg_raw__loans); upheld disputes are applied per record
    (episodes, listing reasons, phone links). -#}

{% macro loan_is_held(publishability) -%}
    ({{ publishability }}.is_unreported or {{ publishability }}.is_delinquency_pending_notice)
{%- endmacro %}

{% macro publishable_loans() -%}
    select lender_code, loan_id
    from {{ ref('int_loan_publishability') }} as publishability
    where not {{ loan_is_held('publishability') }}
{%- endmacro %}

{% macro held_loans() -%}
    select lender_code, loan_id
    from {{ ref('int_loan_publishability') }} as publishability
    where {{ loan_is_held('publishability') }}
{%- endmacro %}
