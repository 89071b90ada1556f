{#- The rebuild log: how the models downstream of a model that finds its own rebuilds (findings,
    borrower months, roll rates, dim_loan...) learn what it rebuilt. Such a model logs, in the same
    transaction as its rows, each lender's first month rebuilt (strategy rebuilt_months); a full
    build logs "every lender from the start" (lender_code null). A model with a rebuild_producer
    rebuilds, per lender, every month from the earliest one logged since it last ran, and marks
    the log read in its own transaction, so a failed run is caught up by the next one and a run
    with nothing new reads nothing; when others read it in turn, it logs the window it rebuilt
    too. A model may read several producers' logs (a list): the collection models that judge
    actions on the status reports read int_collection_actions' and int_loan_status_history's.
    The log lives in schema exchange_state, out of the analysts' schemas, created by the
    exchange's migrations (0023_rebuild_state.sql). -#}

{% macro rebuild_producers(model_config) -%}
    {#- the models whose rebuild logs a model reads: its config rebuild_producer, one name or a list -#}
    {%- set producer = model_config.get('rebuild_producer') -%}
    {%- do return([] if not producer else ([producer] if producer is string else producer)) -%}
{%- endmacro %}

{% macro has_rebuild_window(model_config) -%}
    {#- true for a model whose incremental run computes its rebuild window in its pre-hook: one with
        a rebuild_producer, and int_collection_actions (rebuild_collection_files), which finds
        its own and logs it for the collection models -#}
    {%- do return(model_config.get('rebuild_producer') or model_config.get('rebuild_collection_files')) -%}
{%- endmacro %}

{% macro prepare_rebuild_state() -%}
    {#- pre-hook of every model: an incremental run of a model with a rebuild window
        (has_rebuild_window) computes it once; a fraud-signal model computes its fingerprints, first date and keys
        (signal_inputs.sql); an incremental model's full build is
        tested whole (test_scope.sql) and, without a rebuild_producer or when another model reads
        its rebuilds (int_collection_actions), logs a rebuild of everything
        (every lender's months or signal dates; int_signal_loans: every key, key_log.sql) -#}
    {%- if config.get('materialized') == 'incremental' %}
        {%- if has_rebuild_window(config) and is_incremental() %}
    create temporary table {{ rebuild_window_table() }} on commit drop as {{ rebuild_window_query() }};
    -- its row count and months for the planner: unanalysed, it is guessed at a thousand rows
    analyze {{ rebuild_window_table() }};
        {%- endif %}
        {%- if config.get('rebuild_signal_inputs') %}
    {{ prepare_signal_inputs() }};
        {%- endif %}
        {%- if not is_incremental() %}
    {{ record_test_scope("date '0001-01-01'", keys=signal_keys() if config.get('rebuild_signal_inputs')) }};
        {%- endif %}
        {%- if config.get('rebuild_key_log') and not is_incremental() %}
    {{ log_every_key() }};
        {%- elif config.get('rebuild_loan_log') %}
            {%- if not is_incremental() %}
    {{ log_every_loan() }};
            {%- endif %}
        {%- elif (not config.get('rebuild_producer') or read_by_rebuilds(this.identifier)) and not is_incremental() %}
    insert into exchange_state.rebuild_log (model, lender_code, rebuild_month)
    values ('{{ this.identifier }}', null, date '0001-01-01');
        {%- endif %}
    {%- endif %}
{%- endmacro %}

{% macro consumed_rebuilds(producers) -%}
    {#- (lender_code, rebuild_month): per lender, the first month any of `producers` rebuilt since
        this model last read the log; an entry for every lender counts for each lender in force -#}
    select logged.lender_code, min(logged.rebuild_month) as rebuild_month
    from (
        select log.lender_code, log.rebuild_month
        from exchange_state.rebuild_log as log
        where log.model in ({{ quoted_names(producers) }})
            and log.lender_code is not null
            and log.seq > {{ consumed_seq() }}
        union all
        select lenders.lender_code, log.rebuild_month
        from exchange_state.rebuild_log as log
        cross join (
            select distinct lender_code from {{ ref('int_submissions_effective') }}
        ) as lenders
        where log.model in ({{ quoted_names(producers) }})
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

{% macro record_rebuild_state() -%}
    {#- post-hook of every model (full build or incremental, same transaction as its rows): a model
        with a rebuild_producer has read the producer's log up to now, a reader of the loan log
        (loan_log.sql) that log; one with rebuild_rules was
        built with the seeds' present contents; one with rebuild_signal_inputs was built from its
        inputs' present fingerprints (signal_inputs.sql) -#}
    {%- set producers = rebuild_producers(config) -%}
    {%- set rules = config.get('rebuild_rules') -%}
    {%- set reads_loans = is_loan_log_reader(config) -%}
    {%- if producers or reads_loans %}
    insert into exchange_state.rebuild_consumed (model, seq)
    select '{{ this.identifier }}', coalesce(max(logs.seq), 0)
    from (
        {%- if producers %}
        select log.seq from exchange_state.rebuild_log as log where log.model in ({{ quoted_names(producers) }})
        {%- endif %}
        {%- if producers and reads_loans %}
        union all
        {%- endif %}
        {%- if reads_loans %}
        select loans.seq from exchange_state.loan_log as loans
        {%- endif %}
    ) as logs
    on conflict (model) do update set seq = excluded.seq, consumed_at = now();
    {%- endif %}
    {%- if config.get('rebuild_signal_inputs') %}
    {{ record_signal_inputs() }};
    {%- endif %}
    {%- if rules %}
    insert into exchange_state.rules_built (model, fingerprint)
    select '{{ this.identifier }}', {{ rules_fingerprint(rules) }}
    on conflict (model) do update set fingerprint = excluded.fingerprint, built_at = now();
    {%- endif %}
{%- endmacro %}

{% macro quoted_names(names) -%}
    {%- for name in names %}'{{ name }}'{{ ', ' if not loop.last }}{% endfor -%}
{%- endmacro %}

{% macro prune_read_entries(log_table, readers) -%}
    {#- a log's entries up to the lowest position its readers recorded; none while one reader has never
        recorded a position (count short of the readers), so no reader misses an entry -#}
    delete from {{ log_table }} as entries
    where entries.seq <= (
        select case when count(*) = {{ readers | length }} then min(consumed.seq) end
        from exchange_state.rebuild_consumed as consumed
        where consumed.model in ({{ quoted_names(readers) }})
    )
{%- endmacro %}
