{#- The loan log: how the models that hold rows per loan learn which loans changed.
    int_loans_latest (config rebuild_loan_log) computes every loan's latest row as before, then
    compares it with the row it holds and, in the transaction of its rows, logs in
    exchange_state.loan_log each loan whose attributes (loan_attributes_hash: borrower key, amounts,
    dates, terms) changed or that went (a replaced loans file, retention's de-keying); it replaces
    only the rows that differ. A new loan is not logged: no reader holds rows of a loan that was
    not in int_loans_latest (they join it), so there is nothing of it to rebuild. A full build logs one entry for every loan
    (lender_code null). The readers (is_loan_log_reader: the loan-level models that find their own
    rebuilds, and int_collection_actions) rebuild each logged loan from its first row, read the
    log since they last ran, and record their position in their own transaction
    (record_rebuild_state), so a failed run is caught up by the next one. Before the log, each of
    them compared every row it held with the loans, every month. -#}

{% macro log_changed_loans(target, new_rows, columns) -%}
    {{ prune_loan_log() }};

    insert into exchange_state.loan_log (lender_code, loan_id)
    select
        coalesce(rebuilt.lender_code, built.lender_code),
        coalesce(rebuilt.loan_id, built.loan_id)
    from {{ new_rows }} as rebuilt
    full outer join {{ target }} as built
        on built.lender_code = rebuilt.lender_code
        and built.loan_id = rebuilt.loan_id
    -- changed or went; not a new loan: no reader holds a row of a loan it had not (their rows
    -- join the loans), so a new loan has nothing to rebuild (its first files bring its rows)
    where built.loan_id is not null
        and built.loan_attributes_hash is distinct from rebuilt.loan_attributes_hash;

    -- every row that differs in any column (a later loans file with the same attributes moves
    -- the attributes' file and date) is replaced
    delete from {{ target }} as built
    where not exists (
        select 1 from {{ new_rows }} as rebuilt
        where rebuilt.lender_code = built.lender_code
            and rebuilt.loan_id = built.loan_id
            and ({{ columns_of('rebuilt', columns) }}) is not distinct from ({{ columns_of('built', columns) }})
    );

    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ new_rows }} as rebuilt
    where not exists (
        select 1 from {{ target }} as built
        where built.lender_code = rebuilt.lender_code
            and built.loan_id = rebuilt.loan_id
    )
    {{ unique_index_order() }};
{%- endmacro %}

{% macro columns_of(alias, columns) -%}
    {#- `columns` (dbt's quoted, comma-separated list) each prefixed by `alias` -#}
    {%- for column in columns.split(', ') -%}
        {{ alias }}.{{ column }}{{ ', ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{% macro log_every_loan() -%}
    {#- pre-hook part of a full build of int_loans_latest: every loan changed -#}
    insert into exchange_state.loan_log (lender_code, loan_id) values (null, null)
{%- endmacro %}

{% macro is_loan_log_reader(model_config) -%}
    {#- true for an incremental model that rebuilds the loans the log names: a loan-level model
        that finds its own rebuilds (no rebuild_producer: rebuild_detection.sql) and
        int_collection_actions (rebuild_collection_files) -#}
    {%- do return(model_config.get('materialized') == 'incremental'
                  and (model_config.get('rebuild_collection_files')
                       or not (model_config.get('rebuild_producer') or model_config.get('rebuild_signal_inputs')
                               or model_config.get('rebuild_key_log') or model_config.get('rebuild_loan_log')))) -%}
{%- endmacro %}

{% macro changed_loans() -%}
    {#- (lender_code, loan_id) of the loans logged since this model last read the logs; lender_code
        null: every loan -#}
    select distinct loans.lender_code, loans.loan_id
    from exchange_state.loan_log as loans
    where loans.seq > {{ consumed_seq() }}
{%- endmacro %}

{% macro every_loan_changed() -%}
    {#- SQL condition: the log says every loan changed since this model last read it -#}
    exists (
        select 1 from exchange_state.loan_log as loans
        where loans.seq > {{ consumed_seq() }}
            and loans.lender_code is null
    )
{%- endmacro %}

{% macro prune_loan_log() -%}
    {#- entries every reader has read -#}
    {%- set readers = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and is_loan_log_reader(node.config) -%}
        {%- do readers.append(node.name) -%}
    {%- endfor %}
    {{ prune_read_entries(log_table='exchange_state.loan_log', readers=readers) }}
{%- endmacro %}
