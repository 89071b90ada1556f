"""Retention (保存期限): what leaves which zone, and when (征信业管理条例 art. 16).

A negative record (a default episode) is kept `retention_years` (the dbt var, 5) from the end of
the bad behaviour: settlement, compensation or cure. Its purge date is that end plus the period;
an ongoing episode, or one written off and never repaid, has not ended and has no purge date.
On the purge date the record leaves every zone a member, an analyst or the data subject reads:

- shared: its default-feed rows, in every kept version, and the export directory of any version
  that held one (`purge_shared`, at each version switch and in `exchange feed purge`); and the
  published borrower signals of a key none of whose loans keeps its key any more (a person whose
  whole record is gone), in every kept version, also when dbt built the version's candidates
  before the de-keying;
- marts: marts.fct_default_episodes leaves it out at each dbt run (its purge_date column);
- the data-subject report: report.py shows no shared row past its purge date, and no loan that
  `expired_loans_sql` names.

In raw, a loan is de-keyed once its whole negative record is gone and the lender no longer
reports it: every default episode of the loan has ended and passed its purge date, and the
loan's last report is itself older than the retention period. All its raw.loans rows (one per
loans file) lose borrower key, name hash, phone hash and guarantor key, and get dekeyed_at; the
figures stay (the association's statistics were built from them) but reach no person. Its
raw.loan_status and raw.collection_actions rows carry no key of their own: they reached the person
only through raw.loans. A loan still reported, or reported within the period, keeps its key,
so the person's current loans (look-ups, disputes, the multi-lender listing reason) keep working; a
loan that never defaulted holds no negative record and is left alone. A de-keyed loan drops out
of stg_raw__loans, hence of every borrower-keyed model at the next dbt run.

Archived originals (archive/, the only place clear identities exist) are deleted five years
after their reporting date: the as-of date of the file name, or the day it was received when the
name gave none. A file shared by several submissions (the same bytes sent again) goes when the
youngest of them is due. control.submissions.archive_deleted_at records it; archive_path stays.

raw.loan_status is partitioned by reporting month (migration 0014). A month leaves raw whole, by
DETACH PARTITION ... CONCURRENTLY and DROP TABLE, once the rule for archived files holds for all
of it (its last day is more than the period ago: every original file it was loaded from is due
for deletion too) and no loan reported in it still holds a negative record that is kept (an
episode without a purge date, or one not yet past it): such a month is held and listed, and goes
at a later run. Nothing is archived: the rows are a validated copy of originals that the same
rule deletes, so a copy would keep them past the period. The marts keep the statistics already
built from the month (a dbt rebuild that reaches back to it, e.g. a full refresh, no longer can).
The detach runs outside the main transaction (PostgreSQL allows CONCURRENTLY nowhere else), so
loads and reads of other months go on; a detach interrupted halfway is finished by the next run.

Every step is idempotent: a second run on the same day finds nothing and records nothing.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import shutil
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import psycopg
import yaml
from psycopg import sql

from exchange.core import db
from exchange.core.clock import local_today
from exchange.core.errors import ExchangeError
from exchange.core.settings import DBT_PROJECT_DIR, Settings, get_settings

_LOCK = 7_340_011
"""pg_advisory_lock key: one retention run at a time (a publication's switch takes row locks)."""
_STATUS_PARTITION = r"^loan_status_\d{6}$"
"""The month partitions of raw.loan_status (raw.ensure_loan_status_partition names them)."""


def _no_keyed_loan(also: str = "") -> str:
    """A condition on a published signal row (`signals`): its key has no loan that keeps its key;
    `also` narrows the loans that count (a further condition on `loans`)."""
    return ("not exists (select from raw.loans as loans where loans.borrower_key = signals.borrower_key"
            f" and loans.dekeyed_at is null{also})")


_EXPIRED_LOANS = """
    select episodes.lender_code, episodes.loan_id
    from intermediate.int_episode_publishability as episodes
    {where}
    group by episodes.lender_code, episodes.loan_id
    -- the purge date dbt gives each episode (macro purge_date); none while the episode lasts
    having bool_and(coalesce(episodes.purge_date <= %(today)s, false))
        and (select (max(reports.as_of_date) + make_interval(years => %(years)s))::date
             from marts.fct_loan_status as reports
             where reports.lender_code = episodes.lender_code and reports.loan_id = episodes.loan_id)
            <= %(today)s"""


@cache
def retention_years() -> int:
    """The retention period, read from the dbt var that dates every purge_date (one source)."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return int(project["vars"]["retention_years"])


def expired_loans_sql(*, one_borrower: bool = False) -> tuple[str, dict[str, Any]]:
    """SQL naming the loans (lender_code, loan_id) whose negative record has passed its purge date.

    The rule of the module docstring, in one place for the planner (every loan) and the
    data-subject report (one borrower's: pass `borrower_key` among the parameters). Parameters
    `today` and `borrower_key` are the caller's; `years` is filled in here. Needs the dbt models
    (see `models_built`).
    """
    # one borrower's loans through the marts' borrower_key index, then the episodes' loan index
    where = ("where (episodes.lender_code, episodes.loan_id) in (select lender_code, loan_id"
             " from marts.fct_loan_status where borrower_key = %(borrower_key)s)") if one_borrower else ""
    return _EXPIRED_LOANS.format(where=where), {"years": retention_years()}


def models_built(conn: psycopg.Connection) -> bool:
    """Whether the dbt tables `expired_loans_sql` reads exist (not before the first transform)."""
    return conn.execute("select to_regclass('intermediate.int_episode_publishability') is not null"
                        " and to_regclass('marts.fct_loan_status') is not null").fetchone()[0]


@dataclass
class ArchivedFile:
    """An archived original due for deletion, with the submissions that point at it."""

    archive_path: str
    lenders: str
    reporting_date: dt.date
    submission_ids: list[int]
    file_names: list[str]


@dataclass
class StatusMonth:
    """A month partition of raw.loan_status past the period: dropped, or held by a kept record."""

    partition: str
    month: dt.date
    rows_by_lender: dict[str, int]
    holding_loans: int = 0
    """Loans reported in the month whose negative record is still kept; the month stays while any."""
    state: str = "attached"
    """attached, or detaching/detached: an earlier run stopped between DETACH and DROP."""


@dataclass
class Plan:
    """What retention removes on `today`; the dry run prints it, the real run does exactly it."""

    today: dt.date
    shared_rows_by_version: dict[int, int] = field(default_factory=dict)
    signal_rows: int = 0
    """Published borrower-signal rows whose key keeps no keyed loan once `loans` are de-keyed."""
    loans: list[tuple[str, str]] = field(default_factory=list)
    archive_files: list[ArchivedFile] = field(default_factory=list)
    status_months: list[StatusMonth] = field(default_factory=list)
    applied: bool = False

    @property
    def dropped_months(self) -> list[StatusMonth]:
        return [m for m in self.status_months if not m.holding_loans]

    @property
    def empty(self) -> bool:
        return not (self.shared_rows_by_version or self.signal_rows or self.loans or self.archive_files
                    or self.dropped_months)

    @property
    def loans_by_lender(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for lender, _ in self.loans:
            counts[lender] = counts.get(lender, 0) + 1
        return dict(sorted(counts.items()))

    def as_dict(self) -> dict[str, Any]:
        """The operator's summary: counts per lender and submissions, never a key or a contract number."""
        return {
            "today": self.today.isoformat(),
            "applied": self.applied,
            "shared_default_feed_rows": sum(self.shared_rows_by_version.values()),
            "shared_rows_by_version": {str(v): n for v, n in sorted(self.shared_rows_by_version.items())},
            "shared_signal_rows": self.signal_rows,
            "dekeyed_loans": len(self.loans),
            "dekeyed_loans_by_lender": self.loans_by_lender,
            "archive_files": [{"archive_path": f.archive_path, "lenders": f.lenders,
                               "reporting_date": f.reporting_date.isoformat(), "submission_ids": f.submission_ids,
                               "file_names": f.file_names} for f in self.archive_files],
            "status_months_dropped": [{"partition": m.partition, "month": m.month.strftime("%Y-%m"),
                                       "rows_by_lender": m.rows_by_lender} for m in self.dropped_months],
            "status_months_held": [{"partition": m.partition, "month": m.month.strftime("%Y-%m"),
                                    "holding_loans": m.holding_loans}
                                   for m in self.status_months if m.holding_loans],
        }


def plan(conn: psycopg.Connection, today: dt.date) -> Plan:
    """Find what is due on `today` in the shared zone, in raw and in the archive (reads only)."""
    found = Plan(today)
    found.shared_rows_by_version = dict(conn.execute(
        "select version, count(*) from shared.default_feed_rows where purge_date <= %s group by version",
        (today,)).fetchall())
    if models_built(conn):
        sql, params = expired_loans_sql()
        found.loans = [(lender, loan) for lender, loan in conn.execute(
            f"with expired as ({sql}) select distinct loans.lender_code, loans.loan_id from raw.loans as loans"
            " join expired using (lender_code, loan_id) where loans.dekeyed_at is null order by 1, 2",
            {**params, "today": today}).fetchall()]
    found.signal_rows = conn.execute(
        "select count(*) from shared.borrower_signal_rows as signals where " + _no_keyed_loan(
            " and (loans.lender_code, loans.loan_id) not in (select * from unnest(%s::text[], %s::text[]))"),
        ([lender for lender, _ in found.loans], [loan for _, loan in found.loans])).fetchone()[0]
    reporting_date = "coalesce(as_of_date, (received_at at time zone 'Asia/Shanghai')::date)"
    rows = conn.execute(
        f"select archive_path, string_agg(distinct lender_code, ','), max({reporting_date}),"
        " array_agg(submission_id order by submission_id), array_agg(file_name order by submission_id)"
        " from control.submissions where archive_path is not null and archive_deleted_at is null"
        f" group by archive_path having (max({reporting_date}) + make_interval(years => %s))::date <= %s"
        " order by 2, 3, 1", (retention_years(), today)).fetchall()
    found.archive_files = [ArchivedFile(*row) for row in rows]
    found.status_months = status_months(conn, today)
    return found


def status_months(conn: psycopg.Connection, today: dt.date) -> list[StatusMonth]:
    """The month partitions of raw.loan_status past the period on `today`, each with what holds it.

    Needs the dbt models to know which loans still hold a record: before the first transform
    nothing is judged, and only a detach an earlier run left unfinished is listed.
    """
    found = []
    for name, state in conn.execute(
            "select c.relname, case when i.inhrelid is null then 'detached'"
            " when i.inhdetachpending then 'detaching' else 'attached' end"
            " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " left join pg_inherits i on i.inhrelid = c.oid and i.inhparent = 'raw.loan_status'::regclass"
            " where n.nspname = 'raw' and c.relkind = 'r' and c.relname ~ %s order by c.relname",
            (_STATUS_PARTITION,)).fetchall():
        month = dt.date(int(name[-6:-2]), int(name[-2:]), 1)
        last_day = (month + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1)
        due = conn.execute("select (%s + make_interval(years => %s))::date <= %s",
                           (last_day, retention_years(), today)).fetchone()[0]
        if state == "attached" and not (due and models_built(conn)):
            continue
        table = sql.Identifier("raw", name)
        rows_by_lender = dict(conn.execute(sql.SQL(
            "select lender_code, count(*) from {} group by 1 order by 1").format(table)).fetchall())
        holding = 0 if state != "attached" else conn.execute(sql.SQL(
            "select count(*) from (select distinct lender_code, loan_id from {}) as reported"
            " where exists (select from intermediate.int_episode_publishability as episodes"
            "  where episodes.lender_code = reported.lender_code and episodes.loan_id = reported.loan_id"
            "   and (episodes.purge_date is null or episodes.purge_date > %s))").format(table), (today,)).fetchone()[0]
        found.append(StatusMonth(name, month, rows_by_lender, holding, state))
    return found


def purge(*, today: dt.date | None = None, dry_run: bool = False, settings: Settings | None = None,
          actor: str | None = None) -> Plan:
    """Plan retention for `today` (default: the Beijing date) and, unless `dry_run`, carry it out.

    One transaction under an advisory lock: the plan is made and applied on the same snapshot,
    so the real run does exactly what a dry run just before it listed. Archived files are
    unlinked before the commit; should the commit fail, the next run finds them absent and
    records them then.
    """
    settings = settings or get_settings()
    today = today or local_today()
    with db.connect(autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_LOCK,))
        try:
            with conn.transaction():
                found = plan(conn, today)
                if dry_run or found.empty:
                    return found
                _dekey(conn, found.loans)
                purge_shared(conn, today, settings)  # after the de-keying: a key left without loans goes
                _delete_archived(conn, found.archive_files, settings)
                found.applied = True
                conn.execute("insert into control.audit_log (actor, action, object, detail) values (%s, %s, %s, %s)",
                             (actor or getpass.getuser(), "retention_purge", f"retention:{today.isoformat()}",
                              json.dumps(found.as_dict(), ensure_ascii=False)))
            _drop_months(conn, found.dropped_months)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_LOCK,))
    return found


def purge_shared(conn: psycopg.Connection, today: dt.date, settings: Settings) -> dict[str, Any]:
    """Delete default-feed rows past their purge date, and the borrower signals of keys without a
    keyed loan, from every kept version (caller's transaction).

    A version that held such a default-feed row loses its export directory, whose files could no
    longer be reproduced and hold the expired record; `exchange feed export` can write the
    remaining rows again (signals are never exported). Called at each version switch (the new
    version never had expired default-feed rows: the candidates leave them out; it may hold the
    signals of a key de-keyed after dbt built them) and by `purge`, after its de-keying.
    """
    expired = conn.execute(
        "delete from shared.default_feed_rows where purge_date is not null and purge_date <= %s returning version",
        (today,)).fetchall()
    touched = sorted({version for (version,) in expired})
    drop_exports(conn, settings, touched)
    forgotten = conn.execute("delete from shared.borrower_signal_rows as signals where " + _no_keyed_loan()).rowcount
    return {"expired_default_feed_rows": len(expired), "versions_touched": touched,
            "dekeyed_signal_rows": forgotten}


def drop_exports(conn: psycopg.Connection, settings: Settings, versions: list[int]) -> None:
    """Remove the export directories of `versions` and forget them in shared.feed_versions."""
    for version in versions:
        shutil.rmtree(settings.exports / str(version), ignore_errors=True)
    conn.execute("update shared.feed_versions set export_dir = null where version = any(%s)", (versions,))


def _dekey(conn: psycopg.Connection, loans: list[tuple[str, str]]) -> None:
    """Null every key of the loans' raw.loans rows (the check in migration 0011 holds them to it)."""
    conn.execute(
        "update raw.loans as loans set borrower_key = null, name_hash = null, phone_hash = null,"
        " guarantor_key = null, dekeyed_at = now()"
        " from unnest(%s::text[], %s::text[]) as due (lender_code, loan_id)"
        " where loans.lender_code = due.lender_code and loans.loan_id = due.loan_id and loans.dekeyed_at is null",
        ([lender for lender, _ in loans], [loan for _, loan in loans]))


def _delete_archived(conn: psycopg.Connection, files: list[ArchivedFile], settings: Settings) -> None:
    archive = settings.archive.resolve()
    paths = [(settings.home / f.archive_path).resolve() for f in files]
    for f, path in zip(files, paths, strict=True):
        if not path.is_relative_to(archive):
            raise ExchangeError("R_ARCHIVE_PATH", f"submission {f.submission_ids[0]}: archive_path {f.archive_path}"
                                                  " is outside the archive; nothing deleted")
    for f, path in zip(files, paths, strict=True):
        path.unlink(missing_ok=True)
        conn.execute("update control.submissions set archive_deleted_at = now()"
                     " where submission_id = any(%s) and archive_deleted_at is null", (f.submission_ids,))


def _drop_months(conn: psycopg.Connection, months: list[StatusMonth]) -> None:
    """Detach each month from raw.loan_status without blocking other months' loads and reads, then drop it.

    DETACH ... CONCURRENTLY (autocommit: it runs two transactions of its own) waits for the
    queries that still read the month; FINALIZE completes one an interrupted run left pending.
    """
    for month in months:
        table = sql.Identifier("raw", month.partition)
        if month.state == "attached":
            conn.execute(sql.SQL("alter table raw.loan_status detach partition {} concurrently").format(table))
        elif month.state == "detaching":
            conn.execute(sql.SQL("alter table raw.loan_status detach partition {} finalize").format(table))
        conn.execute(sql.SQL("drop table {}").format(table))
