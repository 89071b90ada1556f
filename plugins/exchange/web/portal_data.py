"""What the portal and the API show a caller, read under the caller's own database role.

Lender reads run inside a transaction with `SET LOCAL ROLE lender_<code>`: row-level
security (migration 0004) then guarantees a lender sees only its own rows even if a
query here were wrong. Reads go through the web's asyncpg pool; a member's copy of an export
is written by the publication's own exporter (psycopg, in a worker thread: State.call_with_connection).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import psycopg

from exchange.access.tokens import Caller, lender_role
from exchange.core.clock import EXCHANGE_TZ
from exchange.core.errors import ExchangeError
from exchange.feed.alerts import with_contract_numbers
from exchange.feed.exports import build_exports


@asynccontextmanager
async def as_caller(pool: asyncpg.Pool, who: Caller) -> AsyncIterator[asyncpg.Connection]:
    """A transaction under the lender's role (the association reads as the connecting role)."""
    async with pool.acquire() as conn, conn.transaction():
        if who.lender_code is not None:
            await conn.execute(f'set local role "{lender_role(who.lender_code)}"')  # lender_role: [a-z0-9_] only
        yield conn


async def _fetch_as_caller(pool: asyncpg.Pool, who: Caller, sql: str, *args: Any) -> list[dict[str, Any]]:
    async with as_caller(pool, who) as conn:
        return _plain(conn, await conn.fetch(sql, *args))


async def submissions(pool: asyncpg.Pool, who: Caller, limit: int = 200) -> list[dict[str, Any]]:
    return await _fetch_as_caller(
        pool, who, "select submission_id, lender_code, file_name, kind, as_of_date, seq, verdict, reason_code,"
        " rows_total, rows_accepted, rows_rejected, rows_warned, received_at, feedback_path is not null as has_feedback"
        " from control.submissions order by submission_id desc limit $1", limit)


async def lender_alerts(pool: asyncpg.Pool, who: Caller, loan_ref: Callable[[str, str], str],
                        limit: int = 2000) -> list[dict[str, Any]]:
    """The lender's own alerts of the live version (shared.v_lender_alerts: its role's rows only),
    each with the lender's own contract number: the published alert carries the loan reference
    (an HMAC the lender cannot compute), so the lender's loans of the alerted borrowers (raw.loans,
    its own rows only) are referenced with `loan_ref` (Pseudonymizer.loan_ref) and matched."""
    async with as_caller(pool, who) as conn:
        rows = _plain(conn, await conn.fetch(
            "select alert_type, borrower_key, loan_ref, first_seen_date, as_of_date, other_lender_count,"
            " other_lender_categories, max_dpd_elsewhere, reason_codes, evidence_zh, evidence_en"
            " from shared.v_lender_alerts order by first_seen_date desc, alert_type, alert_key limit $1", limit))
        loans = await conn.fetch("select distinct loan_id from raw.loans where borrower_key = any($1::text[])",
                                 list({r["borrower_key"] for r in rows}))
    with_contract_numbers(rows, who.lender_code, [r["loan_id"] for r in loans], loan_ref)
    for r in rows:
        del r["borrower_key"]
    return rows


async def held_records(pool: asyncpg.Pool, who: Caller, limit: int = 2000) -> list[dict[str, Any]]:
    """The lender's records of the live version held back from other members, with its own contract
    number where the source row is one of its loans or status rows (shared.v_lender_held_records
    and raw.* under the lender's role: its own rows only)."""
    return await _fetch_as_caller(pool, who, """
            select held.hold_reason, held.record_kind, held.reason_code, held.loan_ref, held.default_episode_no,
                   held.default_date, held.notice_date, held.source_submission_id,
                   coalesce(status.loan_id, loans.loan_id) as loan_id
            from shared.v_lender_held_records as held
            left join raw.loan_status as status
                on status.submission_id = held.source_submission_id and status.line = held.source_line
            left join raw.loans as loans
                on loans.submission_id = held.source_submission_id and loans.line = held.source_line
            order by held.hold_reason, held.default_date desc nulls last, held.loan_ref
            limit $1""", limit)


async def submission_periods(pool: asyncpg.Pool, who: Caller, today: dt.date, limit: int = 120) -> list[dict[str, Any]]:
    """The lender's reporting months, newest first: files received and validated, when the month's
    loan_status file was loaded against its deadline, and its timeliness (see `timeliness`).

    Months run from the lender's first file to the current (open) month; the deadline is the rule
    table's submission_deadline_days after the month end, as the transform judges it
    (int_lender_reporting_periods)."""
    async with as_caller(pool, who) as conn:
        months = await conn.fetch("""
            with files as (
                select date_trunc('month', as_of_date)::date as period_month, kind, verdict, received_at,
                       is_partial
                from control.submissions
            ),
            span as (
                select generate_series(min(period_month),
                                       greatest(max(period_month), date_trunc('month', $1::date)::date),
                                       interval '1 month')::date as period_month
                from files
            )
            select span.period_month,
                   count(files.kind) filter (where files.verdict <> 'duplicate') as files_received,
                   count(files.kind) filter (where files.verdict in ('accepted', 'accepted_with_errors'))
                       as files_validated,
                   count(files.kind) filter (where files.verdict = 'rejected') as files_rejected,
                   min(files.received_at) filter (where files.kind = 'loan_status' and not files.is_partial
                       and files.verdict in ('accepted', 'accepted_with_errors')) as status_received_at,
                   count(files.kind) filter (where files.kind = 'loan_status' and files.is_partial
                       and files.verdict in ('accepted', 'accepted_with_errors')) as files_partial
            from span
            left join files on files.period_month = span.period_month
            group by span.period_month
            order by span.period_month desc
            limit $2""", today, limit)
    deadlines = await _deadline_days(pool)
    out = []
    for m in months:
        end = (m["period_month"] + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        days = next((d for since, d in deadlines if since <= end), None)
        due = end + dt.timedelta(days=days) if days is not None else None
        received = m["status_received_at"].astimezone(EXCHANGE_TZ).date() if m["status_received_at"] else None
        out.append({**dict(m), "period_end": end, "status_due_date": due, "status_received_date": received,
                    "timeliness": timeliness(received, due, today, partial=m["files_partial"] > 0)})
    return out


def timeliness(received: dt.date | None, due: dt.date | None, today: dt.date, *, partial: bool = False) -> str | None:
    """A month's timeliness as the transform judges it (int_lender_reporting_periods, the rule's one
    statement in SQL), computed live here because a lender reads its own submissions, not the marts:
    on_time / late by its first complete loan_status file, partial with only partial files so far,
    not_yet_due before the deadline (Beijing date), missing after. None when the rule table (the
    deadline) has not been built."""
    if due is None:
        return None
    if received is not None:
        return "on_time" if received <= due else "late"
    if partial:
        return "partial"
    return "not_yet_due" if today <= due else "missing"


async def _deadline_days(pool: asyncpg.Pool) -> list[tuple[dt.date, int]]:
    """(effective from, submission_deadline_days) of each rules version, newest first; none before dbt built the rules."""
    if not await pool.fetchval("select to_regclass('rules.rule_parameters') is not null"
                               " and to_regclass('rules.rule_versions') is not null"):
        return []
    rows = await pool.fetch(
        "select v.effective_from, p.value::int as days from rules.rule_parameters p"
        " join rules.rule_versions v on v.rules_version = p.rules_version"
        " where p.parameter = 'submission_deadline_days' order by v.effective_from desc")
    return [(r["effective_from"], r["days"]) for r in rows]


FEEDBACK_FILES = {"csv": ".feedback.csv", "summary": ".summary.txt", "report": ".report.html"}
"""The feedback files of a submission (intake.feedback writes them side by side), by the portal's name."""


async def feedback_file(pool: asyncpg.Pool, who: Caller, submission_id: int, home: Path,
                        which: str) -> Path | None:
    """The feedback CSV, summary or HTML report of one of the caller's own submissions, if it exists."""
    async with as_caller(pool, who) as conn:
        feedback_path = await conn.fetchval("select feedback_path from control.submissions where submission_id = $1",
                                            submission_id)
    if not feedback_path:
        return None
    csv_path = (home / feedback_path).resolve()
    path = csv_path.with_name(csv_path.name.replace(".feedback.csv", FEEDBACK_FILES[which]))
    feedback_root = (home / "feedback").resolve()
    if not path.is_relative_to(feedback_root) or not path.is_file():
        return None
    return path


async def feed_versions(pool: asyncpg.Pool, limit: int = 50) -> list[dict[str, Any]]:
    return await _fetch_plain(
        pool, "select v.version, v.as_of_date, v.status, v.blacklist_rows, v.default_feed_rows, v.held_rows,"
              " v.validation_success, v.published_at, v.approved_by, v.approval_reason, v.export_dir,"
              " v.version = (select version from shared.live_version) as live"
              " from shared.feed_versions v order by v.version desc limit $1", limit)


MEMBER_EXPORTS = ("blacklist.csv", "blacklist.parquet", "default_feed.csv", "default_feed.parquet",
                  "listing_reasons.csv", "listing_reasons.parquet", "manifest.json")
"""A member's copy of a version (exports.write_exports with lender=...): its own code, others as categories."""


async def export_files(pool: asyncpg.Pool, who: Caller) -> list[dict[str, Any]]:
    """Downloadable export files of the live and recent versions.

    The association gets the files under exports/<version>/ (lender codes, source rows); a lender
    gets its member copy, written on first download by the publication's own exporter.
    """
    out = []
    rows = await pool.fetch("select version, export_dir, export_checksums from shared.feed_versions"
                            " where status in ('live', 'superseded') and export_dir is not null"
                            " order by version desc limit 5")
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


async def export_dir(pool: asyncpg.Pool, version: int) -> str | None:
    """Where a published (live or superseded) version's exports are, if it has any."""
    return await pool.fetchval("select export_dir from shared.feed_versions where version = $1"
                               " and status in ('live', 'superseded') and export_dir is not null", version)


def safe_name(name: str) -> bool:
    return not (name.startswith(".") or "/" in name or "\\" in name)


def association_export(home: Path, directory: str, name: str) -> Path | None:
    """A file of the version's export directory, which must lie under <home>/exports."""
    base = Path(directory)
    base = (base if base.is_absolute() else home / base).resolve()
    path = (base / name).resolve()
    if path.parent != base or not path.is_file() or not base.is_relative_to((home / "exports").resolve()):
        return None
    return path


def member_export(conn: psycopg.Connection, home: Path, version: int, name: str, lender: str) -> Path | None:
    """The lender's copy of one export file, written by the publication's exporter on first request."""
    if name not in MEMBER_EXPORTS:
        return None
    try:
        target = build_exports(conn, version, home / ".exchange" / "member-exports" / str(version) / lender,
                               lender=lender)
    except ExchangeError:
        return None
    path = target / name
    return path if path.is_file() else None


async def submission_quality(pool: asyncpg.Pool, months: int = 3) -> list[dict[str, Any]]:
    """Per lender and month, latest months first (marts.mart_lender_submission_quality, whose
    timeliness says partial and not_yet_due where a month is not complete or not due)."""
    if not await _quality_mart_built(pool):
        return []
    rows = await _fetch_plain(pool, """
        select lender_code, period_month, status_timeliness, status_due_date, status_days_late,
               files_received, files_rejected,
               round(file_rejection_rate::numeric, 4) as file_rejection_rate,
               round(row_rejection_rate::numeric, 4) as row_rejection_rate,
               under_classified_reports, round(under_classification_rate::numeric, 4) as under_classification_rate,
               consistency_findings
        from marts.mart_lender_submission_quality
        where period_month > (select max(period_month) from marts.mart_lender_submission_quality)
                             - make_interval(months => $1)
        order by period_month desc, lender_code""", months)
    return rows


async def under_classification(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """Lender months with reports classified milder than the exchange's floor (少分类 findings)."""
    if not await _quality_mart_built(pool):
        return []
    return await _fetch_plain(pool, """
        select lender_code, period_month, under_classified_reports, reports_with_lender_class,
               round(under_classification_rate::numeric, 4) as under_classification_rate
        from marts.mart_lender_submission_quality where under_classified_reports > 0
        order by period_month desc, under_classified_reports desc limit 100""")


async def _quality_mart_built(pool: asyncpg.Pool) -> bool:
    return await pool.fetchval("select to_regclass('marts.mart_lender_submission_quality') is not null")


async def _fetch_plain(pool: asyncpg.Pool, sql: str, *args: Any) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        return _plain(conn, await conn.fetch(sql, *args))


def _plain(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    """Rows ready for JSON and the pages: dates as ISO strings, times in the server's time zone (as
    the CLI's psycopg shows them), decimals as strings."""
    zone = ZoneInfo(conn.get_settings().TimeZone)
    out = []
    for row in rows:
        plain = {}
        for k, v in row.items():
            if isinstance(v, dt.datetime) and v.tzinfo is not None:
                v = v.astimezone(zone).isoformat()
            elif isinstance(v, dt.date | dt.datetime):
                v = v.isoformat()
            elif isinstance(v, Decimal):
                v = str(v)
            plain[k] = v
        out.append(plain)
    return out
