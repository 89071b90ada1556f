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

        -- loans whose attributes changed (or vanished): compared row by row, but with the loans
        -- only (the rules versions are checked per version below)
        select built.lender_code, built.report_month
        from {{ this }} as built
        left join {{ ref('int_loans_latest') }} as loans
            on loans.lender_code = built.lender_code
            and loans.loan_id = built.loan_id
        where loans.loan_id is null
            or loans.loan_attributes_hash <> built.loan_attributes_hash
        {%- if check_rules %}

        union all

        -- rows built under a rules version no longer in force at their date. Versions hold
        -- consecutive periods, so only a version whose rows (walked through the
        -- (rules_version, as_of_date) index: first and last date per version) stray out of its
        -- period, or that is gone, has rows to check one by one.
        select built.lender_code, built.report_month
        from {{ this }} as built
        left join {{ ref('int_rule_versions') }} as rule_versions
            on built.as_of_date >= rule_versions.effective_from
            and (rule_versions.effective_until is null or built.as_of_date < rule_versions.effective_until)
        -- (an uncorrelated exists: a one-time filter, so nothing is scanned when no version strays)
        where exists (select 1 from ({{ stale_rules_versions() }}) as stale where stale.rules_version is not null)
            and rule_versions.rules_version is distinct from built.rules_version

        union all

        select built.lender_code, built.report_month
        from {{ this }} as built
        left join {{ ref('int_rule_versions') }} as rule_versions
            on built.as_of_date >= rule_versions.effective_from
            and (rule_versions.effective_until is null or built.as_of_date < rule_versions.effective_until)
        where exists (select 1 from ({{ stale_rules_versions() }}) as stale where stale.rules_version is null)
            and built.rules_version is null
            and rule_versions.rules_version is not null
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

{% macro get_incremental_lender_months_sql(arg_dict) -%}
    {#- Incremental strategy 'lender_months': replace, for every lender in the new rows, all rows
        from the first reporting month in the new rows on. The new rows hold every row of those
        months (see lender_months_to_rebuild), so rows that vanished (a corrected file that no
        longer reports a loan) vanish here too. -#}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {{ rebuild_log_ddl() }}
    -- the models downstream rebuild what this run rebuilt (see consumed_rebuilds)
    insert into exchange_state.rebuild_log (model, lender_code, rebuild_month)
    select '{{ target.identifier }}', lender_code, min(report_month)
    from {{ source }}
    group by lender_code;

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

{#- Models downstream of the loan-level ones (findings, borrower months, roll rates, dim_loan...)
    rebuild what their producer rebuilt. The producers (strategy lender_months) log, in the same
    transaction as their delete+insert, each lender's first month rebuilt; a full build logs
    "every lender from the start" (lender_code null). A consumer rebuilds, per lender, every month
    from the earliest one logged since it last ran, and marks the log read in its own transaction
    (post-hook), so a failed run is caught up by the next one and a run with nothing new reads
    nothing. The log lives in schema exchange_state, out of the analysts' schemas. -#}

{% macro rebuild_log_ddl() -%}
    create schema if not exists exchange_state;
    create table if not exists exchange_state.rebuild_log (
        seq bigserial primary key,
        model text not null,
        lender_code text,
        rebuild_month date not null,
        logged_at timestamptz not null default now()
    );
    create table if not exists exchange_state.rebuild_consumed (
        model text primary key,
        seq bigint not null,
        consumed_at timestamptz not null default now()
    );
    create table if not exists exchange_state.rules_built (
        model text primary key,
        fingerprint text not null,
        built_at timestamptz not null default now()
    );
{%- endmacro %}

{#- Models whose incremental rows depend on rule seeds beyond the rules versions (collection
    parameters, segment rules) record a fingerprint of those seeds when built (post-hook
    record_rules_built) and rebuild everything when it no longer matches: a seed changed since. -#}

{% macro rules_fingerprint(seeds) -%}
    md5(concat_ws('|'
        {%- for seed in seeds %},
        (select string_agg(rules::text, ';' order by rules::text) from {{ ref(seed) }} as rules)
        {%- endfor %}
    ))
{%- endmacro %}

{% macro rules_changed(seeds) -%}
    {#- true when this model was built with other contents of `seeds` (or never recorded) -#}
    ((
        select built.fingerprint from exchange_state.rules_built as built
        where built.model = '{{ this.identifier }}'
    ) is distinct from {{ rules_fingerprint(seeds) }})
{%- endmacro %}

{% macro record_rules_built(seeds) -%}
    {{ rebuild_log_ddl() }}
    insert into exchange_state.rules_built (model, fingerprint)
    select '{{ this.identifier }}', {{ rules_fingerprint(seeds) }}
    on conflict (model) do update set fingerprint = excluded.fingerprint, built_at = now();
{%- endmacro %}

{% macro log_full_rebuild() -%}
    {#- pre-hook of a producer: a full build rebuilds every lender's months -#}
    {{ rebuild_log_ddl() }}
    {%- if not is_incremental() %}
    insert into exchange_state.rebuild_log (model, lender_code, rebuild_month)
    values ('{{ this.identifier }}', null, date '0001-01-01');
    {%- endif %}
{%- endmacro %}

{% macro consumed_rebuilds(producer) -%}
    {#- (lender_code, rebuild_month): per lender, the first month `producer` rebuilt since this
        model last read the log; an entry for every lender counts for each lender in force -#}
    select logged.lender_code, min(logged.rebuild_month) as rebuild_month
    from (
        select log.lender_code, log.rebuild_month
        from exchange_state.rebuild_log as log
        where log.model = '{{ producer }}'
            and log.lender_code is not null
            and log.seq > {{ consumed_seq() }}
        union all
        select lenders.lender_code, log.rebuild_month
        from exchange_state.rebuild_log as log
        cross join (
            select distinct lender_code from {{ ref('int_submissions_effective') }}
        ) as lenders
        where log.model = '{{ producer }}'
            and log.lender_code is null
            and log.seq > {{ consumed_seq() }}
    ) as logged
    group by logged.lender_code
{%- endmacro %}

{% macro consumed_seq() -%}
    coalesce((
        select consumed.seq from exchange_state.rebuild_consumed as consumed
        where consumed.model = '{{ this.identifier }}'
    ), 0)
{%- endmacro %}

{% macro mark_rebuilds_consumed(producer) -%}
    {#- post-hook of a consumer (full build or incremental): the log is read up to now -#}
    {{ rebuild_log_ddl() }}
    insert into exchange_state.rebuild_consumed (model, seq)
    select '{{ this.identifier }}', coalesce(max(log.seq), 0)
    from exchange_state.rebuild_log as log
    where log.model = '{{ producer }}'
    on conflict (model) do update set seq = excluded.seq, consumed_at = now();
{%- endmacro %}

{% macro get_incremental_rebuilt_months_sql(arg_dict) -%}
    {#- Incremental strategy 'rebuilt_months' of a consumer: delete the rows of the months being
        rebuilt (config rebuild_producer; rebuild_scope 'lender': that lender's rows from its first
        month rebuilt on, by column rebuild_month_column; 'month': every row from the earliest
        month rebuilt, as rows mixing lenders, or from the month that the macro named by config
        rebuild_from returns (a query of one date; null: nothing); 'loan': the loans in the new rows and those no
        longer in int_loans_latest), then insert the new rows. With config rebuild_unique_key
        (columns), the rows sharing a key with a new row go too: rows before the months rebuilt
        whose figures the new row carries forward. -#}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set producer = config.get('rebuild_producer') -%}
    {%- set scope = config.get('rebuild_scope', 'lender') -%}
    {%- set month_column = config.get('rebuild_month_column', 'report_month') -%}
    {%- set unique_key = config.get('rebuild_unique_key') or [] -%}
    {%- if unique_key %}
    -- rows rebuilt although they lie before the months rebuilt (figures carried forward)
    delete from {{ target }} as built
    using {{ source }} as rebuilt
    where {% for column in unique_key -%}
        built.{{ column }} = rebuilt.{{ column }}{{ ' and ' if not loop.last }}
    {%- endfor %};
    {%- endif %}
    {%- if scope == 'lender' %}
    delete from {{ target }} as built
    using ({{ consumed_rebuilds(producer) }}) as rebuilt
    where built.lender_code = rebuilt.lender_code
        and built.{{ month_column }} >= rebuilt.rebuild_month;
    {%- elif scope == 'month' and config.get('rebuild_from') %}
    delete from {{ target }} as built
    where built.{{ month_column }} >= ({{ exchange[config.get('rebuild_from')]() }});
    {%- elif scope == 'month' %}
    delete from {{ target }} as built
    where built.{{ month_column }} >= (
        select min(rebuilt.rebuild_month) from ({{ consumed_rebuilds(producer) }}) as rebuilt
    );
    {%- elif scope == 'loan' %}
    delete from {{ target }} as built
    where exists (
            select 1 from {{ source }} as rebuilt
            where rebuilt.lender_code = built.lender_code and rebuilt.loan_id = built.loan_id
        )
        or not exists (
            select 1 from {{ ref('int_loans_latest') }} as loans
            where loans.lender_code = built.lender_code and loans.loan_id = built.loan_id
        );
    {%- else %}
    {{ exceptions.raise_compiler_error("rebuild_scope must be lender, month or loan, got '" ~ scope ~ "'") }}
    {%- endif %}

    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }};
{%- endmacro %}

{% macro rebuilt_status_files(rebuild, month_expression='rebuild.rebuild_month') -%}
    {#- ids of the status files in force from each rebuilt lender's month_expression on: the
        loan-level tables hold exactly their rows there. Used as array(...) so the filter reaches
        the status_submission_id index instead of a range over every lender's months. -#}
    select submissions.submission_id
    from {{ ref('int_submissions_effective') }} as submissions
    inner join {{ rebuild }} as rebuild
        on rebuild.lender_code = submissions.lender_code
        and submissions.report_month >= {{ month_expression }}
    where submissions.kind = 'loan_status'
        and submissions.is_effective
{%- endmacro %}


{% macro status_files_rebuilt() %}
{#- The effective loan_status files of the lender-months being rebuilt (needs a CTE `rebuild` from
    lender_months_to_rebuild): incremental models read exactly those files' rows through the
    status_submission_id index instead of scanning the whole history. -#}
    select submissions.submission_id
    from {{ ref('int_submissions_effective') }} as submissions
    inner join rebuild
        on rebuild.lender_code = submissions.lender_code
        and submissions.report_month >= rebuild.rebuild_month
    where submissions.kind = 'loan_status'
        and submissions.is_effective
{% endmacro %}
