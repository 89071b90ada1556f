{#- The monthly tests of a staging view over the raw zone (config tests_scope_files:
    stg_raw__loans, stg_raw__loan_status, stg_raw__collection_actions) read only the files the test
    has not passed on yet. A file's raw rows never change once it is accepted: a correction is a
    new file, and retention's de-keying takes rows out of the view, which no test of it can fail
    on. So a file that passed a test still passes it, and a month's tests read the month's files
    instead of every file ever received (the views hold 27M rows at a million loans x 24 months).

    A dbt invocation that runs such a test under tests_scope = 'rebuilt' (the monthly transform's
    `dbt test`, or a Cosmos task's `dbt build` of the view) takes, when it starts, the list of the
    files accepted by then (exchange_state.test_run_files); its tests read those files' rows only,
    and when it ends each test that passed is recorded as passed on all of them
    (exchange_state.tested_files). A file accepted while the tests ran is left for the next run,
    never skipped; a test that failed or errored reads the same files again next time. With
    tests_scope = 'all' (`make test`, a manual `dbt test`) every row is read and nothing recorded. -#}

{% macro untested_files_filter(relation) -%}
    {#- the condition on `relation`'s rows, under the monthly scope, for a view with config
        tests_scope_files: the files of this invocation's list the running test (`model`, in a
        test's context the test node) has not passed on; none otherwise. The files are read when
        the test runs and written into its SQL as literals: the planner then sees how few rows
        they hold and reads them through the raw table's (submission_id, line) key, where an
        array from a subquery was estimated at a tenth of the table and scanned all of it
        (19.6M collection actions for the month's 0.9M at a million loans). -#}
    {%- if not execute or var('tests_scope') != 'rebuilt' or not is_file_scoped(relation) -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- set untested = run_query("select run.submission_id from exchange_state.test_run_files as run"
                                 ~ " where run.invocation_id = '" ~ invocation_id ~ "' and not exists (select 1 from"
                                 ~ " exchange_state.tested_files as tested where tested.test_id = '" ~ model.unique_id
                                 ~ "' and tested.submission_id = run.submission_id) order by 1") -%}
    {%- do return("submission_id = any('{" ~ untested.columns[0].values() | join(',') ~ "}'::bigint[])") -%}
{%- endmacro %}

{% macro is_file_scoped(relation) -%}
    {#- true when `relation` is a model of this project with config tests_scope_files -#}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ relation.identifier) -%}
    {%- do return(node is not none and node.schema == relation.schema
                  and node.config.get('tests_scope_files', false)) -%}
{%- endmacro %}

{% macro data_tests_of(config_name, selected_only=true) -%}
    {#- the unique ids of the data tests this invocation selected (with selected_only=false: the
        project holds) that test a model whose config sets `config_name` (tests_scope_files: a
        view over the raw zone; rebuild_signal_inputs: a fraud-signal model) -#}
    {%- set found = [] -%}
    {%- set candidates = selected_resources if selected_only else graph.nodes.keys() -%}
    {%- for unique_id in candidates if unique_id.startswith('test.') -%}
        {%- set test = graph.nodes.get(unique_id) -%}
        {%- set attached = graph.nodes.get(test.attached_node) if test and test.attached_node else none -%}
        {%- if attached and attached.config.get(config_name) -%}
            {%- do found.append(unique_id) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do return(found) -%}
{%- endmacro %}

{% macro start_tested_files() -%}
    {#- on-run-start: under the monthly scope, when this invocation runs a test of a view with
        config tests_scope_files, the list of the files accepted now (and the lists of invocations
        that never ended, a day old) -#}
    {%- if execute and var('tests_scope') == 'rebuilt' and data_tests_of('tests_scope_files') %}
    delete from exchange_state.test_run_files where recorded_at < now() - interval '1 day';
    insert into exchange_state.test_run_files (invocation_id, submission_id)
    select '{{ invocation_id }}', submissions.submission_id
    from {{ source('control', 'submissions') }} as submissions
    where submissions.verdict in ('accepted', 'accepted_with_errors')
    on conflict do nothing
    {%- endif %}
{%- endmacro %}

{% macro record_tested_files(results) -%}
    {#- on-run-end: each such test that passed has passed on every file of the invocation's list;
        the rows of tests no longer in the project go -#}
    {%- set scoped = data_tests_of('tests_scope_files') if execute and var('tests_scope') == 'rebuilt' else [] -%}
    {%- if scoped -%}
        {%- set passed = [] -%}
        {%- for result in results if result.node.unique_id in scoped and result.status == 'pass' -%}
            {%- do passed.append(result.node.unique_id) -%}
        {%- endfor %}
    insert into exchange_state.tested_files (test_id, submission_id)
    select tests.test_id, run.submission_id
    from exchange_state.test_run_files as run
    cross join unnest(array[{{ quoted_names(passed) }}]::text[])
        as tests (test_id)
    where run.invocation_id = '{{ invocation_id }}'
    on conflict do nothing;
    delete from exchange_state.test_run_files where invocation_id = '{{ invocation_id }}';
    -- the files passed by tests the project no longer holds (renamed or removed by an upgrade):
    -- never read again, they would stay forever
    delete from exchange_state.tested_files
    where test_id <> all(array[{{ quoted_names(data_tests_of('tests_scope_files', selected_only=false)) }}]::text[])
    {%- endif %}
{%- endmacro %}
