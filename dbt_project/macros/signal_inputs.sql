{#- Incremental fraud-signal models (rebuild_signal_inputs): a model with one row per borrower key
    and signal date rebuilds only the rows whose inputs changed, by date and by key. Its config
    says what it reads:

        rebuild_signal_inputs={
            'input': 'int_borrower_identity_reports', 'date_column': 'reported_date',  # optional
            'columns': ['lender_code', 'loan_id', ...], 'where': 'phone_hash is not null',
            'producers': ['int_loan_status_history'],                               # optional
            'loan_keys': true,                                                       # optional
        }

    By date: every signal date from the first one that changed, computed from
      - the fingerprint of each signal date: its whole rules row (int_fraud_signal_dates) and, with
        an 'input', the count and an order-free sum of hashes of every input row dated up to it
        (all history: a signal may look back without limit, as a link's first report does); a new
        month, a correction, a dispute that marks or removes a row, a row de-keyed by retention or
        a new rule version changes the fingerprint of every date from its month on; a date that
        appeared or went counts too;
      - with 'producers', the rebuild log (rebuild_log.sql) of those models since this one last
        read it: the first month a producer rebuilt (int_loan_status_history: a new month, a
        correction, a loan whose attributes or key changed), or the first signal date a signal
        model rebuilt (the mart reads the signal models' logs).
    By key: with 'loan_keys', each borrower key int_signal_loans logged since this model last read
    its key log, from the date it gave: a loan whose publishability (notice, staleness), upheld
    disputes, key or loan attributes changed invalidates its key's rows from its first report on
    (a loan held back or released counts on every date it was reported: DOMAIN section 5 applies
    today's publishability to the whole history).

    Both are computed once per run, in the pre-hook (prepare_signal_inputs), into temporary tables
    the model's input filter (in_signal_scope), the strategy's delete and insert, the test scope
    and the post-hook all read; the fingerprints of the dates built and the position read in the
    logs are kept in exchange_state (signal_inputs, rebuild_consumed), written in the model's own
    transaction (post-hook), so a failed run leaves the previous state and the next run redoes it. -#}

{% macro signal_input_fingerprints() -%}
    {%- set spec = config.get('rebuild_signal_inputs') -%}
    {%- if spec.get('input') -%}
    {%- set date_column = spec['date_column'] -%}
    select
        dates.signal_date,
        md5(concat_ws(
            '|', coalesce(sum(months.rows_in_month), 0), coalesce(sum(months.row_hashes), 0), dates::text
        )) as fingerprint
    from {{ ref('int_fraud_signal_dates') }} as dates
    left join (
        select
            date_trunc('month', inputs.{{ date_column }})::date as input_month,
            count(*) as rows_in_month,
            sum(hashtextextended(concat_ws('|', {{ spec['columns'] | map('string') | join(', ') }}), 0)::numeric)
                as row_hashes
        from {{ ref(spec['input']) }} as inputs
        {%- if spec.get('where') %}
        where {{ spec['where'] }}
        {%- endif %}
        group by 1
    ) as months
        on months.input_month <= dates.signal_month
    group by dates.signal_date, dates::text
    {%- else -%}
    select dates.signal_date, md5(dates::text) as fingerprint
    from {{ ref('int_fraud_signal_dates') }} as dates
    {%- endif -%}
{%- endmacro %}

{% macro signal_fingerprints() -%}
    {#- the temporary table of this run's fingerprints (dropped at the model's commit) -#}
    signal_fingerprints__{{ this.identifier }}
{%- endmacro %}

{% macro signal_scope() -%}
    {#- the temporary table of this run's first date to rebuild (rebuild_from, null: none) and the
        position in the logs read up to (read_to) -#}
    signal_scope__{{ this.identifier }}
{%- endmacro %}

{% macro signal_keys() -%}
    {#- the temporary table of the keys this run rebuilds (borrower_key, rebuild_from) -#}
    signal_keys__{{ this.identifier }}
{%- endmacro %}

{% macro signal_producers() -%}
    {#- the models whose logs this model reads, as a SQL array of names (maybe empty) -#}
    {%- set spec = config.get('rebuild_signal_inputs') -%}
    {%- set producers = (spec.get('producers') or []) + (['int_signal_loans'] if spec.get('loan_keys') else []) -%}
    array[{% for producer in producers %}'{{ producer }}'{{ ', ' if not loop.last }}{% endfor %}]::text[]
{%- endmacro %}

{% macro prepare_signal_inputs() -%}
    {#- pre-hook part: this run's fingerprints, first date and keys, computed once -#}
    {%- set spec = config.get('rebuild_signal_inputs') -%}
    create temporary table {{ signal_fingerprints() }} on commit drop as
    {{ signal_input_fingerprints() }};

    create temporary table {{ signal_scope() }} on commit drop as
    select
        {% if is_incremental() %}({{ signal_changed_from() }}){% else %}date '0001-01-01'{% endif %} as rebuild_from,
        greatest(
            {{ consumed_seq() }},
            (select max(log.seq) from exchange_state.rebuild_log as log where log.model = any({{ signal_producers() }})),
            (select max(keys.seq) from exchange_state.key_log as keys where keys.model = any({{ signal_producers() }}))
        ) as read_to;

    create temporary table {{ signal_keys() }} on commit drop as
    select keys.borrower_key, min(keys.rebuild_from) as rebuild_from
    from exchange_state.key_log as keys
    where {{ 'true' if is_incremental() and spec.get('loan_keys') else 'false' }}
        and keys.model = 'int_signal_loans'
        and keys.borrower_key is not null
        and keys.seq > {{ consumed_seq() }}
        and keys.seq <= (select scope.read_to from {{ signal_scope() }} as scope)
    group by keys.borrower_key
    -- a key whose rows from its date on are all rebuilt anyway (a new loan, usually) is not one more
    having min(keys.rebuild_from) < coalesce(({{ signal_rebuild_from() }}), date 'infinity');

    analyze {{ signal_keys() }}
{%- endmacro %}

{% macro signal_changed_from() -%}
    {#- the first signal date to rebuild for every key (see above); null when nothing changed -#}
    select min(changed.signal_date)
    from (
        select current_dates.signal_date
        from {{ signal_fingerprints() }} as current_dates
        left join exchange_state.signal_inputs as built
            on built.model = '{{ this.identifier }}'
            and built.signal_date = current_dates.signal_date
        where built.fingerprint is distinct from current_dates.fingerprint

        union all

        select built.signal_date
        from exchange_state.signal_inputs as built
        where built.model = '{{ this.identifier }}'
            and not exists (
                select 1 from {{ ref('int_fraud_signal_dates') }} as dates
                where dates.signal_date = built.signal_date
            )

        union all

        -- what the producers rebuilt since this model last read their logs; an entry for every
        -- key (a full build of int_signal_loans) rebuilds every date
        select log.rebuild_month
        from exchange_state.rebuild_log as log
        where log.model = any({{ signal_producers() }})
            and log.seq > {{ consumed_seq() }}

        union all

        select keys.rebuild_from
        from exchange_state.key_log as keys
        where keys.model = any({{ signal_producers() }})
            and keys.borrower_key is null
            and keys.seq > {{ consumed_seq() }}
    ) as changed
{%- endmacro %}

{% macro signal_rebuild_from() -%}
    {#- the first signal date this run rebuilds for every key; null when none -#}
    select scope.rebuild_from from {{ signal_scope() }} as scope
{%- endmacro %}

{% macro signal_first_date() -%}
    {#- the first signal date on which this run rebuilds any row, for every key or for some -#}
    select least(
        ({{ signal_rebuild_from() }}),
        (select min(keys.rebuild_from) from {{ signal_keys() }} as keys)
    )
{%- endmacro %}

{% macro in_signal_scope(date_expression, key_column) -%}
    {#- A condition on an input row of an incremental run: it may count in a row this run rebuilds,
        its date (`date_expression`, the last signal date it can count on, or later) on or after the
        first date rebuilt, or its key (`key_column`) among the keys rebuilt. Rows outside the scope
        that a run computes are not written (the strategy keeps the scope exactly). -#}
    ({{ date_expression }} >= ({{ signal_rebuild_from() }})
        or {{ key_column }} in (select keys.borrower_key from {{ signal_keys() }} as keys))
{%- endmacro %}

{% macro record_signal_inputs() -%}
    {#- post-hook part: the fingerprints of the dates now built replace the model's previous ones;
        the logs are read up to where this run read them, and the key log's entries every reader
        has read go -#}
    delete from exchange_state.signal_inputs where model = '{{ this.identifier }}';
    insert into exchange_state.signal_inputs (model, signal_date, fingerprint)
    select '{{ this.identifier }}', fingerprints.signal_date, fingerprints.fingerprint
    from {{ signal_fingerprints() }} as fingerprints;
    insert into exchange_state.rebuild_consumed (model, seq)
    select '{{ this.identifier }}', scope.read_to
    from {{ signal_scope() }} as scope
    where scope.read_to is not null
    on conflict (model) do update set seq = excluded.seq, consumed_at = now()
    {%- if config.get('rebuild_signal_inputs').get('loan_keys') %};
    {{ prune_key_log() }}
    {%- endif %}
{%- endmacro %}
