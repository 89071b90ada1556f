{#- Incremental fraud-signal models (rebuild_signal_inputs): a model with one row per borrower key
    and signal date rebuilds only the rows whose inputs changed, by date and by key. Its config
    says what it reads:

        rebuild_signal_inputs={
            'input': 'int_borrower_identity_reports', 'date_column': 'reported_date',  # optional
            'columns': ['lender_code', 'loan_id', ...], 'where': 'phone_hash is not null',
            'producers': ['int_loan_status_history'],                               # optional
            'loan_keys': true,                                                       # optional
            'input_marks': 'cluster_id',                                             # optional
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
    With 'input_marks' (a column of the model's rows that is not null where an input row joined),
    for an input dated by signal date whose row for a key and date counts only in the model's row
    for that key and date (the mart's phone clusters, which move to each new latest date): a date
    whose fingerprint changed rebuilds, from that date, the keys in the input on it and the keys
    the built rows mark on it, instead of every key.

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
    array[{{ quoted_names(producers) }}]::text[]
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
    from (
        select keys.borrower_key, keys.rebuild_from
        from exchange_state.key_log as keys
        where {{ 'true' if is_incremental() and spec.get('loan_keys') else 'false' }}
            and keys.model = 'int_signal_loans'
            and keys.borrower_key is not null
            and keys.seq > {{ consumed_seq() }}
            and keys.seq <= (select scope.read_to from {{ signal_scope() }} as scope)
        {%- if is_incremental() and spec.get('input_marks') %}

        -- input_marks: on a date whose input changed, the keys in the input on it now and the keys
        -- the built rows mark on it (array parameters: the signal_date indexes)
        union all

        select inputs.borrower_key, inputs.{{ spec['date_column'] }}
        from {{ ref(spec['input']) }} as inputs
        where inputs.{{ spec['date_column'] }} = any(array({{ signal_changed_dates() }}))
            {%- if spec.get('where') %}
            and ({{ spec['where'] }})
            {%- endif %}

        union all

        select built.borrower_key, built.signal_date
        from {{ this }} as built
        where built.signal_date = any(array({{ signal_changed_dates() }}))
            and built.{{ spec['input_marks'] }} is not null
        {%- endif %}
    ) as keys
    group by keys.borrower_key
    -- a key whose rows from its date on are all rebuilt anyway (a new loan, usually) is not one more
    having min(keys.rebuild_from) < coalesce(({{ signal_rebuild_from() }}), date 'infinity');

    analyze {{ signal_keys() }}
{%- endmacro %}

{% macro signal_changed_dates() -%}
    {#- the signal dates whose fingerprint differs from the one recorded, new ones included -#}
    select current_dates.signal_date
    from {{ signal_fingerprints() }} as current_dates
    left join exchange_state.signal_inputs as built
        on built.model = '{{ this.identifier }}'
        and built.signal_date = current_dates.signal_date
    where built.fingerprint is distinct from current_dates.fingerprint
{%- endmacro %}

{% macro signal_changed_from() -%}
    {#- the first signal date to rebuild for every key (see above); null when nothing changed.
        With input_marks, a date whose fingerprint changed rebuilds some keys instead
        (prepare_signal_inputs). -#}
    select min(changed.signal_date)
    from (
        {%- if not config.get('rebuild_signal_inputs').get('input_marks') %}
        {{ signal_changed_dates() }}

        union all
        {%- endif %}

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

{% macro signal_history(date_expression, earliest_as_of) -%}
    {#- The status history rows an incremental run may count (in_signal_scope on
        int_loan_status_history), read without a scan of the whole history: the rows dated
        (`date_expression`, over alias history) to count on the dates rebuilt for every key,
        through the status files reported since `earliest_as_of` (SQL, no later than the earliest
        such row's as_of_date; the status_submission_id index), and the rebuilt keys' rows on the
        other dates, through their loans (the (lender_code, loan_id) index). A loan's history
        rows carry its latest key: int_loan_status_history rebuilds every row of a loan whose key
        changed, so the keys' loans hold all the keys' rows. A full build reads the whole history. -#}
    {%- if not is_incremental() %}
    select * from {{ ref('int_loan_status_history') }}
    {%- else %}
    select history.*
    from {{ ref('int_loan_status_history') }} as history
    where history.status_submission_id = any(array(
            select submissions.submission_id
            from {{ ref('int_submissions_effective') }} as submissions
            where submissions.kind = 'loan_status'
                and submissions.as_of_date >= ({{ earliest_as_of }})
        ))
        and {{ date_expression }} >= ({{ signal_rebuild_from() }})

    union all

    select history.*
    from {{ signal_keys() }} as keys
    inner join {{ ref('int_loans_latest') }} as loans
        on loans.borrower_key = keys.borrower_key
    inner join {{ ref('int_loan_status_history') }} as history
        on history.lender_code = loans.lender_code
        and history.loan_id = loans.loan_id
        and history.borrower_key = keys.borrower_key
    where not coalesce({{ date_expression }} >= ({{ signal_rebuild_from() }}), false)
    {%- endif %}
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
