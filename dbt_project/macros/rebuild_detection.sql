{#- How a model that reads the raw zone finds what to rebuild (its rebuild window, incremental.sql).

    The loan-level models (status history, repayment profile, fct_loan_status) carry, per row,
    the status file it came from (status_submission_id), a fingerprint of the loan attributes used
    (loan_attributes_hash) and, where classes are computed, the rules version applied. Each run
    compares the table with the raw zone and rebuilds, per lender, every reporting month from the
    first one that changed:
      - a status file in force that the table does not hold yet (new month, or a correction);
      - a status file the table was built from that a correction has replaced since;
      - a loan whose attributes changed (a later loans row), or that disappeared, as
        int_loans_latest logged it since the model last ran (loan_log.sql);
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

        -- loans whose attributes changed (or that went) since this model last ran, as
        -- int_loans_latest logged them (loan_log.sql): from each one's first row, an index probe
        select first_row.lender_code, first_row.report_month
        from ({{ changed_loans() }}) as changed
        cross join lateral (
            select built.lender_code, built.report_month
            from {{ this }} as built
            where built.lender_code = changed.lender_code
                and built.loan_id = changed.loan_id
            order by built.as_of_date
            limit 1
        ) as first_row

        union all

        -- every loan (int_loans_latest was built from scratch): every month
        select distinct submissions.lender_code, date '0001-01-01'
        from {{ ref('int_submissions_effective') }} as submissions
        where {{ every_loan_changed() }}
        {%- if check_rules %}

        union all

        -- rows built under a rules version (or none) no longer the one in force at their date.
        -- Versions hold consecutive periods, so only when the rows of a version (walked through
        -- the (rules_version, as_of_date) index: first and last date per version) stray out of
        -- its period, or the version is gone, are the rows checked one by one; an uncorrelated
        -- exists is a one-time filter, so nothing is scanned when no version strays.
        select built.lender_code, built.report_month
        from {{ this }} as built
        left join {{ ref('int_rule_versions') }} as rule_versions
            on built.as_of_date >= rule_versions.effective_from
            and (rule_versions.effective_until is null or built.as_of_date < rule_versions.effective_until)
        where exists (select 1 from ({{ stale_rules_versions() }}) as stale)
            and rule_versions.rules_version is distinct from built.rules_version
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

{% macro stale_rules_versions() -%}
    {#- rules versions (null: none) of rows built that may no longer be the one in force at their
        date: gone from int_rule_versions, or with rows outside the version's period -#}
    with recursive built_versions as (
        (
            select built.rules_version
            from {{ this }} as built
            where built.rules_version is not null
            order by built.rules_version
            limit 1
        )
        union all
        select (
            select built.rules_version
            from {{ this }} as built
            where built.rules_version > built_versions.rules_version
            order by built.rules_version
            limit 1
        )
        from built_versions
        where built_versions.rules_version is not null
    ),
    spans as (
        select
            built_versions.rules_version,
            (select min(built.as_of_date) from {{ this }} as built
                where built.rules_version = built_versions.rules_version) as first_date,
            (select max(built.as_of_date) from {{ this }} as built
                where built.rules_version = built_versions.rules_version) as last_date
        from built_versions
        where built_versions.rules_version is not null
        union all
        select
            null,
            (select min(built.as_of_date) from {{ this }} as built where built.rules_version is null),
            (select max(built.as_of_date) from {{ this }} as built where built.rules_version is null)
    )
    select spans.rules_version
    from spans
    left join {{ ref('int_rule_versions') }} as rule_versions
        on rule_versions.rules_version = spans.rules_version
    where spans.first_date is not null
        and case
            when spans.rules_version is null then
                spans.last_date >= (select min(effective_from) from {{ ref('int_rule_versions') }})
            else rule_versions.rules_version is null
                or spans.first_date < rule_versions.effective_from
                or spans.last_date >= rule_versions.effective_until
        end
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

