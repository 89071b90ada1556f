"""Alerts, delinquent-borrower segments and collection conduct on crafted raw data, built by dbt.

Three lenders report month ends 2025-01..2025-06. Loan ids carry their lender's code, so an alert
that leaked the other lender's loan would show that lender's code. Test data goes in with plain
INSERTs (the ingest uses COPY).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from databases import fresh_database
from dbt_support import copy_tables, dbt, model_tables, rows_differing, rows_out_of_month_order
from psycopg.rows import dict_row

MONTHS = [date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30), date(2025, 5, 31),
          date(2025, 6, 30)]
JUNE = MONTHS[-1]
LENDERS = [("XD01", "Alpha Microloan", "microloan_company"), ("WD02", "Beta Online", "online_microloan_company"),
           ("DB03", "Gamma Guarantee", "financing_guarantee_company")]
CODES = [code for code, _, _ in LENDERS]
SHANGHAI = timezone(timedelta(hours=8))


def key(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


@dataclass
class Loan:
    lender: str
    name: str
    borrower: str
    issue: date = date(2024, 6, 1)

    @property
    def loan_id(self) -> str:
        return f"{self.lender}-{self.name}"


# status per month index (0..5): None = current; int = DPD at that month end; ("settled",) etc.
Plan = dict[int, object]
CASES: list[tuple[Loan, Plan]] = [
    # alerts
    (Loan("XD01", "A1", "P1"), {}),
    (Loan("WD02", "B1", "P1"), {4: 15, 5: 45}),                      # 30+ DPD elsewhere, first seen June
    (Loan("XD01", "A2", "P2"), {}),
    (Loan("DB03", "D2", "P2"), {1: 6, 2: 36, 3: 95, 4: 126, 5: 156}),  # default (April) + B1 + 30+ DPD
    (Loan("XD01", "A4", "P4"), {}),
    (Loan("WD02", "B4", "P4"), {5: ("paid_dpd", 95)}),               # default at two others, paying: B4 only
    (Loan("DB03", "D4", "P4"), {5: ("paid_dpd", 100)}),
    (Loan("XD01", "A5", "P5"), {}),
    (Loan("WD02", "B5", "P5", date(2025, 6, 10)), {}),               # surge: two new loans elsewhere
    (Loan("DB03", "D5", "P5", date(2025, 6, 20)), {}),
    (Loan("XD01", "A6", "P6"), {}),
    (Loan("WD02", "B6", "P6", date(2025, 6, 10)), {}),               # one new loan elsewhere: no surge
    (Loan("XD01", "A7", "P7"), {5: 10}),                              # delinquent here: no alert about B7
    (Loan("WD02", "B7", "P7"), {5: 60}),
    # segments at XD01 in June
    (Loan("XD01", "S1", "Q1"), {5: 20}),                              # paying elsewhere
    (Loan("WD02", "T1", "Q1"), {}),
    (Loan("XD01", "S2", "Q2"), {5: 40}),                              # delinquent everywhere
    (Loan("DB03", "T2", "Q2"), {5: 40}),
    (Loan("XD01", "S3", "Q3"), {5: 30}),                              # new delinquency (DPD 30)
    (Loan("XD01", "S4", "Q4"), {4: 1, 5: 31}),                        # persistent (DPD 31)
    (Loan("XD01", "S5", "Q5"), {5: 41}),                              # repeat defaulter: default elsewhere before
    (Loan("DB03", "T5", "Q5"), {0: 95, 1: ("settled",)}),
    (Loan("XD01", "S6", "Q6"), {2: 15}),                              # delinquent in March, cured in April
]


def _status_row(loan: Loan, month: int, plan: Plan) -> dict | None:
    as_of = MONTHS[month]
    if loan.issue > as_of:
        return None
    ended = [m for m, p in plan.items() if isinstance(p, tuple) and p[0] == "settled" and m < month]
    if ended:
        return None
    p = plan.get(month)
    row = {"as_of_date": as_of, "loan_id": loan.loan_id, "account_status": "normal", "outstanding_principal": 8000,
           "overdue_principal": 0, "overdue_interest": 0, "overdue_since": None, "dpd_reported": None,
           "last_payment_date": as_of - timedelta(days=5), "last_payment_amount": 500, "lender_risk_class": None,
           "notice_date": None, "legal_status": "none", "fraud_flag": False}
    if isinstance(p, tuple) and p[0] == "settled":
        row.update(account_status="settled", outstanding_principal=0)
    elif p is not None:
        dpd = p[1] if isinstance(p, tuple) else p
        row.update(account_status="overdue", overdue_principal=800, overdue_since=as_of - timedelta(days=dpd),
                   notice_date=as_of)
        if not isinstance(p, tuple):  # no payment since the arrears began
            row.update(last_payment_date=None, last_payment_amount=None)
    return row


def _action(loan_id: str, local: str, actor: str = "in_house", party: str = "borrower", outcome: str = "contacted",
            channel: str = "call", promise: tuple[date, int] | None = None) -> dict:
    return {"loan_id": loan_id, "action_time": datetime.fromisoformat(local).replace(tzinfo=SHANGHAI),
            "channel": channel, "actor": actor, "contacted_party": party, "outcome": outcome,
            "promise_date": promise[0] if promise else None, "promise_amount": promise[1] if promise else None}


ACTIONS = {
    # XD01 in June: night at 22:30 and 07:59 (08:00 is not), four connected calls to Q2 on June 3
    # (two in-house, two by an agency), three to Q3 on June 4 (at the limit), one action aimed at
    # someone else, a kept and a broken promise
    "XD01": [
        _action("XD01-S2", "2025-06-03T09:00:00"), _action("XD01-S2", "2025-06-03T10:00:00"),
        _action("XD01-S2", "2025-06-03T11:00:00", actor="CS9901"),
        _action("XD01-S2", "2025-06-03T12:00:00", actor="CS9901", outcome="refused"),
        _action("XD01-S2", "2025-06-03T13:00:00", outcome="no_answer"),
        _action("XD01-S3", "2025-06-04T09:00:00"), _action("XD01-S3", "2025-06-04T10:00:00"),
        _action("XD01-S3", "2025-06-04T11:00:00", actor="CS9901"),
        _action("XD01-S4", "2025-06-05T22:30:00"), _action("XD01-S4", "2025-06-06T07:59:00"),
        _action("XD01-S4", "2025-06-07T08:00:00", outcome="no_answer"),
        _action("XD01-S5", "2025-06-08T10:00:00", party="other"),
        _action("XD01-S1", "2025-06-09T10:00:00", party="guarantor"),
        _action("XD01-A1", "2025-06-10T10:00:00", outcome="promise_to_pay", promise=(date(2025, 6, 26), 800)),
        _action("XD01-S4", "2025-06-11T10:00:00", outcome="promise_to_pay", promise=(date(2025, 6, 15), 800)),
        # S6: first contacted in March, cured by the April report
        _action("XD01-S6", "2025-03-20T10:00:00", channel="sms"),
    ],
    # WD02 and DB03 in June: one sms each, the quiet lenders that set the industry median
    "WD02": [_action("WD02-B1", "2025-06-10T10:00:00", channel="sms")],
    "DB03": [_action("DB03-D2", "2025-06-10T10:00:00", channel="sms")],
}


def _insert_loans(cur: psycopg.Connection | psycopg.Cursor, submission_id: int, lender: str, as_of: date,
                  loans: list[Loan]) -> None:
    """The raw.loans rows of `loans` in submission `submission_id`."""
    for line, loan in enumerate(loans, start=2):
        cur.execute(
            "insert into raw.loans (submission_id, line, lender_code, as_of_date, loan_id, borrower_type, id_type,"
            " borrower_key, name_hash, region_code, product_type, guarantee_type, principal, currency, annual_rate,"
            " issue_date, maturity_date, repayment_method, installments, consent_ref) values (%s, %s, %s, %s, %s,"
            " 'individual', 'RESIDENT_ID', %s, %s, '110105', 'consumer_loan', 'credit', 10000, 'CNY', 0.18, %s, %s,"
            " 'equal_installment', 12, 'AUTH')",
            (submission_id, line, lender, as_of, loan.loan_id, key(loan.borrower), key("n" + loan.borrower),
             loan.issue, loan.issue + timedelta(days=720)))


def _insert_statuses(cur: psycopg.Connection | psycopg.Cursor, submission_id: int, lender: str, month: int,
                     cases: list[tuple[Loan, Plan]]) -> None:
    """The raw.loan_status rows of MONTHS[month] for `cases` in submission `submission_id`."""
    cur.execute("select raw.ensure_loan_status_partition(%s)", (MONTHS[month],))  # as the ingest would
    rows = [r for loan, plan in cases if (r := _status_row(loan, month, plan)) is not None]
    for line, r in enumerate(rows, start=2):
        cur.execute(f"insert into raw.loan_status (submission_id, line, lender_code, {', '.join(r)})"
                    f" values (%s, %s, %s, {', '.join(['%s'] * len(r))})", (submission_id, line, lender, *r.values()))


def load(conn: psycopg.Connection, months: range = range(len(MONTHS))) -> None:
    """The crafted lenders, loans, monthly statuses and collection actions (also used by
    tests/test_alert_publication.py); with `months`, those months' files only (the lenders go in
    with month 0, the collection actions with June)."""
    with conn.transaction():
        cur = conn.cursor()
        if 0 in months:
            cur.executemany("insert into control.lenders (lender_code, name, category) values (%s, %s, %s)", LENDERS)
        sid = cur.execute("select coalesce(max(submission_id), 0) from control.submissions").fetchone()[0]

        def submission(lender: str, kind: str, as_of: date) -> int:
            nonlocal sid
            sid += 1
            cur.execute(
                "insert into control.submissions (submission_id, lender_code, kind, as_of_date, seq, file_name,"
                " sha256, size_bytes, arrival_key, received_at, processed_at, verdict) values"
                " (%s, %s, %s, %s, 1, %s, %s, 100, %s, %s, %s, 'accepted')",
                (sid, lender, kind, as_of, f"{lender}_{kind}_{as_of:%Y%m%d}.csv", key(str(sid)), f"a{sid}",
                 datetime(as_of.year, as_of.month, as_of.day, tzinfo=SHANGHAI) + timedelta(days=3),
                 datetime(as_of.year, as_of.month, as_of.day, tzinfo=SHANGHAI) + timedelta(days=3)))
            return sid

        for lender in CODES:
            for m, as_of in enumerate(MONTHS):
                if m not in months:
                    continue
                new = [loan for loan, _ in CASES if loan.lender == lender
                       and (loan.issue <= as_of if m == 0 else MONTHS[m - 1] < loan.issue <= as_of)]
                if new:
                    _insert_loans(cur, submission(lender, "loans", as_of), lender, as_of, new)
                _insert_statuses(cur, submission(lender, "loan_status", as_of), lender, m,
                                 [case for case in CASES if case[0].lender == lender])
            actions = ACTIONS.get(lender)
            if actions and MONTHS.index(JUNE) in months:
                s = submission(lender, "collection_actions", JUNE)
                for line, a in enumerate(actions, start=2):
                    cols = list(a)
                    cur.execute(
                        f"insert into raw.collection_actions (submission_id, line, lender_code, as_of_date,"
                        f" {', '.join(cols)}) values (%s, %s, %s, %s, {', '.join(['%s'] * len(cols))})",
                        (s, line, lender, JUNE, *a.values()))


SELECTION = ("--select", "+mart_lender_alerts+", "+mart_segment_cure_rates+", "+mart_conduct_findings+",
             "+mart_collection_conduct+")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("dbt_collection")
    with fresh_database("collection") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            load(conn)
        dbt(url, work_dir, "build", *SELECTION, "--indirect-selection", "cautious")
        yield url


def build_then_add_the_last_month(conn: psycopg.Connection, url: str, work_dir: Path) -> None:
    """Every month but the last built by a full run, then the last one added by an incremental run."""
    load(conn, months=range(len(MONTHS) - 1))
    dbt(url, work_dir, "seed")
    dbt(url, work_dir, "run", *SELECTION)
    load(conn, months=range(len(MONTHS) - 1, len(MONTHS)))
    dbt(url, work_dir, "run", *SELECTION)


def test_incremental_month_equals_a_full_build(tmp_path_factory):
    """Built on January-May, then June added by an incremental run: the tables equal a full
    refresh (June makes March's delinquencies evaluable, carries D2's default episode on)."""
    work_dir = tmp_path_factory.mktemp("dbt_collection_incremental")
    with fresh_database("collection_incremental") as url, psycopg.connect(url, autocommit=True) as conn:
        build_then_add_the_last_month(conn, url, work_dir)
        tables = model_tables(conn)
        assert {"intermediate.int_default_episodes", "intermediate.int_delinquency_segments",
                "marts.mart_segment_cure_rates", "intermediate.int_alert_events"} <= set(tables)
        snapshots = copy_tables(conn, tables, "incremental_snapshot")
        dbt(url, work_dir, "run", "--full-refresh", *SELECTION)
        differ = {table: rows_differing(conn, table, snapshot) for table, snapshot in snapshots.items()}
        assert not any(differ.values()), f"full refresh against incremental: {differ}"
        cured_in_march = conn.execute("select is_evaluable, is_cured from intermediate.int_delinquency_segments"
                                      " where loan_id = 'XD01-S6'").fetchall()
        assert cured_in_march == [(True, True)]


def test_a_monthly_collection_test_reads_its_lenders_months_through_the_index(tmp_path_factory):
    """Under the monthly scope the tests of a model with a (lender_code, month) index keep the
    months its run rebuilt with the lenders and the first month written out: a bound on the month
    alone cannot use that index, and the collection models' tests scanned their whole tables every
    month (515k blocks for int_collection_actions at a million loans x 24 months)."""
    work_dir = tmp_path_factory.mktemp("dbt_collection_test_scope")
    with fresh_database("collection_test_scope") as url, psycopg.connect(url, autocommit=True) as conn:
        build_then_add_the_last_month(conn, url, work_dir)
        dbt(url, work_dir, "test", "--select", "int_collection_actions,test_name:not_null_columns",
            "--exclude-resource-type", "unit_test", "--vars", "{tests_scope: rebuilt}")
        compiled = sorted((work_dir / "target" / "run").rglob("not_null_columns_int_collectio*.sql"))
        assert compiled
        sql = compiled[0].read_text()
        first_month = conn.execute("select first_month from exchange_state.test_scope"
                                   " where model = 'int_collection_actions'").fetchone()[0]
        lenders = ", ".join(f"'{code}'" for code in sorted(CODES))
        assert f"where lender_code in ({lenders}) and action_month >= date '{first_month}'" in sql, sql


def _submit(conn: psycopg.Connection, lender: str, kind: str, as_of: date) -> int:
    """A loaded file of `kind` dated `as_of`, as the ingest records it; its submission id."""
    sid = conn.execute("select coalesce(max(submission_id), 0) + 1 from control.submissions").fetchone()[0]
    arrived = datetime(as_of.year, as_of.month, as_of.day, tzinfo=SHANGHAI) + timedelta(days=3, seconds=sid)
    conn.execute(
        "insert into control.submissions (submission_id, lender_code, kind, as_of_date, seq, file_name, sha256,"
        " size_bytes, arrival_key, received_at, processed_at, verdict) values"
        " (%s, %s, %s, %s, %s, %s, %s, 100, %s, %s, %s, 'accepted')",
        (sid, lender, kind, as_of, sid, f"{lender}_{kind}_{as_of:%Y%m%d}_{sid}.csv", key(f"s{sid}"), f"a{sid}",
         arrived, arrived))
    return sid


def _collection_file(conn: psycopg.Connection, lender: str, as_of: date, actions: list[dict],
                     replaces: int | None = None) -> int:
    """A collection file (a correction of submission `replaces`, if given) with `actions`."""
    sid = _submit(conn, lender, "collection_actions", as_of)
    for line, a in enumerate(actions, start=2):
        conn.execute(
            f"insert into raw.collection_actions (submission_id, line, lender_code, as_of_date, {', '.join(a)})"
            f" values (%s, %s, %s, %s, {', '.join(['%s'] * len(a))})", (sid, line, lender, as_of, *a.values()))
    if replaces:
        conn.execute("update control.submissions set superseded_by = %s where submission_id = %s", (sid, replaces))
    return sid


def _increment_equals_full_refresh(conn: psycopg.Connection, work_dir, step: str) -> dict[str, date]:
    """An incremental run of the collection models, then a full refresh: the same rows. Returns
    the first action month the incremental run of int_collection_actions rebuilt, per lender."""
    seen = conn.execute("select coalesce(max(seq), 0) from exchange_state.rebuild_log").fetchone()[0]
    dbt(work_dir.url, work_dir.path, "run", "--select", "+mart_collection_conduct+")
    rebuilt = dict(conn.execute("select lender_code, rebuild_month from exchange_state.rebuild_log"
                                " where model = 'int_collection_actions' and seq > %s", (seen,)).fetchall())
    tables = ["intermediate.int_collection_actions", "intermediate.int_collection_debtor_days",
              "intermediate.int_collection_first_contacts", "intermediate.int_collection_promises",
              "marts.mart_collection_conduct", "marts.mart_conduct_findings"]
    snapshots = copy_tables(conn, tables, "incremental_snapshot")
    dbt(work_dir.url, work_dir.path, "run", "--full-refresh", "--select", "+mart_collection_conduct+")
    differ = {table: rows_differing(conn, table, snapshot) for table, snapshot in snapshots.items()}
    assert not any(differ.values()), f"{step}, full refresh against incremental: {differ}"
    return rebuilt


@dataclass
class _Work:
    url: str
    path: object


def test_collection_models_rebuild_only_what_changed_and_equal_a_full_build(tmp_path_factory):
    """Collection files over the months, promises made in January and April and due in June, a corrected May file
    and a loan whose borrower key changed (with an action older than its first report), then new
    collection parameters: after each incremental run the collection tables equal
    a full refresh, and each run rebuilt the months that changed, not the earlier ones."""
    work = _Work("", tmp_path_factory.mktemp("dbt_collection_months"))
    with fresh_database("collection_months") as url, psycopg.connect(url, autocommit=True) as conn:
        work.url = url
        load(conn, months=range(4))                                   # January-April, no collection yet
        # a promise made in January and due in June: a run from May reads it back from the table;
        # a call on XD01-S2 in December, before the loan's first report
        _collection_file(conn, "XD01", MONTHS[0], [
            _action("XD01-A5", "2025-01-15T10:00:00", outcome="promise_to_pay", promise=(date(2025, 6, 20), 100)),
            _action("XD01-S2", "2024-12-20T10:00:00")])
        _collection_file(conn, "XD01", MONTHS[2], [_action("XD01-S6", "2025-03-20T10:00:00", channel="sms")])
        _collection_file(conn, "XD01", MONTHS[3], [
            _action("XD01-S4", "2025-04-12T10:00:00", outcome="promise_to_pay", promise=(date(2025, 6, 20), 300)),
            _action("XD01-S4", "2025-04-30T23:30:00")])             # at night, in April (local time)
        dbt(url, work.path, "seed")
        dbt(url, work.path, "run", "--select", "+mart_collection_conduct+")
        load(conn, months=range(4, 5))                                # May
        may = _collection_file(conn, "XD01", MONTHS[4], [
            _action("XD01-S4", "2025-05-02T09:00:00"), _action("XD01-S4", "2025-05-02T10:00:00"),
            _action("XD01-S4", "2025-05-02T11:00:00"), _action("XD01-S4", "2025-05-02T12:00:00"),
            _action("XD01-S2", "2025-05-20T10:00:00", outcome="promise_to_pay", promise=(date(2025, 6, 5), 200))])
        # the actions of May's new file, not the months before; the new status month of every
        # lender reaches first contacts, promises and the conduct mart through the history's log
        assert _increment_equals_full_refresh(conn, work, "May") == {"XD01": date(2025, 5, 1)}
        load(conn, months=range(5, 6))                                # June, with its collection files
        # June's file of XD01 holds an action of March (S6's, again): XD01 from March
        assert _increment_equals_full_refresh(conn, work, "June") == {
            "XD01": date(2025, 3, 1), "WD02": date(2025, 6, 1), "DB03": date(2025, 6, 1)}
        # a correction of May's file: the four calls on May 2nd become two; and XD01-S2's borrower
        # key changes (a later loans row for the loan)
        _collection_file(conn, "XD01", MONTHS[4], [
            _action("XD01-S4", "2025-05-02T09:00:00"), _action("XD01-S4", "2025-05-02T10:00:00"),
            _action("XD01-S2", "2025-05-20T10:00:00", outcome="promise_to_pay", promise=(date(2025, 6, 5), 200))],
            replaces=may)
        loans = _submit(conn, "XD01", "loans", JUNE)
        conn.execute(
            "insert into raw.loans (submission_id, line, lender_code, as_of_date, loan_id, borrower_type, id_type,"
            " borrower_key, name_hash, region_code, product_type, guarantee_type, principal, currency, annual_rate,"
            " issue_date, maturity_date, repayment_method, installments, consent_ref)"
            " select %s, 2, lender_code, %s, loan_id, borrower_type, id_type, %s, name_hash, region_code,"
            " product_type, guarantee_type, principal, currency, annual_rate, issue_date, maturity_date,"
            " repayment_method, installments, consent_ref from raw.loans where loan_id = 'XD01-S2'",
            (loans, JUNE, key("P9")))
        # the key change rebuilds XD01 from the loan's first action (December), before its first report
        assert _increment_equals_full_refresh(conn, work, "correction") == {"XD01": date(2024, 12, 1)}
        over_limit = conn.execute("select count(*) from intermediate.int_collection_debtor_days"
                                  " where lender_code = 'XD01' and action_month = '2025-05-01'"
                                  " and is_over_call_limit").fetchone()[0]
        assert over_limit == 0
        keys = conn.execute("select distinct borrower_key from intermediate.int_collection_actions"
                            " where loan_id = 'XD01-S2'").fetchall()
        assert keys == [(key("P9"),)]
        # new collection parameters (the seed's table changed): every lender's every month
        conn.execute("update rules.rule_collection_parameters set value = case parameter"
                     " when 'night_start_hour' then 21 when 'max_connected_calls_per_day' then 1 end"
                     " where parameter in ('night_start_hour', 'max_connected_calls_per_day')")
        assert _increment_equals_full_refresh(conn, work, "parameters") == dict.fromkeys(CODES, date(1, 1, 1))



def _join(conn: psycopg.Connection, lender: str, name: str, category: str, as_of: date, loans: list[Loan]) -> None:
    """A lender registered (as `load` registers its lenders) with a loans file dated `as_of`."""
    conn.execute("insert into control.lenders (lender_code, name, category) values (%s, %s, %s)",
                 (lender, name, category))
    _insert_loans(conn, _submit(conn, lender, "loans", as_of), lender, as_of, loans)


def _status_file(conn: psycopg.Connection, lender: str, month: int, cases: list[tuple[Loan, Plan]]) -> None:
    """The status file of MONTHS[month] of `lender`, with the rows of `cases`."""
    _insert_statuses(conn, _submit(conn, lender, "loan_status", MONTHS[month]), lender, month, cases)


def test_collection_files_before_a_lenders_first_status_file_are_built_as_a_full_build_would(tmp_path_factory):
    """Two lenders join with a loans file and collection files but no status file yet: their
    actions are built (the loans are known) while their first contacts and promises wait for a
    reporting date. Then their first status files arrive, XD04's from the month of its actions,
    WD05's only in May, more than a cure window (62 days) after its January actions. Those first
    contacts and promises, of months the status history does not rebuild, are evaluated then as a
    full build evaluates them: nothing else marks them for a rebuild, as no collection file changed.
    After each incremental run the collection tables equal a full refresh."""
    work = _Work("", tmp_path_factory.mktemp("dbt_collection_before_status"))
    with fresh_database("collection_before_status") as url, psycopg.connect(url, autocommit=True) as conn:
        work.url = url
        load(conn, months=range(4))                                   # January-April
        dbt(url, work.path, "seed")
        dbt(url, work.path, "run", "--select", "+mart_collection_conduct+")
        delta = [(Loan("XD04", "E1", "R1"), {0: 25}),                # delinquent in January, cured by February
                 (Loan("XD04", "E2", "R2"), {}),                     # pays on January 26th
                 (Loan("XD04", "E3", "R3"), {})]
        epsilon = [(Loan("WD05", "F1", "R4"), {}), (Loan("WD05", "F2", "R5"), {})]
        _join(conn, "XD04", "Delta Microloan", "microloan_company", MONTHS[0], [loan for loan, _ in delta])
        _join(conn, "WD05", "Epsilon Online", "online_microloan_company", MONTHS[0], [loan for loan, _ in epsilon])
        # XD04's February file holds January's actions too; WD05's January file
        _collection_file(conn, "XD04", MONTHS[1], [
            _action("XD04-E1", "2025-01-10T10:00:00", channel="sms"),
            _action("XD04-E2", "2025-01-20T10:00:00", outcome="promise_to_pay", promise=(date(2025, 2, 15), 500)),
            _action("XD04-E1", "2025-02-05T10:00:00"),                # within the cure window: no new episode
            _action("XD04-E3", "2025-02-20T23:00:00", outcome="no_answer")])
        _collection_file(conn, "WD05", MONTHS[0], [
            _action("WD05-F1", "2025-01-12T10:00:00", channel="sms"),
            _action("WD05-F2", "2025-01-22T10:00:00", outcome="promise_to_pay", promise=(date(2025, 2, 14), 300))])
        # no status file: the status history rebuilds nothing, the collection files rebuild from
        # their first action month
        assert _increment_equals_full_refresh(conn, work, "collection files") == {
            "XD04": date(2025, 1, 1), "WD05": date(2025, 1, 1)}
        actions = conn.execute("select loan_id, borrower_key, action_date, is_night from"
                               " intermediate.int_collection_actions where lender_code in ('XD04', 'WD05')"
                               " order by loan_id, action_date").fetchall()
        assert actions == [
            ("WD05-F1", key("R4"), date(2025, 1, 12), False), ("WD05-F2", key("R5"), date(2025, 1, 22), False),
            ("XD04-E1", key("R1"), date(2025, 1, 10), False), ("XD04-E1", key("R1"), date(2025, 2, 5), False),
            ("XD04-E2", key("R2"), date(2025, 1, 20), False), ("XD04-E3", key("R3"), date(2025, 2, 20), True)]
        # without a reporting date nothing can be judged yet: no first contact, no promise
        for table in ("int_collection_first_contacts", "int_collection_promises"):
            assert conn.execute(f"select count(*) from intermediate.{table}"
                                " where lender_code in ('XD04', 'WD05')").fetchone()[0] == 0, table
        # their first status files: XD04's January-April, WD05's May, with May of the others
        for month in range(4):
            _status_file(conn, "XD04", month, delta)
        load(conn, months=range(4, 5))
        _status_file(conn, "WD05", 4, epsilon)
        # no collection file changed: the actions rebuild nothing; the status months reach first
        # contacts, promises and the conduct mart through the status history's log
        assert _increment_equals_full_refresh(conn, work, "first status files") == {}
        contacts = conn.execute("select loan_id, first_contact_date, is_evaluable, is_cured"
                                " from intermediate.int_collection_first_contacts"
                                " where lender_code in ('XD04', 'WD05') order by loan_id").fetchall()
        assert contacts == [("WD05-F1", date(2025, 1, 12), True, False), ("WD05-F2", date(2025, 1, 22), True, False),
                            ("XD04-E1", date(2025, 1, 10), True, True), ("XD04-E2", date(2025, 1, 20), True, True),
                            ("XD04-E3", date(2025, 2, 20), True, True)]
        promises = conn.execute("select loan_id, action_date, is_due, is_kept from intermediate.int_collection_promises"
                                " where lender_code in ('XD04', 'WD05') order by loan_id").fetchall()
        assert promises == [("WD05-F2", date(2025, 1, 22), True, False), ("XD04-E2", date(2025, 1, 20), True, True)]
        conduct = conn.execute("select lender_code, report_month, first_contacts, promises_due, promises_kept"
                               " from marts.mart_collection_conduct where lender_code in ('XD04', 'WD05')"
                               " order by lender_code, report_month").fetchall()
        assert conduct == [("WD05", date(2025, 1, 1), 2, 0, 0),
                           ("XD04", date(2025, 1, 1), 2, 0, 0), ("XD04", date(2025, 2, 1), 1, 1, 1)]


def _rows(url: str, sql: str) -> list[dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql).fetchall()


def _alerts(url: str) -> dict[tuple[str, str, str], dict]:
    return {(r["lender_code"], r["loan_id"], r["alert_type"]): r
            for r in _rows(url, "select * from marts.mart_lender_alerts")}


def test_a_full_build_writes_the_collection_days_in_month_order(built):
    # a month's rows sit together on disk, so a monthly read touches a month's pages
    # (macros/incremental.sql, month_order)
    with psycopg.connect(built) as conn:
        rows, out_of_order = rows_out_of_month_order(conn, "intermediate.int_collection_debtor_days", "action_month")
    assert rows > 0 and out_of_order == 0


def test_dpd_30_plus_elsewhere(built):
    alerts = _alerts(built)
    a = alerts["XD01", "XD01-A1", "dpd_30_plus_elsewhere"]
    assert (a["first_seen_date"], a["max_dpd_elsewhere"], a["other_lender_count"]) == (JUNE, 45, 1)
    assert a["other_lender_categories"] == "member"  # WD02 is the only online microloan company: 会员机构
    assert a["borrower_key"] == key("P1")
    assert not [k for k in alerts if k[0] == "WD02" and k[1] == "WD02-B1"], "B1's own lender is not alerted"


def test_default_and_blacklist_elsewhere(built):
    alerts = _alerts(built)
    assert alerts["XD01", "XD01-A2", "default_elsewhere"]["first_seen_date"] == date(2025, 4, 30)
    b = alerts["XD01", "XD01-A2", "blacklisted_elsewhere"]
    assert (b["reason_codes"], b["first_seen_date"]) == ("B1", date(2025, 4, 30))
    assert alerts["XD01", "XD01-A2", "dpd_30_plus_elsewhere"]["max_dpd_elsewhere"] == 156
    b4 = alerts["XD01", "XD01-A4", "blacklisted_elsewhere"]
    assert (b4["reason_codes"], b4["other_lender_count"], b4["first_seen_date"]) == ("B4", 2, JUNE)
    assert b4["other_lender_categories"] == "member"  # each of DB03, WD02 alone in its category
    # WD02's own defaulted loan B4: the default at DB03 alone is one other lender, no B4 for WD02
    assert ("WD02", "WD02-B4", "blacklisted_elsewhere") not in alerts


def test_multi_lender_surge_needs_two_other_lenders(built):
    alerts = _alerts(built)
    s = alerts["XD01", "XD01-A5", "multi_lender_surge"]
    assert (s["other_lender_count"], s["first_seen_date"]) == (2, JUNE)
    assert not [k for k in alerts if k[1] == "XD01-A6"]


def test_no_alert_for_a_borrower_delinquent_here(built):
    assert not [k for k in _alerts(built) if k[1] == "XD01-A7"]


def test_an_alert_never_reveals_the_other_lender(built):
    rows = _rows(built, "select * from marts.mart_lender_alerts")
    assert len(rows) >= 6
    for row in rows:
        others = [c for c in CODES if c != row["lender_code"]]
        for column, value in row.items():
            if column == "lender_code" or value is None:
                continue
            assert not [c for c in others if c in str(value)], (column, value)
            assert "Beta" not in str(value) and "Gamma" not in str(value) and "Alpha" not in str(value)


def test_segment_boundaries(built):
    seg = {r["loan_id"]: r for r in _rows(
        built, "select * from intermediate.int_delinquency_segments where report_month = '2025-06-01'")}
    assert seg["XD01-S1"]["segment_code"] == "paying_elsewhere"
    assert seg["XD01-S2"]["segment_code"] == "delinquent_everywhere"
    assert seg["XD01-S3"]["segment_code"] == "new_delinquency"          # DPD 30
    assert seg["XD01-S4"]["segment_code"] == "persistent_delinquency"   # DPD 31
    assert (seg["XD01-S5"]["segment_code"], seg["XD01-S5"]["prior_defaults"]) == ("repeat_defaulter", 1)
    march = _rows(built, "select * from intermediate.int_delinquency_segments where loan_id = 'XD01-S6'")
    assert [(r["report_month"], r["segment_code"], r["is_evaluable"], r["is_cured"]) for r in march] == [
        (date(2025, 3, 1), "new_delinquency", True, True)]
    rates = {(r["lender_code"], r["report_month"], r["segment_code"]): r for r in _rows(
        built, "select * from marts.mart_segment_cure_rates")}
    assert rates["XD01", date(2025, 3, 1), "new_delinquency"]["cure_rate"] == 1
    assert rates["XD01", date(2025, 6, 1), "paying_elsewhere"]["evaluable_loans"] == 0


def test_conduct_metrics(built):
    c = {r["lender_code"]: r for r in _rows(
        built, "select * from marts.mart_collection_conduct where report_month = '2025-06-01'")}["XD01"]
    assert c["actions"] == 15 and c["agency_actions"] == 3
    assert c["night_actions"] == 2                                   # 22:30 and 07:59, not 08:00
    assert (c["debtor_days_over_call_limit"], c["debtors_over_call_limit"]) == (1, 1)  # 4 connected, not 3
    assert c["third_party_actions"] == 1                            # 'other'; the guarantor is allowed
    assert c["promises_due"] == 2 and c["promises_kept"] == 1       # A1's payment dated June 25th keeps it
    march = _rows(built, "select * from marts.mart_collection_conduct where lender_code = 'XD01'"
                         " and report_month = '2025-03-01'")[0]
    assert (march["first_contacts"], march["cured_after_first_contact"]) == (1, 1)


def test_each_conduct_finding_rests_on_its_rule(built):
    findings = {(r["lender_code"], r["rule_code"]): r for r in _rows(
        built, "select * from marts.mart_conduct_findings where report_month = '2025-06-01'")}
    assert findings["XD01", "CF1_NIGHT_CONTACT"]["metric_value"] == 2
    assert findings["XD01", "CF2_CALL_LIMIT"]["affected_count"] == 1
    assert findings["XD01", "CF3_THIRD_PARTY"]["metric_value"] == Decimal("0.066667")
    assert "CF4_CONTACT_FREQUENCY" in {r for _, r in findings}
    assert all(f["source"] and f["threshold"] is not None for f in findings.values())
    assert not [k for k in findings if k[0] != "XD01"]


