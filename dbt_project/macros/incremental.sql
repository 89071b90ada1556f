{#- Incremental rebuilds by lender and reporting month.

    The loan-level models (status history, repayment profile, fct_loan_status) carry, per row,
    the status file it came from (status_submission_id), a fingerprint of the loan attributes used
    (loan_attributes_hash) and, where classes are computed, the rules version applied. Each run
    compares the table with the raw zone and rebuilds, per lender, every reporting month from the
    first one that changed:
      - a status file in force that the table does not hold yet (new month, or a correction);
      - a status file the table was built from that a correction has replaced since;
      - a loan whose attributes changed (a later loans row), or that disappeared;
      - a row whose rules version is no longer the one in force at its date (new rule version);
      - var('as_of'): every month from that date on, for every lender (an operator's lever).
    State that runs across months (default episodes, cures, the 24-month profile) is carried
    from the last row built before the rebuilt months, so a run reads only what it rebuilds. -#}

{% macro lender_months_to_rebuild(check_rules=true) -%}
    select changed.lender_code, min(changed.report_month) as rebuild_month
    from (
        -- status files in force that this table does not hold yet
        select submissions.lender_code, submissions.report_month
        from {{ ref('int_submissions_effective') }} as submissions
        where submissions.kind = 'loan_status'
            and submissions.is_effective
            and not exists (
                select 1 from {{ this }} as built
                where built.status_submission_id = submissions.submission_id
            )

        union all

        -- status files this table was built from that a correction has replaced since
        select submissions.lender_code, submissions.report_month
        from {{ ref('int_submissions_effective') }} as submissions
        where submissions.kind = 'loan_status'
            and not submissions.is_effective
            and exists (
                select 1 from {{ this }} as built
                where built.status_submission_id = submissions.submission_id
            )

        union all

        -- loans whose attributes changed (or vanished), rules versions no longer in force
        select built.lender_code, built.report_month
        from {{ this }} as built
        left join {{ ref('int_loans_latest') }} as loans
            on loans.lender_code = built.lender_code
            and loans.loan_id = built.loan_id
        {%- if check_rules %}
        left join {{ ref('int_rule_versions') }} as rule_versions
            on built.as_of_date >= rule_versions.effective_from
            and (rule_versions.effective_until is null or built.as_of_date < rule_versions.effective_until)
        {%- endif %}
        where loans.loan_id is null
            or loans.loan_attributes_hash <> built.loan_attributes_hash
            {%- if check_rules %}
            or rule_versions.rules_version is distinct from built.rules_version
            {%- endif %}

        {%- set as_of = rebuild_as_of() %}
        {%- if as_of %}

        union all

        -- every lender's months from the reporting date the run was asked to rebuild from
        select distinct submissions.lender_code, date_trunc('month', date '{{ as_of }}')::date
        from {{ ref('int_submissions_effective') }} as submissions
        where submissions.kind = 'loan_status'
            and submissions.is_effective
            and submissions.as_of_date >= date '{{ as_of }}'
        {%- endif %}
    ) as changed
    group by changed.lender_code
{%- endmacro %}

{% macro rebuild_as_of() -%}
    {#- var('as_of') checked to be a date (YYYY-MM-DD) or empty -#}
    {%- set as_of = (var('as_of', '') or '') | string | trim -%}
    {%- if as_of in ('', 'None', 'none', 'null') -%}
        {{ return('') }}
    {%- elif modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', as_of) -%}
        {{ return(as_of) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("var('as_of') must be a date YYYY-MM-DD, got '" ~ as_of ~ "'") }}
    {%- endif -%}
{%- endmacro %}

{% macro get_incremental_lender_months_sql(arg_dict) -%}
    {#- Incremental strategy 'lender_months': replace, for every lender in the new rows, all rows
        from the first reporting month in the new rows on. The new rows hold every row of those
        months (see lender_months_to_rebuild), so rows that vanished (a corrected file that no
        longer reports a loan) vanish here too. -#}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }} as built
    using (
        select lender_code, min(report_month) as rebuild_month
        from {{ source }}
        group by lender_code
    ) as rebuilt
    where built.lender_code = rebuilt.lender_code
        and built.report_month >= rebuilt.rebuild_month;

    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }};
{%- endmacro %}
