{#- Data tests on what a run rebuilt (var tests_scope = 'rebuilt', set by the monthly transform):
    an incremental model's tests read only the rows of the months it rebuilt in its latest run,
    so a month's tests cost a month, not the whole history. The rows kept from earlier runs were
    tested when they were built and have not changed since. The first month rebuilt is recorded
    per model in exchange_state.test_scope, in the transaction of its rows: every month for a
    full build (prepare_rebuild_state), the start of the rebuild window for an incremental run
    (strategy rebuilt_months), none when it rebuilt nothing. A fraud-signal model is tested on the
    signal dates it rebuilt for every key and on the rows before them of the keys it rebuilt
    (exchange_state.test_scope_keys, same transaction). A staging view over the raw zone (config
    tests_scope_files) is tested on the files each test has not passed on yet (tested_files.sql).
    Models that replace rows outside their
    month column (rebuild_unique_key: dim_loan;
    int_signal_loans) and every other model are tested whole, as is everything with tests_scope =
    'all' (the default: `make test`, a manual `dbt test`). -#}

{% macro get_where_subquery(relation) -%}
    {#- dbt's hook for a test's `where` config (global macro of the same name), plus the scope -#}
    {%- set filters = [] -%}
    {%- if config.get('where') -%}
        {%- do filters.append(config.get('where')) -%}
    {%- endif -%}
    {%- set scope = rebuilt_rows_filter(relation) or untested_files_filter(relation) -%}
    {%- if scope -%}
        {%- do filters.append(scope) -%}
    {%- endif -%}
    {%- set keys = rebuilt_keys_filter(relation) -%}
    {%- if keys -%}
        {#- a signal model: the dates rebuilt, and the keys rebuilt on earlier dates, as two index
            scans (one filter with an "or" would scan the whole table) -#}
        {%- set given = [config.get('where')] if config.get('where') else [] -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ filters | join(' and ')
                      ~ ' union all select * from ' ~ relation ~ ' where ' ~ (given + [keys]) | join(' and ')
                      ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- if filters -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ filters | join(' and ') ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{% macro rebuilt_rows_filter(relation) -%}
    {#- the condition on `relation` that keeps the rows its latest run rebuilt; none when the
        scope is the whole table. A model with an index on status_submission_id is filtered on
        the status files of those months (an index scan); the others on their month column. -#}
    {%- if var('tests_scope') not in ('all', 'rebuilt') -%}
        {{ exceptions.raise_compiler_error("var('tests_scope') must be 'all' or 'rebuilt', got '" ~ var('tests_scope') ~ "'") }}
    {%- endif -%}
    {#- parsing renders tests before the graph exists: the scope is decided when they run -#}
    {%- set node = scoped_model(relation) if execute and var('tests_scope') == 'rebuilt' else none -%}
    {%- if node is none -%}
        {%- do return(none) -%}
    {%- endif -%}
    {#- the first month as a literal, so the planner estimates the rows it keeps -#}
    {%- set first_month = "date '" ~ run_query('select (' ~ scope_first_month(node.alias) ~ ')::text').columns[0].values()[0] ~ "'" -%}
    {%- set indexes = node.config.get('indexes', []) | map(attribute='columns') | list -%}
    {%- if ['status_submission_id'] in indexes -%}
        {%- do return(status_files_from('status_submission_id', first_month)) -%}
    {%- endif -%}
    {%- set column = 'signal_date' if node.config.get('rebuild_signal_inputs')
                     else node.config.get('rebuild_month_column') or 'report_month' -%}
    {%- if ['lender_code', column] in indexes -%}
        {#- the lenders written out too: a bound on the month alone cannot use the (lender_code,
            month) index, and the collection models' tests scanned their whole tables (515k
            blocks for int_collection_actions at a million loans x 24 months) -#}
        {%- set lenders = run_query("select string_agg(quote_literal(lenders.lender_code), ', ' order by lenders.lender_code)"
                                    ~ " from (select distinct submissions.lender_code from " ~ submissions_source()
                                    ~ " as submissions) as lenders").columns[0].values()[0] -%}
        {%- do return(("lender_code in (" ~ lenders ~ ") and " if lenders else "false and ") ~ column ~ " >= " ~ first_month) -%}
    {%- endif -%}
    {%- do return(column ~ " >= " ~ first_month) -%}
{%- endmacro %}

{% macro submissions_source() -%}
    {#- the source table control.submissions: a test's macro cannot ref() a model -#}
    {%- set source = graph.sources['source.' ~ project_name ~ '.control.submissions'] -%}
    {%- do return(api.Relation.create(database=source.database, schema=source.schema, identifier=source.identifier)) -%}
{%- endmacro %}

{% macro rebuilt_keys_filter(relation) -%}
    {#- for a signal model under the monthly scope: the condition that keeps the rows, before the
        dates rebuilt, of the keys its latest run rebuilt there (exchange_state.test_scope_keys);
        none otherwise -#}
    {%- set node = scoped_model(relation) if execute and var('tests_scope') == 'rebuilt' else none -%}
    {%- if node is none or not node.config.get('rebuild_signal_inputs') -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- do return("borrower_key = any(array(select keys.borrower_key from exchange_state.test_scope_keys as keys"
                  ~ " where keys.model = '" ~ node.alias ~ "')) and not signal_date >= "
                  ~ scope_first_month(node.alias)) -%}
{%- endmacro %}

{% macro status_files_from(column, first_month) -%}
    {#- the condition on a row's status file `column`: a loan_status file of a reporting month from
        `first_month` (SQL) on, the files written out as literals (read when the test runs, from
        submissions_source()). As an array
        parameter the planner could not see how few rows it keeps: dbt's accepted_values tests
        on int_loan_status_history scanned the whole table (290k blocks at a million loans x 24
        months, each test, and more every month) for the month's 351k rows. -#}
    {%- set files = run_query("select submissions.submission_id from " ~ submissions_source() ~ " as submissions"
                              ~ " where submissions.kind = 'loan_status' and submissions.as_of_date >= "
                              ~ first_month ~ " order by submissions.submission_id") -%}
    {%- if not files.rows -%}
        {%- do return('false') -%}
    {%- endif -%}
    {%- do return(column ~ " in (" ~ files.columns[0].values() | map('int') | join(', ') ~ ")") -%}
{%- endmacro %}

{% macro scope_first_month(model) -%}
    {#- SQL: the first month the latest run of `model` (its table's name) rebuilt; 'infinity' when
        it rebuilt nothing, '-infinity' when no run recorded a scope (a table built before scopes:
        every row) -#}
    {%- do return("coalesce((select coalesce(scope.first_month, date 'infinity') from exchange_state.test_scope"
                  ~ " as scope where scope.model = '" ~ model ~ "'), date '-infinity')") -%}
{%- endmacro %}

{% macro tested_table(model) -%}
    {#- the table a test reads: `model` itself, or the one inside the subquery get_where_subquery
        made of it; none for anything else -#}
    {%- if model.identifier is defined -%}
        {%- do return(model | string) -%}
    {%- endif -%}
    {%- set found = modules.re.match('^[(]select [*] from ("[^"]+"[.]"[^"]+"[.]"[^"]+") where ', model | string) -%}
    {%- do return(found.group(1) if found else none) -%}
{%- endmacro %}

{% macro scoped_model(relation) -%}
    {#- the graph node of an incremental model of this project whose rows are dated by a month
        column (none for other relations and for models that replace rows outside it:
        rebuild_unique_key, rebuild_key_log, rebuild_loan_log); for a view with config rows_of
        (fct_loan_status), which shows that model's rows one for one, that model's node: the
        view's tests read the rows its run rebuilt, through its indexes. Looked up by unique id: a
        test runs this once, a walk over the graph would cost every test a pass over every node. -#}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ relation.identifier) -%}
    {%- if not node or node.schema != relation.schema -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- if node.config.materialized == 'view' and node.config.get('rows_of') -%}
        {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ node.config.get('rows_of')) -%}
    {%- endif -%}
    {%- if node and node.config.materialized == 'incremental'
            and not node.config.get('rebuild_unique_key') and not node.config.get('rebuild_key_log')
            and not node.config.get('rebuild_loan_log') -%}
        {%- do return(node) -%}
    {%- endif -%}
    {%- do return(none) -%}
{%- endmacro %}

{% macro graph_relation(name) -%}
    {#- the relation of model `name`, from the graph: a ref() in a macro a test calls at run time
        would not be among the test's dependencies -#}
    {%- set node = graph.nodes['model.' ~ project_name ~ '.' ~ name] -%}
    {%- do return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) -%}
{%- endmacro %}

{% macro record_test_scope(first_month, keys=none) -%}
    {#- part of an incremental model's run: `first_month` (SQL) is the first month (signal date) it
        rebuilt for every row; `keys`, a signal model's table of the borrower keys it also rebuilt
        on earlier dates (exchange_state.test_scope_keys) -#}
    insert into exchange_state.test_scope (model, first_month)
    select '{{ this.identifier }}', ({{ first_month }})
    on conflict (model) do update set first_month = excluded.first_month, recorded_at = now()
    {%- if keys %};

    delete from exchange_state.test_scope_keys where model = '{{ this.identifier }}';
    insert into exchange_state.test_scope_keys (model, borrower_key)
    select '{{ this.identifier }}', keys.borrower_key
    from {{ keys }} as keys
    {%- endif %}
{%- endmacro %}

{% macro analyze_test_scope_keys() -%}
    {#- on-run-start: under the monthly scope, when this invocation runs a test of a signal model,
        fresh statistics on the keys the signal models recorded (their tests read them). Not in
        the models' own transactions: an ANALYZE holds its table's lock until the transaction
        ends and waits for another's, so the signal models that run side by side would wait for
        each other's whole build (int_identity_mismatch_signals waited 24 s for
        int_phone_link_signals in a full build at 200k loans). -#}
    {%- if execute and var('tests_scope') == 'rebuilt' and data_tests_of('rebuild_signal_inputs') %}
    analyze exchange_state.test_scope_keys
    {%- endif %}
{%- endmacro %}
