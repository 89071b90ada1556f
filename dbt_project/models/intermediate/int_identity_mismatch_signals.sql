{{
    config(
        materialized='incremental',
        rebuild_signal_inputs={
            'input': 'int_borrower_identity_reports',
            'date_column': 'reported_date',
            'columns': ['lender_code', 'borrower_key', 'name_hash', 'reported_date'],
        },
        indexes=[
            {'columns': ['borrower_key', 'signal_date'], 'unique': True},
            {'columns': ['signal_date']},
        ],
    )
}}

{# Identity mismatch (身份信息不一致), one row per borrower key and signal date on which two or
   more lenders had reported the key: each lender's latest name hash for the key up to the signal
   date, and how many distinct ones there are. One lender's own name corrections never raise it
   (only its latest name counts); different names from different lenders do. From
   int_borrower_identity_reports (retention applied; identity reports are not negative data).
   The lenders' codes stay here for the alerts (int_alert_events). Incremental
   (rebuild_signal_inputs, macros/signal_inputs.sql): a run computes only the signal dates from the
   first one whose identity reports or rules changed, usually the new month. #}

with

reports as not materialized (
    select * from {{ ref('int_borrower_identity_reports') }}
),

dates as (
    select * from {{ ref('int_fraud_signal_dates') }}
    {%- if is_incremental() %}
    where signal_date >= ({{ signal_rebuild_from() }})
    {%- endif %}
),

shared_keys as (
    -- keys ever reported by two or more lenders: the only ones a mismatch can concern
    select borrower_key
    from reports
    group by borrower_key
    having count(distinct lender_code) >= 2
),

lender_names as (
    -- each lender's latest name hash for the key as of each signal date
    select distinct on (dates.signal_date, reports.borrower_key, reports.lender_code)
        dates.signal_date,
        reports.borrower_key,
        reports.lender_code,
        reports.name_hash,
        dates.identity_mismatch_min_names
    from shared_keys
    inner join reports
        on reports.borrower_key = shared_keys.borrower_key
    inner join dates
        on reports.reported_date <= dates.signal_date
    order by dates.signal_date, reports.borrower_key, reports.lender_code, reports.reported_date desc, reports.name_hash
),

final as (
    select
        signal_date,
        borrower_key,
        count(*) as reporting_lenders,
        count(distinct name_hash) as name_hashes,
        count(distinct name_hash) >= min(identity_mismatch_min_names) as is_identity_mismatch,
        string_agg(lender_code, ',' order by lender_code) as reporting_lender_codes
    from lender_names
    group by signal_date, borrower_key
    having count(*) >= 2
)

select * from final
