{#- The key log: how the fraud-signal models learn which borrower keys to rebuild on every date.
    int_signal_loans (config rebuild_key_log) holds, per loan, a hash of everything about the loan
    that a signal counts beside its reports: key, issue date, principal, first reports,
    publishability (notice, staleness) and upheld disputes. Each run compares the loans' present
    state with the one built and logs, in exchange_state.key_log and in the transaction of its rows,
    each key of a loan that changed, appeared or went (its old and its new key), from the loan's
    first report; a full build logs one entry for every key (borrower_key null). The signal models
    read the log since they last read it (signal_inputs.sql). Entries every reader has read are
    deleted by the last reader (mart_borrower_signals, in its transaction) and by the next
    int_signal_loans run: a pseudonymized key stays in the log only while a transform runs, or
    until the next one completes where a reader failed. -#}

{% macro log_changed_keys(target, new_rows, columns) -%}
    {{ prune_key_log() }};

    insert into exchange_state.key_log (model, borrower_key, rebuild_from)
    select '{{ target.identifier }}', changed.borrower_key, min(changed.rebuild_from)
    from (
        select
            unnest(array[rebuilt.borrower_key, built.borrower_key]) as borrower_key,
            coalesce(least(rebuilt.first_reported_date, built.first_reported_date), date '0001-01-01')
                as rebuild_from
        from {{ new_rows }} as rebuilt
        full outer join {{ target }} as built
            on built.lender_code = rebuilt.lender_code
            and built.loan_id = rebuilt.loan_id
        where built.signal_state_hash is distinct from rebuilt.signal_state_hash
    ) as changed
    where changed.borrower_key is not null
    group by changed.borrower_key;

    delete from {{ target }} as built
    where not exists (
        select 1 from {{ new_rows }} as rebuilt
        where rebuilt.lender_code = built.lender_code
            and rebuilt.loan_id = built.loan_id
            and rebuilt.signal_state_hash = built.signal_state_hash
    );

    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ new_rows }} as rebuilt
    where not exists (
        select 1 from {{ target }} as built
        where built.lender_code = rebuilt.lender_code
            and built.loan_id = rebuilt.loan_id
    );
{%- endmacro %}

{% macro prune_key_log() -%}
    {#- entries every model that reads the key log has read -#}
    {%- set readers = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model'
            and (node.config.get('rebuild_signal_inputs') or {}).get('loan_keys') -%}
        {%- do readers.append(node.name) -%}
    {%- endfor %}
    {{ prune_read_entries(log_table='exchange_state.key_log', readers=readers) }}
{%- endmacro %}

{% macro log_every_key() -%}
    {#- pre-hook part of a full build of int_signal_loans: every key, every date -#}
    insert into exchange_state.key_log (model, borrower_key, rebuild_from)
    values ('{{ this.identifier }}', null, date '0001-01-01')
{%- endmacro %}
