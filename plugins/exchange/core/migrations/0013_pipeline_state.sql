-- The pipeline remembers what is left to do (流水线待办): a stage downstream of a change stays
-- pending until it has completed, so a transform or publication that failed, or was killed
-- mid-run, is run again by the next `exchange pipeline` or the next ingest run of the scheduler
-- without --force (exchange.pipeline.stages).
--
-- ingest changed the raw zone      -> transform pending
-- transform succeeded              -> transform cleared, publish pending
-- publish completed (published, or the same content as the live version, or the quality gate
-- failed: that version waits for `exchange feed approve`, it is not retried) -> publish cleared
create table control.pipeline_pending (
    stage text primary key check (stage in ('transform', 'publish')),
    since timestamptz not null default now(),
    reason text not null,
    attempts integer not null default 0,
    last_attempt_at timestamptz
);
comment on table control.pipeline_pending is
    'Pipeline stages still to run (流水线待办): a row stays until the stage completes; see exchange.pipeline.stages.';
comment on column control.pipeline_pending.since is 'When the stage first became pending (kept while it stays pending).';
comment on column control.pipeline_pending.reason is 'What made it pending: changed files, a transform that succeeded, a forced run.';
comment on column control.pipeline_pending.attempts is 'Runs of the stage started since it became pending (a failed or killed run leaves the row).';
comment on column control.pipeline_pending.last_attempt_at is 'When the latest of those runs started.';
