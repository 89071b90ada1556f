{#- The intermediate models are UNLOGGED tables (dbt_project.yml): they are rebuilt from the raw
    zone, which stays logged, so their rows are not written twice (to the write-ahead log and to
    the table). PostgreSQL empties an unlogged table when it recovers from a crash (and a standby
    cannot read it). A table model does not mind: every run of the transform rebuilds it.
    An incremental one would: its next run would add only the months it rebuilds to an empty
    table. And any model built from an emptied one before that one is rebuilt (a task run on its
    own after the crash) would be built from nothing. So every unlogged model records in a logged
    table whether it held rows when its transaction committed (record_unlogged_rows); a run that
    finds an incremental one empty against that record builds it whole (a full refresh, which logs
    a rebuild of everything for the models downstream, as a first build does), and a model whose
    inputs include one still emptied refuses to build (refuse_lost_inputs). -#}

{% macro should_full_refresh() -%}
    {#- dbt's own rule (config full_refresh, else the --full-refresh flag), plus: an incremental
        unlogged model whose rows a crash recovery removed (unlogged_rows_lost) -#}
    {%- set configured = config.get('full_refresh') -%}
    {%- if configured is none -%}
        {%- set configured = flags.FULL_REFRESH -%}
    {%- endif -%}
    {%- if configured or not execute or config.get('materialized') != 'incremental' or not is_unlogged(config) -%}
        {%- do return(configured) -%}
    {%- endif -%}
    {%- do return(unlogged_rows_lost()) -%}
{%- endmacro %}

{% macro is_unlogged(model_config) -%}
    {#- whether a model is built as an unlogged table: a table or incremental model configured
        unlogged (a view of the intermediate layer inherits the config and holds no rows) -#}
    {%- do return(model_config.get('materialized') in ('table', 'incremental') and model_config.get('unlogged', false)) -%}
{%- endmacro %}

{% macro unlogged_rows_lost() -%}
    {#- true when the model's table exists and is empty while its last committed build left rows in
        it: only a crash recovery (or a failover to a standby) empties a table behind dbt's back -#}
    {%- set existing = adapter.get_relation(this.database, this.schema, this.identifier) -%}
    {%- if existing is none or existing.type != 'table' -%}
        {%- do return(false) -%}
    {%- endif -%}
    {%- do return(run_query(lost_rows_query([(this.identifier, existing)])).rows | length > 0) -%}
{%- endmacro %}

{% macro lost_rows_query(models) -%}
    {#- the names, among `models` ((name, relation) pairs), of the unlogged models whose rows a crash
        recovery removed: empty now, with rows at their last committed build -#}
    {%- for name, relation in models %}
    select built.model from exchange_state.unlogged_built as built
    where built.model = '{{ name }}' and built.has_rows and not exists (select from {{ relation }})
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{% macro unlogged_inputs(node, found) -%}
    {#- the unlogged models (name -> relation) that `node` reads, directly or through views -#}
    {%- for parent_id in node.depends_on.nodes if parent_id.startswith('model.') -%}
        {%- set parent = graph.nodes[parent_id] -%}
        {%- if is_unlogged(parent.config) -%}
            {%- do found.update({parent.name: adapter.quote(parent.schema) ~ '.' ~ adapter.quote(parent.alias)}) -%}
        {%- elif parent.config.materialized == 'view' -%}
            {%- do unlogged_inputs(parent, found) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do return(found) -%}
{%- endmacro %}

{% macro refuse_lost_inputs() -%}
    {#- pre-hook of every model: stop before building from an unlogged model that a crash recovery
        emptied and no run has rebuilt since (a task run on its own after the crash); the whole
        transform rebuilds it first -#}
    {%- if execute -%}
        {%- set inputs = unlogged_inputs(model, {}) -%}
        {%- if inputs -%}
            {%- set lost = run_query(lost_rows_query(inputs.items())).columns[0].values() -%}
            {%- if lost | length > 0 -%}
                {{ exceptions.raise_compiler_error(
                    "T_UNLOGGED_LOST: " ~ this.identifier ~ " reads " ~ (lost | join(', '))
                    ~ ", emptied by a crash recovery and not rebuilt since (中间表在崩溃恢复后为空): run the"
                    ~ " whole transform (exchange pipeline --force), which rebuilds it first") }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro record_unlogged_rows() -%}
    {#- post-hook of every model, in the transaction of its rows: an unlogged model records whether
        it holds rows, for unlogged_rows_lost and refuse_lost_inputs -#}
    {%- if is_unlogged(config) -%}
    insert into exchange_state.unlogged_built (model, has_rows)
    select '{{ this.identifier }}', exists (select from {{ this }})
    on conflict (model) do update set has_rows = excluded.has_rows, built_at = now()
    {%- endif -%}
{%- endmacro %}
