{% macro tune_session() -%}
    {#- Settings for the model's own transaction (pre-hook): sort and hash memory from
        var('exchange_work_mem'), or var('exchange_large_work_mem') for a model with config
        large_sorts, and no JIT compilation (its cost outweighs its gain here). A model with
        config full_build_joins_as_written has its full build join in the order its SQL writes
        (join_collapse_limit 1): for a join the planner cannot estimate and would reorder badly.
        A model with config serial_plans has its full build planned without parallel workers: its
        plans split a grouping whose keys barely repeat between two workers and the leader, then
        merge their partial groups again, and were slower with the workers than without even on an
        idle machine (mart_borrower_signals at 200k loans x 24 months: 12.1 -> 7.1 s), while in a
        run the other threads already hold both cores. Its incremental runs, which read a month
        through indexes, were not measured that way and keep the server's setting. -#}
    {%- set name = 'exchange_large_work_mem' if config.get('large_sorts') else 'exchange_work_mem' -%}
    {%- set work_mem = var(name) | string | trim -%}
    {%- if not modules.re.match('^[0-9]+(kB|MB|GB)$', work_mem) -%}
        {{ exceptions.raise_compiler_error("var('" ~ name ~ "') must look like 256MB, got '" ~ work_mem ~ "'") }}
    {%- endif -%}
    set local work_mem = '{{ work_mem }}'; set local jit = off
    {%- if config.get('full_build_joins_as_written') and not is_incremental() %}; set local join_collapse_limit = 1{% endif %}
    {%- if config.get('serial_plans') and not is_incremental() %}; set local max_parallel_workers_per_gather = 0{% endif %}
{%- endmacro %}

{% macro analyze_built() -%}
    {#- Post-hook of every model: fresh planner statistics on what the model just wrote, so the
        models after it in the same run are planned from real row counts. Without them a table
        built seconds ago is estimated from its size on disk, and a join of millions of rows was
        planned as a nested loop (int_bust_out_signals: minutes instead of seconds). Seeds too (the
        rule tables): a view joining one (fct_loan_status) was estimated at four times its rows.
        Views hold no rows to sample. -#}
    {%- if config.get('materialized') in ('table', 'incremental', 'seed') -%}
    analyze {{ this }}
    {%- endif -%}
{%- endmacro %}

{% macro postgres__get_test_sql(main_sql, fail_calc, warn_if, error_if, limit) -%}
    {#- A data test's query, in the models' session settings (tune_session): a test has no
        pre-hook, and at the server's default work_mem (4MB) the groupings of the unique and
        relationship tests spilled to disk at a million loans. dbt looks for this macro in the
        project before its own (dispatch of get_test_sql); the query itself is dbt's. -#}
    {{ tune_session() }};
    {{ dbt.default__get_test_sql(main_sql, fail_calc, warn_if, error_if, limit) }}
{%- endmacro %}
