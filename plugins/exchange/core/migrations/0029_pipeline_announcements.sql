-- When an ingest run last announced a pending stage on the raw Asset (exchange.pipeline.stages).
-- The scheduler creates the Asset-triggered transform run a few seconds after the event; until it
-- exists, an ingest run that looked only for queued or running runs announced the same stage
-- again, and a second transform run followed the first. A stage announced a short while ago and
-- not yet taken up by a transform run counts as in flight; a transform run clears the mark when
-- it starts, so a run that then fails leaves the stage to be announced again.
alter table control.pipeline_pending add column announced_at timestamptz;
comment on column control.pipeline_pending.announced_at is
    'When an ingest run last announced the stage on the raw Asset; null once a transform run started after it.';
