"""What the portal and the API show a caller, read under the caller's own database role.

Lender reads run inside a transaction with `SET LOCAL ROLE lender_<code>`: row-level
security (migration 0004) then guarantees a lender sees only its own rows even if a
query here were wrong.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from exchange.access.tokens import Caller, lender_role


@contextmanager
def as_caller(conn: psycopg.Connection, who: Caller):
    """A transaction under the lender's role (the association reads as the connecting role)."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        if who.lender_code is not None:
            cur.execute(sql.SQL("set local role {}").format(sql.Identifier(lender_role(who.lender_code))))
        yield cur


def submissions(conn: psycopg.Connection, who: Caller, limit: int = 200) -> list[dict[str, Any]]:
    with as_caller(conn, who) as cur:
        rows = cur.execute(
            "select submission_id, lender_code, file_name, kind, as_of_date, seq, verdict, reason_code, rows_total,"
            " rows_accepted, rows_rejected, rows_warned, received_at, feedback_path is not null as has_feedback"
            " from control.submissions order by submission_id desc limit %s", (limit,)).fetchall()
    return [_plain(r) for r in rows]


def feedback_file(conn: psycopg.Connection, who: Caller, submission_id: int, home: Path,
                  which: str) -> Path | None:
    """The feedback CSV or summary of one of the caller's own submissions, if it exists."""
    with as_caller(conn, who) as cur:
        row = cur.execute("select feedback_path from control.submissions where submission_id = %s",
                          (submission_id,)).fetchone()
    if row is None or not row["feedback_path"]:
        return None
    csv_path = (home / row["feedback_path"]).resolve()
    path = csv_path if which == "csv" else csv_path.with_name(csv_path.name.replace(".feedback.csv", ".summary.txt"))
    feedback_root = (home / "feedback").resolve()
    if not path.is_relative_to(feedback_root) or not path.is_file():
        return None
    return path


def feed_versions(conn: psycopg.Connection, limit: int = 50) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "select v.version, v.as_of_date, v.status, v.blacklist_rows, v.default_feed_rows, v.held_rows,"
            " v.validation_success, v.published_at, v.approved_by, v.approval_reason, v.export_dir,"
            " v.version = (select version from shared.live_version) as live"
            " from shared.feed_versions v order by v.version desc limit %s", (limit,)).fetchall()
    return [_plain(r) for r in rows]


MEMBER_EXPORTS = ("blacklist.csv", "blacklist.parquet", "default_feed.csv", "default_feed.parquet",
                  "listing_reasons.csv", "listing_reasons.parquet", "manifest.json")
"""A member's copy of a version (exports.write_exports with lender=...): its own code, others as categories."""


def export_files(conn: psycopg.Connection, home: Path, who: Caller) -> list[dict[str, Any]]:
    """Downloadable export files of the live and recent versions.

    The association gets the files under exports/<version>/ (lender codes, source rows); a lender
    gets its member copy, written on first download by the publication's own exporter.
    """
    out = []
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("select version, export_dir, export_checksums from shared.feed_versions"
                           " where status in ('live', 'superseded') and export_dir is not null"
                           " order by version desc limit 5").fetchall()
    for r in rows:
        if who.lender_code is not None:
            out += [{"version": r["version"], "name": name} for name in MEMBER_EXPORTS]
            continue
        checksums = r["export_checksums"] or {}
        if isinstance(checksums, str):
            checksums = json.loads(checksums)
        names = sorted(checksums) if isinstance(checksums, dict) else []
        out += [{"version": r["version"], "name": name} for name in names]
    return out


def export_file(conn: psycopg.Connection, home: Path, version: int, name: str, who: Caller) -> Path | None:
    if name.startswith(".") or "/" in name or "\\" in name:
        return None
    row = conn.execute("select export_dir from shared.feed_versions where version = %s"
                       " and status in ('live', 'superseded') and export_dir is not null", (version,)).fetchone()
    if row is None:
        return None
    if who.lender_code is not None:
        return _member_export(conn, home, version, name, who.lender_code)
    base = Path(row[0])
    base = (base if base.is_absolute() else home / base).resolve()
    path = (base / name).resolve()
    if path.parent != base or not path.is_file() or not base.is_relative_to((home / "exports").resolve()):
        return None
    return path


def _member_export(conn: psycopg.Connection, home: Path, version: int, name: str, lender: str) -> Path | None:
    from exchange.core.errors import ExchangeError
    from exchange.feed.exports import build_exports

    if name not in MEMBER_EXPORTS:
        return None
    try:
        target = build_exports(conn, version, home / ".exchange" / "member-exports" / str(version) / lender,
                               lender=lender)
    except ExchangeError:
        return None
    path = target / name
    return path if path.is_file() else None


def submission_quality(conn: psycopg.Connection, months: int = 3) -> list[dict[str, Any]]:
    """Per lender and month, latest months first (marts.mart_lender_submission_quality)."""
    if not conn.execute("select to_regclass('marts.mart_lender_submission_quality') is not null").fetchone()[0]:
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("""
            select lender_code, period_month, status_timeliness, status_days_late, files_received, files_rejected,
                   round(file_rejection_rate::numeric, 4) as file_rejection_rate,
                   round(row_rejection_rate::numeric, 4) as row_rejection_rate,
                   under_classified_reports, round(under_classification_rate::numeric, 4) as under_classification_rate,
                   consistency_findings
            from marts.mart_lender_submission_quality
            where period_month > (select max(period_month) from marts.mart_lender_submission_quality)
                                 - make_interval(months => %s)
            order by period_month desc, lender_code""", (months,)).fetchall()
    return [_plain(r) for r in rows]


def under_classification(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Lender months with reports classified milder than the exchange's floor (少分类 findings)."""
    if not conn.execute("select to_regclass('marts.mart_lender_submission_quality') is not null").fetchone()[0]:
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("""
            select lender_code, period_month, under_classified_reports, reports_with_lender_class,
                   round(under_classification_rate::numeric, 4) as under_classification_rate
            from marts.mart_lender_submission_quality where under_classified_reports > 0
            order by period_month desc, under_classified_reports desc limit 100""").fetchall()
    return [_plain(r) for r in rows]


def _plain(row: dict) -> dict:
    import datetime as dt
    from decimal import Decimal

    out = {}
    for k, v in row.items():
        if isinstance(v, dt.date | dt.datetime):
            v = v.isoformat()
        elif isinstance(v, Decimal):
            v = str(v)
        out[k] = v
    return out
