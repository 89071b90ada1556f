{#- the signal models: the name each is read under here, the model, its own columns -#}
{% set signals = [
    ('co_debt', 'int_co_debt_signals', ['open_lenders', 'total_outstanding', 'overdue_lenders_6m']),
    ('bust_out', 'int_bust_out_signals', ['surge_lenders', 'first_payment_default_lenders', 'is_bust_out']),
    ('stacking', 'int_loan_stacking_signals', ['stacking_lenders', 'stacking_new_principal', 'is_loan_stacking']),
    ('identity', 'int_identity_mismatch_signals', ['name_hashes', 'is_identity_mismatch']),
    ('phone_links', 'int_phone_link_signals', ['phones_1m', 'phones_3m', 'phones_6m', 'phones_12m',
        'keys_per_phone_1m', 'keys_per_phone_3m', 'keys_per_phone_6m', 'keys_per_phone_12m',
        'days_since_link_change', 'is_phone_shared', 'is_phone_link_disputed']),
] %}
{{
    config(
        materialized='incremental',
        serial_plans=true,
        rebuild_signal_inputs={
            'producers': signals | map(attribute=1) | list,
            'loan_keys': true,
            'input': 'int_phone_clusters',
            'date_column': 'signal_date',
            'columns': ['borrower_key', 'cluster_id', 'cluster_size', 'is_link_disputed'],
            'input_marks': 'cluster_id',
        },
        indexes=[
            {'columns': ['borrower_key', 'signal_date'], 'unique': True},
            {'columns': ['signal_date']},
        ],
    )
}}

{# Identity-fraud and multi-lending signals (欺诈与共债信号) for the association: one row per
   borrower key and signal date on which any signal model has a row for the key. On keys and
   hashes only; no column names another lender. Clusters are computed as of the latest signal
   date only and show on that date's rows. What may reach other members only (DOMAIN section 5):
   negative data (first-payment defaults, overdue reports) from publishable loans only (macro
   publishable_loans: noticed, not unreported); rows de-keyed by retention are gone everywhere;
   a phone link whose dispute was upheld counts nowhere, one under an open dispute marks the
   phone figures and the cluster (is_phone_link_disputed, 异议标注).
   Incremental (rebuild_signal_inputs, macros/signal_inputs.sql): a run rebuilds the dates from the
   first one a signal model rebuilt, the keys whose loans changed (int_signal_loans) and, on a date
   whose clusters changed (they move to each new date), the keys in a cluster there before or after. #}
-- depends_on: {{ ref('int_signal_loans') }}
-- depends_on: {{ ref('int_fraud_signal_dates') }}

with

{% for name, model, columns in signals %}
{%- set row_columns = ['signal_date', 'borrower_key'] + columns %}
{{ name }} as (
    -- the model's rows to build, its own columns. An incremental run reads the dates rebuilt one
    -- at a time through the model's signal_date index (a comparison with the scope's date, unknown
    -- when planned, was estimated at a third of the model and read it whole), then the keys
    -- rebuilt on the dates before
    {%- if is_incremental() %}
    select {{ row_columns | join(', ') }}
    from (
        select dates.signal_date as rebuilt_date
        from {{ ref('int_fraud_signal_dates') }} as dates
        where dates.signal_date >= ({{ signal_rebuild_from() }})
    ) as rebuilt_dates
    cross join lateral (
        select * from {{ ref(model) }} as on_date
        where on_date.signal_date = rebuilt_dates.rebuilt_date
        offset 0
    ) as {{ name }}_rows
    union all
    select {{ row_columns | join(', ') }}
    from {{ ref(model) }}
    where borrower_key in (select keys.borrower_key from {{ signal_keys() }} as keys)
        and (signal_date >= ({{ signal_rebuild_from() }})) is not true
    {%- else %}
    select {{ row_columns | join(', ') }}
    from {{ ref(model) }}
    {%- endif %}
),
{% endfor %}

clusters as (
    select * from {{ ref('int_phone_clusters') }}
),

{%- set joined = [] %}

keys as (
    -- one row per key and date with each model's figures and flags (a model has one row per key
    -- and date): the models joined in full on key and date, each to the key and date of those
    -- before it. At 200k loans x 24 months this took 3.7-4.0 s against 5.9-6.5 s for one
    -- grouping of every model's rows (3.6M rows padded with the other models' columns as nulls,
    -- hashed by key and date, spilling to disk; CREATE TABLE AS, the same 1,846,336 rows)
    select
        coalesce({% for name, _, _ in signals %}{{ name }}.signal_date{{ ', ' if not loop.last }}{% endfor %}) as signal_date,
        coalesce({% for name, _, _ in signals %}{{ name }}.borrower_key{{ ', ' if not loop.last }}{% endfor %}) as borrower_key,
        {%- for name, _, columns in signals %}
        {%- set outer_loop = loop %}
        {%- for column in columns %}
        {{ name }}.{{ column }}{{ ',' if not (outer_loop.last and loop.last) }}
        {%- endfor %}
        {%- endfor %}
    {%- for name, _, _ in signals %}
    {%- if loop.first %}
    from {{ name }}
    {%- else %}
    full join {{ name }}
        on {{ name }}.signal_date = coalesce({% for earlier in joined %}{{ earlier }}.signal_date{{ ', ' if not loop.last }}{% endfor %})
        and {{ name }}.borrower_key = coalesce({% for earlier in joined %}{{ earlier }}.borrower_key{{ ', ' if not loop.last }}{% endfor %})
    {%- endif %}
    {%- do joined.append(name) %}
    {%- endfor %}
),

final as (
    select
        keys.signal_date,
        keys.borrower_key,
        coalesce(keys.phones_1m, 0) as phones_1m,
        coalesce(keys.phones_3m, 0) as phones_3m,
        coalesce(keys.phones_6m, 0) as phones_6m,
        coalesce(keys.phones_12m, 0) as phones_12m,
        coalesce(keys.keys_per_phone_1m, 0) as keys_per_phone_1m,
        coalesce(keys.keys_per_phone_3m, 0) as keys_per_phone_3m,
        coalesce(keys.keys_per_phone_6m, 0) as keys_per_phone_6m,
        coalesce(keys.keys_per_phone_12m, 0) as keys_per_phone_12m,
        keys.days_since_link_change,
        coalesce(keys.is_phone_shared, false) as is_phone_shared,
        coalesce(keys.name_hashes, 0) as name_hashes,
        coalesce(keys.is_identity_mismatch, false) as is_identity_mismatch,
        coalesce(keys.stacking_lenders, 0) as stacking_lenders,
        coalesce(keys.stacking_new_principal, 0) as stacking_new_principal,
        coalesce(keys.is_loan_stacking, false) as is_loan_stacking,
        coalesce(keys.surge_lenders, 0) as surge_lenders,
        coalesce(keys.first_payment_default_lenders, 0) as first_payment_default_lenders,
        coalesce(keys.is_bust_out, false) as is_bust_out,
        coalesce(keys.open_lenders, 0) as open_lenders,
        coalesce(keys.total_outstanding, 0) as total_outstanding,
        coalesce(keys.overdue_lenders_6m, 0) as overdue_lenders_6m,
        clusters.cluster_id,
        clusters.cluster_size,
        coalesce(keys.is_phone_link_disputed, false) or coalesce(clusters.is_link_disputed, false)
            as is_phone_link_disputed
    from keys
    left join clusters
        on clusters.signal_date = keys.signal_date
        and clusters.borrower_key = keys.borrower_key
)

select * from final
