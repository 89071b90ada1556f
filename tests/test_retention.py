"""Retention (保存期限, 征信业管理条例 art. 16) against PostgreSQL, dbt and the publication.

One database per module holds a small history dated from today backwards (so the purge dates
fall where the rule needs them whatever day the suite runs), is built by dbt and published
through the gate. A row of the default feed that expired after its version was published is
planted in the live version; archived originals of old and young submissions are written
through the ingest's own archive function. The fixture then makes a dry run, the real run, a
second run, and a dbt run after the de-keying, keeping what each step saw.

- P1  XD01 R1  defaulted 7 years ago, settled 5 years 2 months ago, not reported since: purged,
               de-keyed. P1's current loan R4 (never in default) stays keyed and shown.
- P2  XD01 R2  settled 4 years ago: kept everywhere.
- P3  XD01 R3  written off 6 years ago, never repaid: the bad behaviour has not ended, kept.
- P4  XD01 R5  settled 6 years ago but reported again last month: the episode is purged, the
               loan keeps its key (the lender still reports it).
- P5  XD01 R6  never in default, reported (settled) once 6 years 6 months ago, alone in its month:
               that month of raw.loan_status is detached and dropped. Every other month more than
               five years old holds R3, whose record is kept: those months stay, listed as held.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from conftest import TEST_SECRET
from databases import fresh_database
from dbt_scenario import SHANGHAI, Loan, Submission, insert_delivery, insert_lenders, key, status
from dbt_support import dbt, environment

from exchange.access import report
from exchange.cli.main import main
from exchange.core.clock import local_today
from exchange.core.settings import get_settings
from exchange.feed.publish import run_publication
from exchange.feed.retention import Plan, purge
from exchange.intake.ingest import archive_original
from exchange.intake.readers import sha256_of

TODAY = date.today()


def month_end(years_ago: int, months_ago: int = 0) -> date:
    """The last day of the month `years_ago` years and `months_ago` months before this one."""
    index = TODAY.year * 12 + TODAY.month - 1 - 12 * years_ago - months_ago
    year, month = divmod(index, 12)
    return date(year, month + 1, calendar.monthrange(year, month + 1)[1])


R1_DEFAULT, R1_SETTLED = month_end(7), month_end(5, 2)
R2_DEFAULT, R2_SETTLED = month_end(5), month_end(4)
R3_DEFAULT, R3_WRITTEN_OFF = month_end(7), month_end(6)
R5_DEFAULT, R5_SETTLED, R5_AGAIN = month_end(7), month_end(6), month_end(0, 1)
R4_REPORTS = [month_end(0, 2), month_end(0, 1)]
R6_LOANS_FILE, R6_SETTLED = month_end(6, 7), month_end(6, 6)
BORROWER = {label: key(label) for label in ("P1", "P2", "P3", "P4")}
DROPPED_PARTITION = f"loan_status_{R6_SETTLED:%Y%m}"



def held_partitions() -> list[tuple[str, int]]:
    """The other months whose last day is five years old today, with the loans holding each: R3
    (written off, never repaid) is in all of them, R2 (settled four years ago) in its default month,
    which is due from its last day on."""
    due = [d for d in (R1_DEFAULT, R3_WRITTEN_OFF, R1_SETTLED, R2_DEFAULT)
           if date(d.year + 5, d.month, calendar.monthrange(d.year + 5, d.month)[1]) <= TODAY]
    return sorted((f"loan_status_{d:%Y%m}", 2 if d == R2_DEFAULT else 1) for d in set(due))

LOANS = {
    "R1": Loan("XD01", "R1", "P1", "individual", "consumer_loan", "110105", 10000, month_end(8), month_end(6)),
    "R2": Loan("XD01", "R2", "P2", "individual", "consumer_loan", "110105", 8000, month_end(6), month_end(4, 6)),
    "R3": Loan("XD01", "R3", "P3", "individual", "consumer_loan", "310101", 6000, month_end(8), month_end(7, 6)),
    "R4": Loan("XD01", "R4", "P1", "individual", "consumer_loan", "110105", 3000, month_end(0, 3), month_end(-1)),
    "R5": Loan("XD01", "R5", "P4", "individual", "consumer_loan", "440103", 9000, month_end(8), month_end(1)),
    "R6": Loan("XD01", "R6", "P5", "individual", "consumer_loan", "110105", 2000, month_end(6, 9), month_end(6, 6)),
}


def _received(as_of: date) -> datetime:
    return datetime(as_of.year, as_of.month, as_of.day, 10, tzinfo=SHANGHAI) + timedelta(days=5)


def _overdue(loan_id: str, as_of: date) -> dict[str, Any]:
    """A report at DPD 120 (in default), the borrower told on that day."""
    return status(loan_id, as_of, "overdue", 5000, overdue_since=as_of - timedelta(days=120), lender_class=3)


def deliveries() -> list[Submission]:
    """Loans files, then one status file per reporting date, in date order."""
    loans_files = {R1_DEFAULT: ["R1", "R3", "R5"], R2_DEFAULT: ["R2"], R4_REPORTS[0]: ["R4"], R6_LOANS_FILE: ["R6"]}
    reports: dict[date, list[dict[str, Any]]] = {}
    for as_of, row in [
        (R1_DEFAULT, _overdue("R1", R1_DEFAULT)),
        (R1_SETTLED, status("R1", R1_SETTLED, "settled", 0, last_payment=(R1_SETTLED, 5500))),
        (R2_DEFAULT, _overdue("R2", R2_DEFAULT)),
        (R2_SETTLED, status("R2", R2_SETTLED, "settled", 0, last_payment=(R2_SETTLED, 5500))),
        (R3_DEFAULT, _overdue("R3", R3_DEFAULT)),
        (R3_WRITTEN_OFF, status("R3", R3_WRITTEN_OFF, "written_off", 5000,
                                overdue_since=R3_DEFAULT - timedelta(days=120), lender_class=5)),
        (R5_DEFAULT, _overdue("R5", R5_DEFAULT)),
        (R5_SETTLED, status("R5", R5_SETTLED, "settled", 0, last_payment=(R5_SETTLED, 5500))),
        (R5_AGAIN, status("R5", R5_AGAIN, "normal", 0)),
        (R6_SETTLED, status("R6", R6_SETTLED, "settled", 0, last_payment=(R6_SETTLED, 1800))),
        *[(as_of, status("R4", as_of, "normal", 3000)) for as_of in R4_REPORTS],
    ]:
        reports.setdefault(as_of, []).append(row)
    # the written-off debt is still owed: the lender goes on reporting it (a loan missing from two
    # files would be held back as unreported, DOMAIN section 4)
    for as_of in [d for d in reports if d > R3_WRITTEN_OFF]:
        reports[as_of].append(status("R3", as_of, "written_off", 5000, overdue_since=R3_DEFAULT - timedelta(days=120),
                                     lender_class=5))
    out: list[Submission] = []
    for as_of in sorted(set(reports) | set(loans_files)):
        if as_of in loans_files:
            out.append(Submission(len(out) + 1, "XD01", "loans", as_of, _received(as_of),
                                  [LOANS[loan_id].row() for loan_id in loans_files[as_of]]))
        if as_of in reports:
            out.append(Submission(len(out) + 1, "XD01", "loan_status", as_of, _received(as_of), reports[as_of]))
    return out


def _submission_of(subs: list[Submission], kind: str, as_of: date) -> int:
    return next(s.submission_id for s in subs if s.kind == kind and s.as_of == as_of)


@dataclass
class World:
    url: str
    home: Path
    archived: dict[str, Path] = field(default_factory=dict)
    seen: dict[str, Any] = field(default_factory=dict)


def rows(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _state(world: World) -> dict[str, Any]:
    """Everything retention may change, to compare before and after a step."""
    return {
        "raw_loans": rows(world.url, "select submission_id, line, borrower_key, name_hash, phone_hash, guarantor_key,"
                                     " dekeyed_at from raw.loans order by 1, 2"),
        "shared": rows(world.url, "select version, loan_ref, default_episode_no from shared.default_feed_rows"
                                  " order by 1, 2, 3"),
        "versions": rows(world.url, "select version, export_dir from shared.feed_versions order by 1"),
        "signals": rows(world.url, "select version, borrower_key from shared.borrower_signal_rows order by 1, 2"),
        "submissions": rows(world.url, "select submission_id, archive_deleted_at from control.submissions order by 1"),
        "audit": rows(world.url, "select count(*) from control.audit_log where action = 'retention_purge'"),
        "archive": sorted(str(p.relative_to(world.home)) for p in (world.home / "archive").rglob("*") if p.is_file()),
        "exports": sorted(p.name for p in (world.home / "exports").iterdir()),
        "status_months": rows(world.url, "select c.relname, count(i.inhrelid) from pg_class c"
                                         " join pg_namespace n on n.oid = c.relnamespace"
                                         " left join pg_inherits i on i.inhrelid = c.oid"
                                         " where n.nspname = 'raw' and c.relname ~ '^loan_status_[0-9]{6}$'"
                                         " group by 1 order by 1"),
        "status_rows": rows(world.url, "select loan_id, as_of_date from raw.loan_status order by 1, 2"),
    }


NO_LOAN_KEY = "f" * 64
"""A key that no loan keeps any more (its person's record is gone), whose signals a version still holds."""


def _plant_signal_rows(conn: psycopg.Connection) -> None:
    """Published signals in the live version of P1 (its loan R4 keeps its key) and of NO_LOAN_KEY."""
    for borrower_key in (BORROWER["P1"], NO_LOAN_KEY):
        conn.execute(
            "insert into shared.borrower_signal_rows (version, borrower_key, signal_date, phones_1m, phones_3m,"
            " phones_6m, phones_12m, keys_per_phone_1m, keys_per_phone_3m, keys_per_phone_6m, keys_per_phone_12m,"
            " is_phone_shared, name_hashes, is_identity_mismatch, stacking_lenders, stacking_new_principal,"
            " is_loan_stacking, surge_lenders, first_payment_default_lenders, is_bust_out, open_lenders,"
            " total_outstanding, overdue_lenders_6m) select version, %s, current_date, 1, 1, 1, 2, 1, 1, 1, 2,"
            " false, 0, false, 0, 0, false, 0, 0, false, 1, 1000, 0 from shared.live_version", (borrower_key,))


def _subject_report(world: World, label: str) -> dict[str, Any]:
    with psycopg.connect(world.url, autocommit=True) as conn:
        return report.build(conn, BORROWER[label], "RESIDENT_ID")


def _archive(world: World, conn: psycopg.Connection, submission_id: int, label: str) -> None:
    """An archived original for the submission, written by the ingest's own archive function."""
    landed = world.home / "landing" / f"{label}.csv"
    landed.parent.mkdir(parents=True, exist_ok=True)
    landed.write_text(f"file {label}\n", encoding="utf-8")
    target = archive_original(landed, sha256_of(landed), get_settings())
    conn.execute("update control.submissions set archive_path = %s where submission_id = %s",
                 (str(target.relative_to(world.home)), submission_id))
    world.archived[label] = target


def _plant_expired_shared_row(conn: psycopg.Connection) -> None:
    """A default-feed row of P1 in the live version whose purge date passed after publication."""
    conn.execute(
        "insert into shared.default_feed_rows select version, repeat('e', 64), 1, %s, lender_code, lender_category,"
        " product_type, %s, 120, 5000, 'settled', %s, %s, notice_date, false, source_submission_id, source_line"
        " from shared.default_feed_rows where version = (select version from shared.live_version) limit 1",
        (BORROWER["P1"], R1_DEFAULT, R1_SETTLED, TODAY - timedelta(days=1)))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("retention")
    subs = deliveries()
    with fresh_database("retention") as url, environment(EXCHANGE_DB_URL=url, EXCHANGE_HOME=str(home),
                                                         EXCHANGE_PSEUDONYM_KEY=TEST_SECRET):
        world = World(url, home)
        with psycopg.connect(url, autocommit=True) as conn:
            with conn.transaction():
                insert_lenders(conn)
                insert_delivery(conn, subs)
            # archived originals: R1's settlement report (over five years), R2's (four years), and
            # a file whose name gave no date, received six years ago (judged by its receipt)
            _archive(world, conn, _submission_of(subs, "loan_status", R1_SETTLED), "old")
            _archive(world, conn, _submission_of(subs, "loan_status", R2_SETTLED), "young")
            nameless = conn.execute(
                "insert into control.submissions (submission_id, lender_code, file_name, sha256, size_bytes,"
                " arrival_key, received_at, verdict, reason_code) values (%s, 'XD01', 'loans.csv', repeat('a', 64),"
                " 10, 'nameless', %s, 'rejected', 'F_NAME') returning submission_id",
                (len(subs) + 1, _received(month_end(6)))).fetchone()[0]
            _archive(world, conn, nameless, "nameless")
        dbt(url, home, "seed")
        dbt(url, home, "run")
        world.seen["first_publication"] = run_publication()
        with psycopg.connect(url, autocommit=True) as conn:
            _plant_expired_shared_row(conn)
            _plant_signal_rows(conn)
        world.seen["report_before"] = {label: _subject_report(world, label) for label in BORROWER}
        world.seen["state_before"] = _state(world)
        world.seen["r6_in_marts_before"] = rows(url, "select as_of_date from marts.fct_loan_status where loan_id = 'R6'")
        world.seen["dry"] = purge(dry_run=True)
        world.seen["state_after_dry"] = _state(world)
        world.seen["real"] = purge()
        world.seen["state_after_real"] = _state(world)
        world.seen["report_after"] = {label: _subject_report(world, label) for label in BORROWER}
        world.seen["again"] = purge()
        world.seen["state_after_again"] = _state(world)
        # the next transform (incremental) and the staging, intermediate and mart tests over de-keyed rows
        dbt(url, home, "run")
        dbt(url, home, "test", "--select", "path:models/staging", "path:models/intermediate", "path:models/marts",
            "--exclude", "test_type:unit")
        world.seen["report_after_dbt"] = {label: _subject_report(world, label) for label in BORROWER}
        yield world


def _episodes(url: str) -> dict[str, tuple]:
    return {loan: (status_, end, purge_date) for loan, status_, end, purge_date in rows(
        url, "select loan_id, episode_status, end_date, purge_date from marts.fct_default_episodes")}


def _shown_loans(data: dict[str, Any]) -> set[str]:
    return {loan["loan_id"] for loan in data["loans"]}


# ---- marts ------------------------------------------------------------------------------------


def test_marts_keep_an_episode_until_its_purge_date_and_one_never_ended(world: World) -> None:
    def years_later(d: date, years: int) -> date:
        return d.replace(year=d.year + years) if (d.month, d.day) != (2, 29) else date(d.year + years, 3, 1)

    assert _episodes(world.url) == {
        "R2": ("settled", R2_SETTLED, years_later(R2_SETTLED, 5)),
        "R3": ("written_off", None, None),
    }


def test_a_dekeyed_loan_leaves_every_borrower_keyed_model_at_the_next_run(world: World) -> None:
    for table in ("marts.fct_loan_status", "marts.dim_loan", "marts.fct_default_episodes",
                  "intermediate.int_loans_latest", "staging.stg_raw__loans"):
        assert rows(world.url, f"select count(*) from {table} where loan_id = 'R1'") == [(0,)], table
        assert rows(world.url, f"select count(*) from {table} where borrower_key is null") == [(0,)], table
    # P1's current loan, never in default, keeps its key and its rows
    assert rows(world.url, "select distinct borrower_key from marts.fct_loan_status where loan_id = 'R4'") == [
        (BORROWER["P1"],)]


# ---- raw --------------------------------------------------------------------------------------


def test_purge_dekeys_only_the_loan_whose_whole_negative_record_expired(world: World) -> None:
    loans = rows(world.url, "select loan_id, borrower_key is null, name_hash is null, phone_hash is null,"
                            " guarantor_key is null, dekeyed_at is not null from raw.loans order by loan_id")
    assert loans == [("R1", True, True, True, True, True)] + [
        (loan_id, False, False, False, True, False) for loan_id in ("R2", "R3", "R4", "R5", "R6")]


def test_the_database_refuses_a_null_key_on_a_row_not_dekeyed(world: World) -> None:
    with psycopg.connect(world.url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("update raw.loans set borrower_key = null where loan_id = 'R2'")


def test_a_month_past_the_period_without_a_kept_record_is_detached_and_dropped(world: World) -> None:
    before, after = world.seen["state_before"], world.seen["state_after_real"]
    assert (DROPPED_PARTITION, 1) in before["status_months"]
    assert after["status_months"] == [m for m in before["status_months"] if m[0] != DROPPED_PARTITION]
    assert after["status_rows"] == [row for row in before["status_rows"] if row != ("R6", R6_SETTLED)]
    assert [(m.partition, m.rows_by_lender) for m in world.seen["real"].dropped_months] == [
        (DROPPED_PARTITION, {"XD01": 1})]
    # The marts keep what was built from the month until a rebuild reaches back to it: here R1's
    # de-keying makes the next run rebuild XD01 from R1's first report, before R6's month.
    assert world.seen["r6_in_marts_before"] == [(R6_SETTLED,)]
    assert rows(world.url, "select as_of_date from marts.fct_loan_status where loan_id = 'R6'") == []


def test_a_month_past_the_period_holding_a_kept_record_stays_and_is_listed(world: World) -> None:
    # R3, written off and never repaid, is reported in every other month over five years old
    held = world.seen["real"].as_dict()["status_months_held"]
    assert [(m["partition"], m["holding_loans"]) for m in held] == held_partitions()
    assert {p for p, _ in world.seen["state_after_real"]["status_months"]} >= {p for p, _ in held_partitions()}


# ---- shared zone and the data-subject report ----------------------------------------------------


def test_an_expired_shared_row_is_purged_with_the_exports_that_held_it(world: World) -> None:
    before, after = world.seen["state_before"], world.seen["state_after_real"]
    live = world.seen["first_publication"]["version"]
    assert ("e" * 64, 1) in {(ref, no) for _, ref, no in before["shared"]}
    assert after["shared"] == [row for row in before["shared"] if row[1] != "e" * 64]
    assert str(live) in before["exports"] and str(live) not in after["exports"]
    assert dict(after["versions"])[live] is None
    assert rows(world.url, "select count(*) from shared.default_feed where borrower_key = %s",
                (BORROWER["P1"],)) == [(0,)]
    # what was never expired stays published: the four-year-old and the written-off episodes
    assert rows(world.url, "select borrower_key, episode_status from shared.default_feed order by 2") == [
        (BORROWER["P2"], "settled"), (BORROWER["P3"], "written_off")]


def test_the_signals_of_a_key_left_without_a_keyed_loan_are_purged_from_every_version(world: World) -> None:
    live = world.seen["first_publication"]["version"]
    before = world.seen["state_before"]["signals"]
    assert {(live, BORROWER["P1"]), (live, NO_LOAN_KEY)} <= set(before)
    # R4 keeps P1's key, and every key published by dbt has a keyed loan: only NO_LOAN_KEY goes
    assert world.seen["state_after_real"]["signals"] == [row for row in before if row[1] != NO_LOAN_KEY]
    assert world.seen["real"].as_dict()["shared_signal_rows"] == 1


def test_the_subject_report_shows_nothing_past_its_purge_date(world: World) -> None:
    for moment in ("report_before", "report_after", "report_after_dbt"):
        p1 = world.seen[moment]["P1"]
        assert p1["default_episodes"] == [], moment
        assert _shown_loans(p1) == {"R4"}, moment
        p4 = world.seen[moment]["P4"]  # the episode is purged, the loan still reported
        assert (p4["default_episodes"], _shown_loans(p4)) == ([], {"R5"}), moment
        for label, loan_id, status_ in (("P2", "R2", "settled"), ("P3", "R3", "written_off")):
            data = world.seen[moment][label]
            assert [e["episode_status"] for e in data["default_episodes"]] == [status_], (moment, label)
            assert _shown_loans(data) == {loan_id}, (moment, label)


# ---- archive ----------------------------------------------------------------------------------


def test_archived_files_go_five_years_after_their_reporting_date(world: World) -> None:
    assert not world.archived["old"].exists()
    assert not world.archived["nameless"].exists()
    assert world.archived["young"].exists()
    recorded = rows(world.url, "select file_name, archive_path is not null from control.submissions"
                               " where archive_deleted_at is not null order by file_name")
    assert recorded == [("XD01_loan_status_" + f"{R1_SETTLED:%Y%m%d}.csv", True), ("loans.csv", True)]


# ---- the dry run, the record, idempotence -------------------------------------------------------


def test_the_dry_run_changes_nothing_and_lists_what_the_real_run_does(world: World) -> None:
    dry, real = world.seen["dry"], world.seen["real"]
    assert world.seen["state_after_dry"] == world.seen["state_before"]
    assert (dry.applied, real.applied) == (False, True)
    assert {**dry.as_dict(), "applied": True} == real.as_dict()
    assert real.as_dict()["dekeyed_loans_by_lender"] == {"XD01": 1}
    assert real.as_dict()["shared_default_feed_rows"] == 1
    assert sorted(f.file_names[0] for f in real.archive_files) == sorted(
        ["XD01_loan_status_" + f"{R1_SETTLED:%Y%m%d}.csv", "loans.csv"])


def test_the_run_is_recorded_without_a_key_or_a_contract_number(world: World) -> None:
    [(actor, obj, detail)] = rows(world.url, "select actor, object, detail from control.audit_log"
                                             " where action = 'retention_purge'")
    assert obj == f"retention:{local_today().isoformat()}" and actor
    text = json.dumps(detail)
    assert all(borrower not in text for borrower in BORROWER.values())
    assert '"R1"' not in text and detail["dekeyed_loans"] == 1


def test_running_purge_again_does_nothing(world: World) -> None:
    again: Plan = world.seen["again"]
    assert again.empty and not again.applied
    assert world.seen["state_after_again"] == world.seen["state_after_real"]


def test_the_cli_dry_run_lists_counts_per_lender_and_files_but_no_key(world: World) -> None:
    later = month_end(-10)  # ten years on: R2 and R5 (purged episodes, last reports long past) are due
    result = CliRunner().invoke(main, ["feed", "purge", "--dry-run", "--today", later.isoformat()],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output and "raw loans de-keyed: 2; XD01: 2" in result.output
    assert "raw.loan_status months detached and dropped: 0" in result.output  # R3 still in each
    assert "held past the period" in result.output
    assert "XD01_loan_status_" + f"{R2_SETTLED:%Y%m%d}.csv" in result.output  # the young file by then
    assert all(borrower not in result.output for borrower in BORROWER.values())
    assert all(loan_id not in result.output for loan_id in ("R2", "R5"))
    assert rows(world.url, "select count(*) from raw.loans where dekeyed_at is not null") == [(1,)]
