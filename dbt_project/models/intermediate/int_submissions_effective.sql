{{ config(materialized='view') }}

with

submissions as (
    select * from {{ ref('stg_control__submissions') }}
),

loaded as (
    select
        submissions.*,
        submissions.verdict in ('accepted', 'accepted_with_errors') as is_loaded,
        -- the latest complete file of the lender's month (kind by kind): a partial status file
        -- counts only when such a file with a later reporting date exists
        max(submissions.as_of_date) filter (
            where submissions.verdict in ('accepted', 'accepted_with_errors')
                and submissions.superseded_by_submission_id is null
                and not submissions.is_partial
        ) over (
            partition by
                submissions.lender_code,
                submissions.kind,
                date_trunc('month', submissions.as_of_date)
        ) as month_complete_through
    from submissions
),

counted as (
    select
        loaded.*,
        loaded.is_loaded
            and (
                not loaded.is_partial
                or coalesce(loaded.month_complete_through > loaded.as_of_date, false)
            ) as is_counted
    from loaded
),

ranked as (
    select
        counted.*,
        -- among the counted files not replaced by a correction, the latest for its lender, kind
        -- and date (the ingest never leaves two; should it, the later one wins)
        row_number() over (
            partition by
                counted.lender_code,
                counted.kind,
                counted.as_of_date,
                counted.is_counted
                    and counted.superseded_by_submission_id is null
            order by counted.seq desc, counted.submission_id desc
        ) as recency_in_period
    from counted
),

flagged as (
    select
        ranked.submission_id,
        ranked.lender_code,
        ranked.kind,
        ranked.as_of_date,
        ranked.seq,
        ranked.file_name,
        ranked.file_format,
        ranked.size_bytes,
        ranked.received_at,
        ranked.processed_at,
        ranked.verdict,
        ranked.reason_code,
        ranked.rows_total,
        ranked.rows_accepted,
        ranked.rows_rejected,
        ranked.rows_warned,
        ranked.duplicate_of_submission_id,
        ranked.superseded_by_submission_id,
        ranked.is_loaded,
        ranked.is_partial,
        -- counted (loaded; if partial, its month completed later), not replaced by a correction
        -- (更正), latest for its period: its rows are in force
        ranked.is_counted
            and ranked.superseded_by_submission_id is null
            and ranked.recency_in_period = 1 as is_effective,
        date_trunc('month', ranked.as_of_date)::date as report_month,
        -- the month the file counts for in submission statistics: its reporting date, or the
        -- receipt date when the file name could not be read
        date_trunc(
            'month',
            coalesce(
                ranked.as_of_date,
                (ranked.received_at at time zone '{{ var("exchange_timezone") }}')::date
            )
        )::date as period_month
    from ranked
)

select * from flagged
