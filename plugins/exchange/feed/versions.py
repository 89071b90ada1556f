"""Feed versions (发布版本) in shared.feed_versions: numbered, staged, switched, kept, approved.

A version is numbered and its rows are written once (status ``validating``, or ``failed`` after
the gate). Members see one version, the row of shared.live_version: switching is an UPDATE of
that row in one transaction with the status changes, so readers of shared.blacklist /
shared.default_feed / shared.lender_alerts and the look-up's borrower signals see the old or the
new version, never a mix. The rows of the live version and the KEEP_VERSIONS - 1 before it stay
for rollback; older ones go.
An approval (control.feed_approvals, control.audit_log) records who let a failed version through, and why.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg.rows import dict_row

from exchange.core.errors import ExchangeError
from exchange.core.settings import Settings
from exchange.feed.candidates import Candidates
from exchange.feed.quality_gate import GateResult
from exchange.feed.retention import drop_exports
from exchange.feed.tables import ROW_TABLES, VERSION_TABLES

KEEP_VERSIONS = 3
"""Versions whose rows stay in the shared tables: the live one and the two before it (for rollback)."""


def _fetch(conn: psycopg.Connection, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()


def live_version(conn: psycopg.Connection) -> dict[str, Any] | None:
    rows = _fetch(conn, "select v.* from shared.live_version l join shared.feed_versions v using (version)")
    return rows[0] if rows else None


def get(conn: psycopg.Connection, version: int) -> dict[str, Any]:
    """The row of `version`; raises P_NO_VERSION when there is none."""
    rows = _fetch(conn, "select * from shared.feed_versions where version = %s", (version,))
    if not rows:
        raise ExchangeError("P_NO_VERSION", f"no feed version {version}")
    return rows[0]


def latest(conn: psycopg.Connection) -> dict[str, Any] | None:
    """The highest-numbered version, whatever its status."""
    rows = _fetch(conn, "select * from shared.feed_versions order by version desc limit 1")
    return rows[0] if rows else None


def feed_status(conn: psycopg.Connection, limit: int = 10) -> dict[str, Any]:
    live = live_version(conn)
    versions = _fetch(conn, "select version, as_of_date, status, blacklist_rows, default_feed_rows, held_rows,"
                            " lender_alerts_rows, borrower_signals_rows, validation_success, created_at, published_at,"
                            " approved_by, approval_reason"
                            " from shared.feed_versions order by version desc limit %s", (limit,))
    return {"live": live, "versions": versions}


def open_version(conn: psycopg.Connection, candidates: Candidates, content: str, counts: dict[str, Any]) -> tuple[int, int]:
    """(version, raw_through): the number the candidates are staged under, and the last submission the gate reads.

    The same inputs as the latest failed or validating version validate that version again;
    anything else gets the next number.
    """
    with conn.transaction():
        conn.execute("lock table shared.feed_versions in share row exclusive mode")
        last = latest(conn)
        raw_through = conn.execute("select coalesce(max(submission_id), 0) from control.submissions").fetchone()[0]
        if last and last["status"] in ("failed", "validating") and last["content_sha256"] == content:
            version = last["version"]
            conn.execute("update shared.feed_versions set raw_through_submission_id = %s, status = 'validating'"
                         " where version = %s", (raw_through, version))
        else:
            version = (last["version"] if last else 0) + 1
            conn.execute(
                "insert into shared.feed_versions (version, as_of_date, content_sha256, raw_through_submission_id,"
                " blacklist_rows, default_feed_rows, held_rows, lender_alerts_rows, borrower_signals_rows, counts)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (version, candidates.as_of, content, raw_through, counts["blacklist"], counts["default_feed"],
                 counts["held"], counts["lender_alerts"], counts["borrower_signals"], json.dumps(counts)))
    return version, raw_through


def write_rows(conn: psycopg.Connection, version: int, candidates: Candidates) -> str | None:
    """Write the version's rows, once (approval publishes exactly these).

    Returns None, or the constraint of a shared table that refused a row: what the gate should
    have caught, never publishable.
    """
    try:
        with conn.transaction():
            for table in ROW_TABLES:
                conn.execute(f"delete from {table} where version = %s", (version,))
            for name, (table, columns, _) in VERSION_TABLES.items():
                with conn.cursor() as cur, cur.copy(f"copy {table} (version, {', '.join(columns)}) from stdin") as copy:
                    for row in candidates.rows[name]:
                        copy.write_row([version, *[row[c] for c in columns]])
    except psycopg.errors.IntegrityError as exc:
        return getattr(exc.diag, "constraint_name", None) or type(exc).__name__
    return None


def record_gate(conn: psycopg.Connection, version: int, gate: GateResult) -> None:
    """The gate's verdict on the version: still validating (publishable) or failed."""
    conn.execute("update shared.feed_versions set validation_success = %s, validation = %s, status = %s"
                 " where version = %s",
                 (gate.success, json.dumps(gate.as_dict(), default=str), "validating" if gate.success else "failed",
                  version))


def check_publishable(conn: psycopg.Connection, version: int, *, approved: bool) -> dict[str, Any]:
    """The version's row if it may go live now; raises the reason it may not. A live one is returned as is."""
    state = get(conn, version)
    if state["status"] == "live":
        return state
    if state["status"] == "superseded":
        raise ExchangeError("P_SUPERSEDED", f"version {version} was superseded; a newer version is or was live")
    if state["status"] == "failed" and not approved:
        raise ExchangeError("P_GATE_FAILED", f"version {version} failed the gate; only `exchange feed approve` "
                                             "can publish it")
    if state["validation_success"] is None and not approved:
        raise ExchangeError("P_NOT_VALIDATED", f"version {version} has not been through the gate")
    live = live_version(conn)
    if live and live["version"] > version:
        raise ExchangeError("P_STALE", f"version {version} is older than the live version {live['version']}")
    return state


def switch(conn: psycopg.Connection, version: int, export_dir: str, checksums: dict[str, str],
           approval: dict[str, str] | None) -> None:
    """Make `version` the live one (caller's transaction): the old one superseded, the pointer moved."""
    current = conn.execute("select version from shared.live_version for update").fetchone()
    if current:
        conn.execute("update shared.feed_versions set status = 'superseded' where version = %s", (current[0],))
        conn.execute("update shared.live_version set version = %s, switched_at = now()", (version,))
    else:
        conn.execute("insert into shared.live_version (version) values (%s)", (version,))
    conn.execute("update shared.feed_versions set status = 'live', published_at = now(), export_dir = %s,"
                 " export_checksums = %s where version = %s", (export_dir, json.dumps(checksums), version))
    if approval:
        conn.execute("update shared.feed_versions set approved_by = %s, approved_at = now(), approval_reason = %s"
                     " where version = %s", (approval["by"], approval["reason"], version))


def drop_old_versions(conn: psycopg.Connection, settings: Settings) -> int:
    """Versions beyond the last KEEP_VERSIONS (and failed ones older than the live version) lose
    their rows and exports, inside the publishing transaction."""
    old = conn.execute(
        "select version from shared.feed_versions where status <> 'live' and version not in"
        " (select version from shared.feed_versions where status in ('live', 'superseded')"
        "  order by version desc limit %s)"
        " and (status = 'superseded' or version < (select version from shared.live_version))",
        (KEEP_VERSIONS,)).fetchall()
    dropped = [v for (v,) in old]
    for table in ROW_TABLES:
        conn.execute(f"delete from {table} where version = any(%s)", (dropped,))
    drop_exports(conn, settings, dropped)
    return len(dropped)


def record_approval(conn: psycopg.Connection, version: int, by: str, reason: str, failed: list[str]) -> None:
    """Who approved the failed `version`, when and why, and which checks had failed."""
    with conn.transaction():
        conn.execute("insert into control.feed_approvals (version, approved_by, reason, failed)"
                     " values (%s, %s, %s, %s)", (version, by, reason, json.dumps(failed)))
        conn.execute("insert into control.audit_log (actor, action, object, detail) values (%s, %s, %s, %s)",
                     (by, "feed_approve", f"feed_version:{version}",
                      json.dumps({"reason": reason, "failed": failed}, ensure_ascii=False)))
