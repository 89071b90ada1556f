"""What the pipeline still has to do (流水线待办), remembered in control.pipeline_pending.

A stage becomes pending when something upstream of it changed and stays pending until it
completes, so a transform or a publication that failed or was killed mid-run is run again by
the next ingest run (the scheduler's, or `exchange pipeline`'s) without --force:

- an ingest that changed the raw zone makes the transform pending (per lender, as it commits);
- the ingest run's last task updates the raw Asset when files changed OR a stage is pending
  with no run in flight to complete it (a queued or running transform or publish run, or an
  announcement of the last few minutes that no transform run has taken up yet);
- a transform run rebuilds dbt when the transform is pending (or nothing is: a run by hand), and
  skips the rebuild when only the publication waits; success clears it and makes publish pending;
- the publication clears it when a version went live, when the content equals the live version,
  and when the quality gate failed: that version waits for `exchange feed approve` and retrying
  the gate on the same data would fail the same way.

The DAG files call these functions and stay thin wiring.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from exchange.core import db
from exchange.feed.publish import publish_version, stage_and_gate
from exchange.feed.quality_gate import GateFailed
from exchange.intake.ingest import ingest_lender

TRANSFORM = "transform"
PUBLISH = "publish"
COMPLETED_BY = {TRANSFORM: ("exchange_transform",), PUBLISH: ("exchange_transform", "exchange_publish")}
"""The DAGs whose run, queued or running, completes each stage: the publication also follows a
transform run (its marts Asset starts the publish run, which a transform run with only the
publication pending passes on without rebuilding)."""


def pending(conn: psycopg.Connection | None = None) -> dict[str, dict[str, Any]]:
    """The pending stages with when, why and how many runs tried them since."""
    if conn is None:
        with db.connect() as own:
            return pending(own)
    rows = conn.execute("select stage, since, reason, attempts from control.pipeline_pending order by stage").fetchall()
    return {stage: {"since": since, "reason": reason, "attempts": attempts} for stage, since, reason, attempts in rows}


def mark_pending(conn: psycopg.Connection, stage: str, reason: str, *, attempt: bool = False) -> None:
    """Make `stage` pending (keeping when it first became so); `attempt` counts a run starting it."""
    conn.execute(
        "insert into control.pipeline_pending as p (stage, reason, attempts, last_attempt_at)"
        " values (%(stage)s, %(reason)s, %(n)s, case when %(attempt)s then now() end)"
        " on conflict (stage) do update set attempts = p.attempts + %(n)s,"
        " last_attempt_at = case when %(attempt)s then now() else p.last_attempt_at end",
        {"stage": stage, "reason": reason, "n": int(attempt), "attempt": attempt})


def clear(conn: psycopg.Connection, stage: str) -> bool:
    """The stage completed; True when it was pending."""
    return conn.execute("delete from control.pipeline_pending where stage = %s", (stage,)).rowcount > 0


def ingest_lender_files(lender_code: str) -> list[dict[str, Any]]:
    """Ingest one lender's waiting files; when any changed the raw zone, the transform is pending
    (recorded before the task ends, so another lender's failure cannot lose it)."""
    outcomes = [o.as_dict() for o in ingest_lender(lender_code)]
    changed = [o["file_name"] for o in outcomes if o["changed"]]
    if changed:
        with db.connect(autocommit=True) as conn:
            mark_pending(conn, TRANSFORM, f"files changed the raw zone: {', '.join(changed[:3])}"
                         + (f" and {len(changed) - 3} more" if len(changed) > 3 else ""))
    return outcomes


ANNOUNCEMENT_PICKUP = "5 minutes"
"""How long an announcement not yet taken up by a transform run counts as in flight: the scheduler
creates the Asset-triggered run seconds after the event. Past it (the transform DAG paused, the
scheduler down), the stage is announced again."""


def raw_announcement(outcomes: list[dict[str, Any]], in_flight: Callable[[str], bool]) -> dict[str, Any] | None:
    """What the ingest run's outlet reports, or None when nothing changed and no pending stage is
    stalled (then the raw Asset is not updated and nothing downstream runs).

    `in_flight(dag_id)` says whether a run of that DAG is queued or running. A stage pending only
    because its run is in flight is not a reason: the raw Asset would queue a second transform run
    behind the first, which rebuilds nothing (a scheduled ingest run every 10 minutes falls inside
    a long transform). Nor is a stage announced within ANNOUNCEMENT_PICKUP that no transform run
    has taken up yet: its run is about to be created. Should the run in flight fail, its stage
    stays pending for the next ingest run. An announcement marks every pending stage announced."""
    changed = [o["file_name"] for o in outcomes if o["changed"]]
    with db.connect(autocommit=True) as conn:
        announced = dict(conn.execute(  # stage -> announced within ANNOUNCEMENT_PICKUP
            "select stage, coalesce(announced_at > now() - %s::interval, false)"
            " from control.pipeline_pending order by stage", (ANNOUNCEMENT_PICKUP,)).fetchall())
        waiting = list(announced)
        running = [stage for stage in waiting
                   if announced[stage] or any(in_flight(dag_id) for dag_id in COMPLETED_BY[stage])]
        if not changed and len(running) == len(waiting):
            return None
        conn.execute("update control.pipeline_pending set announced_at = now()")
    return {"changed_files": changed, "pending": waiting, "in_flight": running}


def forget_announcements(conn: psycopg.Connection | None = None) -> None:
    """No announcement awaits a run: a transform run started (it takes up whatever was announced),
    or `exchange pipeline` starts, under whose lock no run of its own is in flight."""
    if conn is None:
        with db.connect(autocommit=True) as own:
            return forget_announcements(own)
    conn.execute("update control.pipeline_pending set announced_at = null where announced_at is not null")


def transform_needed() -> bool:
    """Should this transform run rebuild dbt? Not when only the publication waits (a publish that
    failed after a good transform): the marts are current, the run only passes the Asset on.
    A rebuild counts as pending until it succeeds, whatever started it."""
    with db.connect(autocommit=True) as conn, conn.transaction():
        forget_announcements(conn)
        waiting = pending(conn)
        if TRANSFORM not in waiting and PUBLISH in waiting:
            return False
        mark_pending(conn, TRANSFORM, "a transform run started with nothing pending (by hand or --force)",
                     attempt=True)
    return True


def transform_succeeded() -> dict[str, Any]:
    """dbt rebuilt and tested the marts: the transform is done and the publication pending.
    A run that skipped the rebuild (the publication already waits) changes nothing."""
    with db.connect(autocommit=True) as conn, conn.transaction():
        rebuilt = clear(conn, TRANSFORM)
        if rebuilt:
            mark_pending(conn, PUBLISH, "the transform rebuilt the marts")
        return {"rebuilt": rebuilt, "pending": sorted(pending(conn))}


def gate() -> dict[str, Any]:
    """Stage the candidates and run the quality gate, as a pending publication's attempt.

    Same content as the live version: the publication is complete. A failed gate is not an
    error to retry: the version waits for `exchange feed approve`, so it is cleared too, and
    GateFailed goes on to fail the task with the failed expectations' names."""
    with db.connect(autocommit=True) as conn:
        mark_pending(conn, PUBLISH, "a publish run started with nothing pending (by hand or --force)", attempt=True)
    try:
        staged = stage_and_gate()
    except GateFailed:
        with db.connect(autocommit=True) as conn:
            clear(conn, PUBLISH)
        raise
    if staged.unchanged:
        with db.connect(autocommit=True) as conn:
            clear(conn, PUBLISH)
    return staged.as_dict()


def publish(staged: dict[str, Any]) -> dict[str, Any]:
    """Export the staged version and switch it live; the publication is complete."""
    result = publish_version(staged["version"])
    with db.connect(autocommit=True) as conn:
        clear(conn, PUBLISH)
    return result
