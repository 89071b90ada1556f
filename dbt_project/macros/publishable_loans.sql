{#- The loans whose current negative data may reach other members (DOMAIN section 5): not
    unreported and no delinquency pending notice (int_loan_publishability). The fraud signals
    count a default or an overdue report only on these loans. -#}

{% macro publishable_loans() -%}
    select lender_code, loan_id
    from {{ ref('int_loan_publishability') }}
    where not is_unreported
        and not is_delinquency_pending_notice
{%- endmacro %}

{% macro outside_upheld_episodes(history) -%}
    {#- A condition on a report of int_loan_status_history (alias `history`): it belongs to no default
        episode whose dispute was upheld (异议成立). An upheld dispute removes that episode and
        everything built from it (DOMAIN section 5), so its overdue reports count in no signal;
        the loan's reports outside the episode, and a later episode, still count. -#}
    not exists (
        select 1
        from {{ ref('stg_control__disputes') }} as upheld
        where upheld.record_kind = 'default_episode'
            and upheld.dispute_status = 'upheld'
            and upheld.lender_code = {{ history }}.lender_code
            and upheld.loan_id = {{ history }}.loan_id
            and upheld.default_episode_no = {{ history }}.default_episode_no
    )
{%- endmacro %}
