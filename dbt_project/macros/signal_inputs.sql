{#- Incremental fraud-signal models (rebuild_signal_inputs): a model with one row per borrower key
    and signal date, computed from the rows of one input relation up to each signal date, rebuilds
    only the signal dates whose inputs changed. Its config names the input and what of it counts:

        rebuild_signal_inputs={'input': 'int_borrower_identity_reports', 'date_column': 'reported_date',
                               'columns': ['lender_code', 'loan_id', ...], 'where': 'phone_hash is not null'}

    The fingerprint of a signal date is the count and an order-free sum of hashes of every input
    row dated up to it (all history: a signal may look back without limit, as a link's first
    report does), with the date's whole rules row (int_fraud_signal_dates). A new month, a
    correction, a dispute that marks or removes a row, a row de-keyed by retention or a new rule
    version changes the fingerprint of every date from its month on; the run rebuilds from the
    first date that changed, appeared or went. The fingerprints of the dates built are kept in
    exchange_state.signal_inputs, written in the model's own transaction (post-hook), so a failed
    run leaves the previous state. The fingerprints are computed once per run, in the pre-hook
    (prepare_signal_inputs), into a temporary table the model's date filter, the strategy's delete,
    the test scope and the post-hook all read: the query scans the whole input. -#}

{% macro signal_input_fingerprints() -%}
    {%- set spec = config.get('rebuild_signal_inputs') -%}
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
{%- endmacro %}

{% macro signal_fingerprints() -%}
    {#- the temporary table of this run's fingerprints (dropped at the model's commit) -#}
    signal_fingerprints__{{ this.identifier }}
{%- endmacro %}

{% macro prepare_signal_inputs() -%}
    {#- pre-hook part: this run's fingerprints, computed once -#}
    create temporary table {{ signal_fingerprints() }} on commit drop as
    {{ signal_input_fingerprints() }}
{%- endmacro %}

{% macro signal_rebuild_from() -%}
    {#- the first signal date to rebuild: its fingerprint differs from the one built, or it is new,
        or a date built is no longer a signal date; null when nothing changed -#}
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
    ) as changed
{%- endmacro %}

{% macro record_signal_inputs() -%}
    {#- post-hook part: the fingerprints of the dates now built replace the model's previous ones -#}
    delete from exchange_state.signal_inputs where model = '{{ this.identifier }}';
    insert into exchange_state.signal_inputs (model, signal_date, fingerprint)
    select '{{ this.identifier }}', fingerprints.signal_date, fingerprints.fingerprint
    from {{ signal_fingerprints() }} as fingerprints
{%- endmacro %}
