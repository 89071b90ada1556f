"""A member joining the exchange in the middle of the history, its files in unusual orders, on the
crafted data of tests/test_collection_models.py: the whole dbt project, run incrementally as the
monthly transform runs it, builds every table as a full build of the same files would."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import psycopg
from databases import fresh_database
from dbt_support import copy_tables, dbt, model_tables, rows_differing
from test_collection_models import (
    MONTHS,
    Loan,
    Plan,
    _action,
    _collection_file,
    _insert_loans,
    _join,
    _status_file,
    _submit,
    _Work,
    key,
    load,
)

from exchange.pipeline.dbt import MONTHLY_VARS

COMPARED_SCHEMAS = ("intermediate", "marts", "publication")
FULL_BUILD = "full_build"
"""Schema of the incremental database that receives the full build's tables for the comparison."""
NEW = "XD06"
Z1 = Loan(NEW, "Z1", "P2", date(2024, 3, 1))   # borrower P2 of XD01-A2 and DB03-D2 (in default from April)
Z2 = Loan(NEW, "Z2", "P7", date(2024, 5, 1))   # borrower P7 of XD01-A7 and WD02-B7
Z3 = Loan(NEW, "Z3", "Q6", date(2024, 9, 1))   # borrower Q6 of XD01-S6
Z4 = Loan(NEW, "Z4", "R9", date(2024, 11, 1))  # a borrower of its own, until May
Z5 = Loan(NEW, "Z5", "P5", date(2025, 2, 10))  # borrower P5 of XD01-A5
ZETA: list[tuple[Loan, Plan]] = [
    (Z1, {0: 35, 1: 64, 2: 95, 3: 126, 4: 156}),  # default in March, no payment: B1; with DB03-D2 B4 in April
    (Z2, {0: 95, 1: ("paid_dpd", 120), 2: ("settled",)}),  # in default at its first report, settled in March
    (Z3, {1: 20}),                                 # delinquent in February (until the correction)
    (Z4, {}),
    (Z5, {}),
]
# the corrected February file: Z3 was current after all, Z4 95 days past due (a default in February)
ZETA_FEBRUARY_CORRECTED = [(loan, {1: 95} if loan is Z4 else {} if loan is Z3 else plan) for loan, plan in ZETA]
# the corrected January file: Z5, issued on January 25th after all (the corrected loans file),
# first reported in January, a month before the first report the runs built
Z5_IN_JANUARY = Loan(NEW, "Z5", "P5", date(2025, 1, 25))
ZETA_JANUARY_CORRECTED = [(Z5_IN_JANUARY if loan is Z5 else loan, plan) for loan, plan in ZETA]
# from April Z1 is missing from XD06's files: disappeared in April, unreported (held back) in May
ZETA_WITHOUT_Z1 = [(loan, plan) for loan, plan in ZETA if loan is not Z1]


def _supersede(conn: psycopg.Connection, kind: str, as_of: date) -> None:
    """XD06's latest file of `kind` replaces the one in force for the same date (a correction, as
    the ingest marks it)."""
    conn.execute("update control.submissions set superseded_by = latest.submission_id"
                 " from (select max(submission_id) as submission_id from control.submissions) as latest"
                 " where lender_code = %s and kind = %s and as_of_date = %s and superseded_by is null"
                 " and control.submissions.submission_id <> latest.submission_id", (NEW, kind, as_of))


def _identities(conn: psycopg.Connection, sharing_a_phone: list[Loan], renamed: list[Loan]) -> None:
    """XD06's latest loans file reports the borrowers of `sharing_a_phone` with one phone and those
    of `renamed` under another name than the other lenders give them."""
    sid = conn.execute("select max(submission_id) from control.submissions where lender_code = %s"
                       " and kind = 'loans'", (NEW,)).fetchone()[0]
    for column, value, loans in (("phone_hash", key("phone Z"), sharing_a_phone),
                                 ("name_hash", key("another name"), renamed)):
        conn.execute(f"update raw.loans set {column} = %s where submission_id = %s and loan_id = any(%s)",
                     (value, sid, [loan.loan_id for loan in loans]))


def _xd06_joins(conn: psycopg.Connection) -> None:
    """XD06 admitted with its loans file dated March and a collection file with actions back to
    December, before any status file."""
    _join(conn, NEW, "Zeta Microloan", "microloan_company", MONTHS[2], [loan for loan, _ in ZETA])
    _identities(conn, sharing_a_phone=[Z3, Z4, Z5], renamed=[Z2])
    _collection_file(conn, NEW, MONTHS[2], [
        _action("XD06-Z2", "2024-12-20T10:00:00"),                     # before its first report
        _action("XD06-Z1", "2025-01-15T10:00:00", channel="sms"),
        _action("XD06-Z3", "2025-02-25T10:00:00", outcome="promise_to_pay", promise=(date(2025, 3, 10), 800)),
        _action("XD06-Z1", "2025-03-05T23:10:00", outcome="no_answer")])


def _xd06_reports_january_to_march(conn: psycopg.Connection) -> None:
    for month in range(3):
        _status_file(conn, NEW, month, ZETA)


def _xd06_corrects(conn: psycopg.Connection) -> None:
    """XD06's January and February status files and March loans file corrected (Z5 issued on
    January 25th and reported in January; Z5's phone another), with its late April file."""
    _status_file(conn, NEW, 0, ZETA_JANUARY_CORRECTED)
    _supersede(conn, "loan_status", MONTHS[0])
    _status_file(conn, NEW, 1, ZETA_FEBRUARY_CORRECTED)
    _supersede(conn, "loan_status", MONTHS[1])
    _insert_loans(conn, _submit(conn, NEW, "loans", MONTHS[2]), NEW, MONTHS[2], [Z1, Z2, Z3, Z4, Z5_IN_JANUARY])
    _supersede(conn, "loans", MONTHS[2])
    _identities(conn, sharing_a_phone=[Z3, Z4], renamed=[Z2])
    _status_file(conn, NEW, 3, ZETA_WITHOUT_Z1)


def _xd06_may(conn: psycopg.Connection) -> None:
    """XD06's May, ahead of the others, and a collection file holding an April action."""
    _status_file(conn, NEW, 4, ZETA_WITHOUT_Z1)
    _collection_file(conn, NEW, MONTHS[4], [
        _action("XD06-Z4", "2025-04-20T10:00:00"),
        _action("XD06-Z1", "2025-05-06T10:00:00", party="emergency_contact")])


def _others_may(conn: psycopg.Connection) -> None:
    """The others' May, with a loans file of XD06 giving Z4 borrower P4 (in default at WD02 and
    DB03 in June only)."""
    load(conn, months=range(4, 5))
    _insert_loans(conn, _submit(conn, NEW, "loans", MONTHS[4]), NEW, MONTHS[4], [Loan(NEW, "Z4", "P4", Z4.issue)])


def _arrive(files: Callable[[psycopg.Connection], None], increments: _Work, full_builds: _Work) -> None:
    """The same `files` loaded into both databases, their members admitted at the same moment
    (control.lenders stamps the admission with now(), which dim_lender shows)."""
    with psycopg.connect(increments.url, autocommit=True) as conn, \
            psycopg.connect(full_builds.url, autocommit=True) as full:
        files(conn)
        files(full)
        full.cursor().executemany(
            "update control.lenders set created_at = %s, updated_at = %s where lender_code = %s",
            conn.execute("select created_at, updated_at, lender_code from control.lenders").fetchall())


def _increment_equals_a_full_build(increments: _Work, full_builds: _Work, step: str) -> dict[str, date]:
    """An incremental run of the whole project in the database of `increments`, a full refresh in
    that of `full_builds` (the same files), both with the monthly transform's vars: every table of
    the compared schemas holds the same rows (EXCEPT ALL both ways, the full build's tables copied
    over; every table that differs named at once). Returns the first month the incremental run of
    int_loan_status_history rebuilt, per lender."""
    with psycopg.connect(increments.url, autocommit=True) as conn, \
            psycopg.connect(full_builds.url, autocommit=True) as full:
        seen = conn.execute("select coalesce(max(seq), 0) from exchange_state.rebuild_log").fetchone()[0]
        dbt(increments.url, increments.path, "run", *MONTHLY_VARS)
        rebuilt = dict(conn.execute("select lender_code, rebuild_month from exchange_state.rebuild_log"
                                    " where model = 'int_loan_status_history' and seq > %s", (seen,)).fetchall())
        dbt(full_builds.url, full_builds.path, "run", "--full-refresh", *MONTHLY_VARS)
        tables = model_tables(conn, COMPARED_SCHEMAS)
        assert model_tables(full, COMPARED_SCHEMAS) == tables
        copies = copy_tables(conn, tables, FULL_BUILD, source=full)
        differ = [text for table, copy in copies.items() if (text := rows_differing(conn, copy, table))]
        assert not differ, f"{step}: " + "; ".join(differ)
    return rebuilt


def _values(url: str, sql: str, *params: object) -> set[tuple]:
    with psycopg.connect(url) as conn:
        return set(conn.execute(sql, params).fetchall())


def test_a_member_joining_mid_history_with_files_out_of_order_is_built_as_a_full_build_would(tmp_path_factory):
    """A new member's files rebuild, in an incremental run, every month they touch of every table,
    the other lenders' rows that depend on them included: nothing else marks those months for a
    rebuild, and the monthly transform never runs a full refresh.

    The three crafted lenders are built on January-April by the whole project. Then, one run
    each: XD06 joins with loans issued in 2024 in a loans file dated March, and a collection file
    with actions back to December, before any status file; its status files of January-March
    arrive together, months the others' tables were built past (its loans share borrowers with
    the others: a default from March, blacklist B1 and, with DB03's default in April, B4; a loan
    in default at its first report, settled in March; three borrowers sharing one phone; one
    reported under another name); its February status file and its March loans file are
    corrected (a default appears in a month built twice already; a loan's issue date and a phone
    change), and its January file with that loan's first report, a month before the one built, with
    its late April file, which misses the loan in default; its May ahead of the
    others, which leaves that loan unreported (held back); then the others' May with a loans file
    of XD06 giving a loan another borrower (XD06 rebuilt from January, the others from May).
    One database sees only incremental runs, as production does (a full refresh between runs
    would reset any state the runs carry forward wrongly); a second one gets the same files and
    a full build each time: after each run every table of intermediate, marts and publication
    holds the same rows in both, and the status history rebuilt each lender from the month its
    files changed."""
    with fresh_database("member_joins") as url, fresh_database("member_joins_full") as full_url:
        increments = _Work(url, tmp_path_factory.mktemp("dbt_member_joins"))
        full_builds = _Work(full_url, tmp_path_factory.mktemp("dbt_member_joins_full"))
        _arrive(lambda conn: load(conn, months=range(4)), increments, full_builds)  # January-April
        for work in (increments, full_builds):
            dbt(work.url, work.path, "seed", *MONTHLY_VARS)
        dbt(increments.url, increments.path, "run", *MONTHLY_VARS)

        _arrive(_xd06_joins, increments, full_builds)
        assert _increment_equals_a_full_build(increments, full_builds, "XD06 joins") == {}

        _arrive(_xd06_reports_january_to_march, increments, full_builds)
        assert _increment_equals_a_full_build(increments, full_builds, "XD06's first status files") == {
            NEW: date(2025, 1, 1)}
        # the new member's months reached the other lenders' alerts and the blacklist
        assert _values(increments.url, "select reason_codes from publication.pub_blacklist_candidates"
                                       " where borrower_key = %s", key("P2")) == {("B1,B4",)}
        assert {("XD01-A2", "blacklisted_elsewhere"), ("XD01-A5", "phone_shared"), ("XD01-S6", "phone_shared"),
                ("XD01-A7", "identity_mismatch")} <= _values(increments.url, "select loan_id, alert_type"
                                                                            " from marts.mart_lender_alerts")

        _arrive(_xd06_corrects, increments, full_builds)
        assert _increment_equals_a_full_build(increments, full_builds, "corrections") == {NEW: date(2025, 1, 1)}
        assert ("XD06-Z4", date(2025, 2, 28)) in _values(increments.url, "select loan_id, default_date"
                                                                         " from marts.fct_default_episodes")
        assert not _values(increments.url, "select * from marts.mart_lender_alerts where alert_type = 'phone_shared'")

        _arrive(_xd06_may, increments, full_builds)
        assert _increment_equals_a_full_build(increments, full_builds, "XD06's May") == {NEW: date(2025, 5, 1)}
        assert _values(increments.url, "select loan_id, record_kind, hold_reason from publication.pub_held_records") \
            == {("XD06-Z1", "default_episode", "unreported"), ("XD06-Z1", "listing", "unreported")}

        _arrive(_others_may, increments, full_builds)
        # Z4's new borrower rebuilds XD06 from Z4's first report, the others from May
        assert _increment_equals_a_full_build(increments, full_builds, "the others' May") == {
            "XD01": date(2025, 5, 1), "WD02": date(2025, 5, 1), "DB03": date(2025, 5, 1), NEW: date(2025, 1, 1)}
        assert _values(increments.url, "select reason_codes from publication.pub_blacklist_candidates"
                                       " where borrower_key = %s", key("P2")) == {("B1",)}
        assert ("XD01-A4", "default_elsewhere") in _values(increments.url, "select loan_id, alert_type"
                                                                          " from marts.mart_lender_alerts")
