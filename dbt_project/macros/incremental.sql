{#- The exchange's one incremental strategy, rebuilt_months (set for every model in
    dbt_project.yml): an incremental run replaces, per lender, every row from the first reporting
    month it rebuilds (its rebuild window), so a run reads and writes only what changed.

    A model reads its window from rebuild_window() and its input rows through in_rebuilt_months().
    Its config says where the window comes from:
      - no rebuild_producer: the model reads the raw zone and finds what changed itself
        (rebuild_detection.sql); its rebuilds are logged for the models downstream (rebuild_log.sql);
      - rebuild_producer: the model rebuilds what that model (or each of a list of models)
        rebuilt since it last ran;
      - rebuild_mixes_lenders: a row mixes lenders, so every lender from the earliest month;
        with rebuild_lookahead (a parameter of rule_collection_parameters) that many months
        earlier, as a row looks that far ahead; with rebuild_rules (seeds) every month when those
        seeds changed since the model was built (rules_fingerprint.sql);
      - rebuild_month_column: the column that dates a row (default report_month);
      - rebuild_unique_key: the rows sharing these columns with a new row go too (figures carried
        forward from before the window);
      - rebuild_drops_gone_loans: the rows of loans no longer in int_loans_latest go too;
      - rebuild_collection_files: int_collection_actions, which finds the collection files and the
        loans that changed itself, and logs its window like a producer (collection_rebuilds.sql);
      - rebuild_lookback_days: a parameter of rule_collection_parameters: rows are judged on what
        follows them for that many days, so the window starts that much earlier (and before the
        lender's latest reporting date ahead of it);
      - rebuild_signal_inputs: a fraud-signal model, by signal date and by borrower key (signal_inputs.sql);
      - rebuild_key_log: int_signal_loans, which logs the keys whose loans changed (key_log.sql);
      - rebuild_loan_log: int_loans_latest, which logs the loans that changed (loan_log.sql). -#}

{% macro get_incremental_rebuilt_months_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set new_rows = arg_dict['temp_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- if config.get('rebuild_signal_inputs') %}
    {#- a fraud-signal model rebuilds every signal date from the first whose inputs changed, and the
        rows of the keys whose loans changed from the date each was logged (signal_inputs.sql) -#}
    delete from {{ target }} as built
    where built.signal_date >= ({{ signal_rebuild_from() }});

    delete from {{ target }} as built
    using {{ signal_keys() }} as keys
    where built.borrower_key = keys.borrower_key
        and built.signal_date >= keys.rebuild_from;

    {{ record_test_scope(signal_rebuild_from(), keys=signal_keys()) }};

    -- for the models that read this one's rebuilds (mart_borrower_signals)
    insert into exchange_state.rebuild_log (model, lender_code, rebuild_month)
    select '{{ target.identifier }}', null, scope.rebuild_from
    from {{ signal_scope() }} as scope
    where scope.rebuild_from is not null;

    -- a join, not a correlated exists: under the "or" that would be probed for every new row
    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from (
        select rebuilt.*
        from {{ new_rows }} as rebuilt
        left join {{ signal_keys() }} as keys
            on keys.borrower_key = rebuilt.borrower_key
        where rebuilt.signal_date >= ({{ signal_rebuild_from() }})
            or rebuilt.signal_date >= keys.rebuild_from
    ) as in_scope
    {{ unique_index_order() }};
    {%- elif config.get('rebuild_key_log') %}
    {{ log_changed_keys(target, new_rows, columns) }}
    {%- elif config.get('rebuild_loan_log') %}
    {{ log_changed_loans(target, new_rows, columns) }}
    {%- else -%}
    {%- set month_column = config.get('rebuild_month_column', 'report_month') -%}
    {%- set unique_key = config.get('rebuild_unique_key') or [] -%}
    {%- if has_rebuild_window(config) -%}
        {%- set window = rebuild_window() -%}
        {%- if read_by_rebuilds(target.identifier) %}
    -- for the models that read this one's rebuilds
    insert into exchange_state.rebuild_log (model, lender_code, rebuild_month)
    select '{{ target.identifier }}', logged.lender_code, logged.rebuild_month
    from ({{ window }}) as logged;
        {%- endif %}
    {%- else -%}
        {#- a model that finds its own rebuilds holds, in its new rows, every row of the months it
            rebuilds: its window, logged for the models downstream in this transaction -#}
        {%- set window = 'select lender_code, min(report_month) as rebuild_month from ' ~ new_rows ~ ' group by lender_code' -%}
    insert into exchange_state.rebuild_log (model, lender_code, rebuild_month)
    select '{{ target.identifier }}', logged.lender_code, logged.rebuild_month
    from ({{ window }}) as logged;
    {%- endif %}

    {{ record_test_scope('select min(scope.rebuild_month) from (' ~ window ~ ') as scope') }};
    {%- if unique_key %}

    delete from {{ target }} as built
    using {{ new_rows }} as rebuilt
    where {% for column in unique_key -%}
        built.{{ column }} = rebuilt.{{ column }}{{ ' and ' if not loop.last }}
    {%- endfor %};
    {%- endif %}
    {%- if config.get('rebuild_drops_gone_loans') %}

    delete from {{ target }} as built
    where not exists (
        select 1 from {{ ref('int_loans_latest') }} as loans
        where loans.lender_code = built.lender_code and loans.loan_id = built.loan_id
    );
    {%- endif %}
    {%- set rebuilt_rows = rows_in_window(window, month_column, config.get('rebuild_mixes_lenders')) %}
    {%- if rebuilt_rows %}

    delete from {{ target }} as built
    where {{ rebuilt_rows }};
    {%- endif %}

    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ new_rows }}
    {{ unique_index_order() }};
    {%- endif %}
{%- endmacro %}

{% macro rows_in_window(window, month_column, mixes_lenders) -%}
    {#- The condition on the target's (alias built) `month_column` and lender_code that holds for
        the rows of `window`, with the window's lenders and months written out as literals; none
        when the window is empty.
        As a join to the window (a temporary table without statistics, or a scalar subquery) the
        planner estimated a third of the table and scanned all of it: fct_loan_status's monthly
        delete read its whole 523 MB at 200k loans, int_loan_status_history's 457 MB, to remove
        no row. With literals it estimates from the month's histogram and reads the
        (lender_code, month) index. -#}
    {%- if not execute %}{{ return(none) }}{% endif -%}
    {%- set months = run_query("select rebuilt.rebuild_month::text, string_agg(quote_literal(rebuilt.lender_code), ', '"
                               ~ " order by rebuilt.lender_code) from (" ~ window ~ ") as rebuilt"
                               ~ " where rebuilt.rebuild_month is not null group by rebuilt.rebuild_month"
                               ~ " order by rebuilt.rebuild_month") -%}
    {%- if not months.rows %}{{ return(none) }}{% endif -%}
    {%- if mixes_lenders -%}
        {#- a row mixes lenders: every row from the earliest month -#}
        {{ return('built.' ~ month_column ~ " >= date '" ~ months.rows[0][0] ~ "'") }}
    {%- endif -%}
    {%- set branches = [] -%}
    {%- for month, lenders in months.rows -%}
        {%- do branches.append('(built.lender_code in (' ~ lenders ~ ') and built.' ~ month_column ~ " >= date '" ~ month ~ "')") -%}
    {%- endfor -%}
    {{ return(branches | join(' or ')) }}
{%- endmacro %}

{% macro unique_index_order() -%}
    {#- order by the columns of the model's first unique index, for the strategy's inserts: a month
        of rows spread over a large index (every loan's next report) touches each leaf page once
        in index order, at random once per row, and the index outgrows shared_buffers at scale -#}
    {%- set unique = (config.get('indexes') or []) | selectattr('unique') | list -%}
    {%- if unique %}
    order by {{ unique[0]['columns'] | join(', ') }}
    {%- endif -%}
{%- endmacro %}

{% macro month_order(columns) -%}
    {#- A full build's order by `columns` (the month column first): an incremental run appends each
        month at the table's end, but a full build writes rows in whatever order its joins produce
        (fct_loan_status by loan: correlation -0.13 between its reporting month and its place on
        disk at 1M loans). A month's rows were then spread over every page, and each monthly read
        of them (the marts' windows, the monthly tests through the status-file index) read the
        whole table: 2.6 GB at 1M, from disk once the database outgrows memory. In month order a
        month sits in a 24th of the pages. The same for the tables the month's models read by
        reporting month (200k loans x 24 months: the last five months of int_loan_status_history
        sat on 61% of its pages, the repayment profile's on 75%, int_borrower_months' on 99%; 23%
        in month order), at the cost of a sort in the full build. An incremental run's rows need no order (the strategy
        inserts them in unique-index order, at the end). -#}
    {%- if not is_incremental() %}
    order by {{ columns | join(', ') }}
    {%- endif -%}
{%- endmacro %}

{% macro rebuild_window() -%}
    {#- (lender_code, rebuild_month): per lender, the first month this model's incremental run
        rebuilds. A model with a rebuild_producer (or rebuild_collection_files) reads it, in its
        SQL and in the strategy's statements, from the temporary table its pre-hook filled
        (prepare_rebuild_state): the query reads the logs and may scan the model's table
        (int_collection_actions), once. -#}
    {%- if has_rebuild_window(config) -%}
    select * from {{ rebuild_window_table() }}
    {%- else -%}
    {{ rebuild_window_query() }}
    {%- endif -%}
{%- endmacro %}

{% macro rebuild_window_table() -%}
    {{ return(adapter.quote(this.identifier ~ '__rebuild_window')) }}
{%- endmacro %}

{% macro rebuild_window_query() -%}
    {#- the query of rebuild_window (see the config keys above) -#}
    {%- set producers = rebuild_producers(config) -%}
    {%- set lookback = config.get('rebuild_lookback_days') -%}
    {%- if config.get('rebuild_collection_files') -%}
        {#- int_collection_actions: the months of the files and loans that changed and, when the
            rebuild_rules seeds changed, every month (collection_rebuilds.sql) -#}
        {%- set rules = config.get('rebuild_rules') or [] %}
    select windows.lender_code, min(windows.rebuild_month) as rebuild_month
    from (
        {{ collection_months_to_rebuild() }}
        {%- if rules %}
        union all
        -- every lender from the start when the seeds changed
        select distinct lender_code, date '0001-01-01'
        from {{ ref('int_submissions_effective') }}
        where {{ rules_changed(rules) }}
        {%- endif %}
    ) as windows
    group by windows.lender_code
    {%- elif not producers -%}
        {{ lender_months_to_rebuild(check_rules=config.get('rebuild_checks_rules', true)) }}
    {%- elif not config.get('rebuild_mixes_lenders') and lookback -%}
        {{ collection_lookback(consumed_rebuilds(producers), lookback) }}
    {%- elif not config.get('rebuild_mixes_lenders') -%}
        {{ consumed_rebuilds(producers) }}
    {%- elif lookback -%}
    select lenders.lender_code, first_month.rebuild_month
    from (select distinct lender_code from {{ ref('int_submissions_effective') }}) as lenders
    cross join (
        select min(lookback.rebuild_month) as rebuild_month
        from ({{ collection_lookback(consumed_rebuilds(producers), lookback) }}) as lookback
    ) as first_month
    {%- else -%}
        {%- set lookahead = config.get('rebuild_lookahead') -%}
        {%- set rules = config.get('rebuild_rules') or [] -%}
    select lenders.lender_code, first_month.rebuild_month
    from (select distinct lender_code from {{ ref('int_submissions_effective') }}) as lenders
    cross join (
        {%- if lookahead %}
        -- rows look `lookahead` month ends ahead: from that many months before the earliest month
        -- rebuilt (or before the month after a rebuilt lender's last month, in case its latest
        -- months went)
        select
            {%- if rules %}
            case when {{ rules_changed(rules) }} then date '0001-01-01' else
            {%- endif %}
            (
                min(least(
                    rebuild.rebuild_month,
                    (
                        (select max(history.report_month) from {{ ref('int_loan_status_history') }} as history
                            where history.lender_code = rebuild.lender_code)
                        + interval '1 month'
                    )::date
                ))
                - make_interval(months => min(parameters.{{ lookahead }}))
            )::date
            {%- if rules %}
            end
            {%- endif %} as rebuild_month
        from ({{ consumed_rebuilds(producers) }}) as rebuild
        cross join ({{ collection_parameters() }}) as parameters
        {%- else %}
        select min(rebuild.rebuild_month) as rebuild_month
        from ({{ consumed_rebuilds(producers) }}) as rebuild
        {%- endif %}
    ) as first_month
    {%- endif -%}
{%- endmacro %}

{% macro in_rebuilt_months(column, window='rebuild', first_month=none) -%}
    {#- A filter on a loan-level table's status_submission_id `column`: the rows of the status files
        in force from each `window` lender's first_month (default its rebuild_month) on, which the
        loan-level tables hold exactly there. An array parameter, not a join, so the filter reaches
        the status_submission_id index instead of a range over every lender's months. -#}
    {{ column }} = any(array(
        select submissions.submission_id
        from {{ ref('int_submissions_effective') }} as submissions
        inner join {{ window }}
            on {{ window }}.lender_code = submissions.lender_code
            and submissions.report_month >= {{ first_month or window ~ '.rebuild_month' }}
        where submissions.kind = 'loan_status'
            and submissions.is_effective
    ))
{%- endmacro %}
