"""raw.loan_status partitioned by reporting month (migration 0014) against a real PostgreSQL.

The module's database is first left as migration 0013 left it, with rows of two lenders over
three months and two views reading the table (as dbt's staging view and a view on it would),
then migrated: the rows, views and grants must come across. Row-level security is then attacked
the way STACK_NOTES 14 found it open: by selecting a partition directly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date

import psycopg
import pytest
from builders import csv_text, land, loan_row, status_row
from databases import fresh_database
from test_roles import as_role, denied

from exchange.core import db
from exchange.feed import retention
from exchange.intake import lenders
from exchange.intake.ingest import ingest_path

ROWS = {("AA01", date(2025, 1, 31)): 3, ("BB02", date(2025, 1, 31)): 5, ("AA01", date(2025, 2, 28)): 4,
        ("BB02", date(2025, 3, 31)): 2}
MONTHS = {"loan_status_202501": 8, "loan_status_202502": 4, "loan_status_202503": 2}


def _old_rows(conn: psycopg.Connection) -> None:
    """Accepted status files as an existing database holds them before 0014."""
    for sid, ((code, as_of), n) in enumerate(ROWS.items(), start=1):
        conn.execute(
            "insert into control.submissions (submission_id, lender_code, kind, as_of_date, seq, file_name, sha256,"
            " size_bytes, arrival_key, verdict, rows_total, rows_accepted) values"
            " (%s, %s, 'loan_status', %s, 1, %s, %s, 100, %s, 'accepted', %s, %s)",
            (sid, code, as_of, f"{code}_loan_status_{as_of:%Y%m%d}.csv", f"{sid:064x}", f"arrival-{sid}", n, n))
        conn.execute(
            "insert into raw.loan_status (submission_id, line, lender_code, as_of_date, loan_id, account_status,"
            " outstanding_principal, overdue_principal, overdue_interest, legal_status, fraud_flag)"
            " select %s, g + 1, %s, %s, 'L' || g, 'normal', 1000, 0, 0, 'none', false from generate_series(1, %s) g",
            (sid, code, as_of, n))


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with fresh_database("partitions", through=13) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            for code in ("AA01", "BB02"):
                lenders.add(conn, code, f"测试机构{code}", "microloan_company")
            _old_rows(conn)
            conn.execute("create view staging.probe_status as select lender_code, as_of_date, loan_id"
                         " from raw.loan_status")
            conn.execute("comment on view staging.probe_status is 'a view dbt would have made'")
            conn.execute("grant select on staging.probe_status to association")
            conn.execute("create view marts.probe_months as select lender_code, count(*) as n"
                         " from staging.probe_status group by lender_code")
            assert db.migrate(conn, through=14) == [14]
            db.migrate(conn)  # and the migrations after it
        yield url


def _partitions(conn: psycopg.Connection) -> dict[str, int]:
    names = [r[0] for r in conn.execute(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid"
        " where i.inhparent = 'raw.loan_status'::regclass order by 1")]
    return {name: conn.execute(f"select count(*) from raw.{name}").fetchone()[0] for name in names}


# ---- the migration on an existing database ---------------------------------------------------------


def test_existing_rows_move_into_one_partition_per_month(url):
    with psycopg.connect(url) as conn:
        assert conn.execute("select relkind from pg_class where oid = 'raw.loan_status'::regclass").fetchone() == ("p",)
        assert _partitions(conn) == MONTHS
        assert conn.execute("select lender_code, as_of_date, count(*) from raw.loan_status group by 1, 2"
                            " order by 2, 1").fetchall() == sorted(
            [(code, as_of, n) for (code, as_of), n in ROWS.items()], key=lambda r: (r[1], r[0]))
        assert conn.execute("select to_regclass('raw.loan_status_unpartitioned')").fetchone() == (None,)
        # columns, checks and comments as before
        assert conn.execute("select col_description('raw.loan_status'::regclass, attnum) from pg_attribute"
                            " where attrelid = 'raw.loan_status'::regclass and attname = 'line'").fetchone()[0]
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("update raw.loan_status set lender_risk_class = 9 where lender_code = 'AA01'")


def test_views_reading_the_table_are_recreated_with_their_grants_and_comments(url):
    with psycopg.connect(url) as conn:
        assert conn.execute("select lender_code, n from marts.probe_months order by 1").fetchall() == [
            ("AA01", 7), ("BB02", 7)]
        # the view reads the new partitioned table, not a leftover
        assert conn.execute(
            "select count(*) from pg_depend d join pg_rewrite r on r.oid = d.objid"
            " where r.ev_class = 'staging.probe_status'::regclass and d.refobjid = 'raw.loan_status'::regclass"
        ).fetchone()[0] > 0
        assert conn.execute("select has_table_privilege('association', 'staging.probe_status', 'select'),"
                            " obj_description('staging.probe_status'::regclass, 'pg_class')").fetchone() == (
            True, "a view dbt would have made")


def test_every_partition_has_the_submission_index_and_the_parents_policies(url):
    with psycopg.connect(url) as conn:
        parent = conn.execute("select policyname, permissive, roles, cmd, qual from pg_policies"
                              " where schemaname = 'raw' and tablename = 'loan_status' order by 1").fetchall()
        assert {p[0] for p in parent} == {"lender_own", "staff_all"}
        for name in MONTHS:
            assert conn.execute("select policyname, permissive, roles, cmd, qual from pg_policies"
                                " where schemaname = 'raw' and tablename = %s order by 1", (name,)).fetchall() == parent
            assert conn.execute("select relrowsecurity from pg_class where oid = %s::regclass",
                                (f"raw.{name}",)).fetchone() == (True,)
            assert conn.execute("select count(*) from pg_indexes where schemaname = 'raw' and tablename = %s"
                                " and indexdef like '%%USING brin (submission_id)%%'", (name,)).fetchone() == (1,)


# ---- row-level security on a partition queried directly ---------------------------------------------


def test_a_lender_is_refused_a_partition_and_sees_its_own_rows_through_the_parent(url):
    with as_role(url, "lender_aa01") as conn:
        assert denied(conn, "select count(*) from raw.loan_status_202501")
        assert conn.execute("select lender_code, count(*) from raw.loan_status group by 1").fetchall() == [
            ("AA01", 7)]
    with as_role(url, "exchange_admin") as conn:  # staff read the parent too, never a partition
        assert denied(conn, "select count(*) from raw.loan_status_202501")
        assert conn.execute("select count(*) from raw.loan_status").fetchone() == (14,)


def test_a_partition_granted_by_mistake_still_shows_a_lender_its_own_rows_only(url):
    with psycopg.connect(url, autocommit=True) as owner:
        owner.execute("grant select on raw.loan_status_202501 to member_lender")
        try:
            with as_role(url, "lender_aa01") as conn:
                assert conn.execute("select lender_code, count(*) from raw.loan_status_202501 group by 1"
                                    ).fetchall() == [("AA01", 3)]
            with as_role(url, "lender_bb02") as conn:
                assert conn.execute("select lender_code, count(*) from raw.loan_status_202501 group by 1"
                                    ).fetchall() == [("BB02", 5)]
        finally:
            owner.execute("revoke select on raw.loan_status_202501 from member_lender")


# ---- partitions on demand ---------------------------------------------------------------------------------


def test_ensure_is_idempotent_and_names_the_month(url):
    with psycopg.connect(url, autocommit=True) as conn:
        first = conn.execute("select raw.ensure_loan_status_partition('2025-04-01')::text").fetchone()[0]
        again = conn.execute("select raw.ensure_loan_status_partition('2025-04-30')::text").fetchone()[0]
        assert first == again == "raw.loan_status_202504"
        assert "loan_status_202504" in _partitions(conn)


def test_two_sessions_making_the_same_month_at_once_get_one_partition(url):
    """The second waits for the first's commit, then finds the partition instead of failing on it."""
    seen: dict[str, object] = {}

    def second() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            try:
                seen["second"] = conn.execute("select raw.ensure_loan_status_partition('2025-05-20')::text").fetchone()[0]
            except psycopg.Error as exc:
                seen["second"] = exc

    with psycopg.connect(url) as first:
        seen["first"] = first.execute("select raw.ensure_loan_status_partition('2025-05-01')::text").fetchone()[0]
        worker = threading.Thread(target=second)
        worker.start()
        time.sleep(0.5)
        assert worker.is_alive()  # waiting on the first session's lock
        first.commit()
    worker.join(10)
    assert seen == {"first": "raw.loan_status_202505", "second": "raw.loan_status_202505"}


def test_a_row_of_a_month_without_its_partition_is_refused_loudly(url):
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.CheckViolation, match="no partition"):
        conn.execute("insert into raw.loan_status (submission_id, line, lender_code, as_of_date, loan_id,"
                     " account_status, outstanding_principal, overdue_principal, overdue_interest, legal_status,"
                     " fraud_flag) values (1, 99, 'AA01', '2031-01-31', 'LX', 'normal', 1, 0, 0, 'none', false)")


def test_ensure_never_reattaches_a_month_retention_detached(url):
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select raw.ensure_loan_status_partition('2024-06-30')")
        conn.execute("alter table raw.loan_status detach partition raw.loan_status_202406")
        with pytest.raises(psycopg.errors.ObjectInUse, match="detached by retention"):
            conn.execute("select raw.ensure_loan_status_partition('2024-06-30')")
        conn.execute("drop table raw.loan_status_202406")
        assert conn.execute("select raw.ensure_loan_status_partition('2024-06-30')::text").fetchone() == (
            "raw.loan_status_202406",)


# ---- the ingest makes its month ----------------------------------------------------------------------------


def test_two_lenders_loading_a_new_month_at_once_share_its_new_partition(exchange_home, conn):
    """The session database: its month partitions are dropped first, so the month is new."""
    for name in _partitions(conn):
        conn.execute(f"drop table raw.{name}")
    paths = []
    for code, n in (("XD01", 30), ("XD02", 20)):
        lenders.add(conn, code, f"测试机构{code}", "microloan_company")
        ingest_path(land(exchange_home, code, f"{code}_loans_20250131.csv", csv_text([loan_row(i) for i in range(1, n + 1)])))
        paths.append(land(exchange_home, code, f"{code}_loan_status_20250228.csv",
                          csv_text([status_row(i, "2025-02-28") for i in range(1, n + 1)], "loan_status")))
    outcomes = {}
    workers = [threading.Thread(target=lambda p=p: outcomes.__setitem__(p.name, ingest_path(p))) for p in paths]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert {name: (o.verdict, o.rows_accepted) for name, o in outcomes.items()} == {
        "XD01_loan_status_20250228.csv": ("accepted", 30), "XD02_loan_status_20250228.csv": ("accepted", 20)}
    assert _partitions(conn) == {"loan_status_202502": 50}


def test_a_file_read_by_submission_skips_the_other_months_partitions(exchange_home, conn):
    """The ingest summarizes the BRIN ranges a load filled: an unsummarized range matches every
    submission, and reading one file's rows read every month's partition whole (1.9 GB at a
    million loans x 24 months for the ingest's coverage check of one file). A partition's first
    block range gets its summary when the partition's index is made; the test's files fill a few
    more (16 pages each)."""
    loans = 2_000
    lenders.add(conn, "BR01", "测试机构BR01", "microloan_company")
    ingest_path(land(exchange_home, "BR01", "BR01_loans_20190131.csv",
                     csv_text([loan_row(i, issue="2019-01-10") for i in range(1, loans + 1)])))
    for as_of in ("2019-03-31", "2019-04-30"):
        outcome = ingest_path(land(exchange_home, "BR01", f"BR01_loan_status_{as_of.replace('-', '')}.csv",
                                   csv_text([status_row(i, as_of, last_payment_date=as_of[:8] + "10")
                                             for i in range(1, loans + 1)], "loan_status")))
        assert outcome.verdict == "accepted", outcome
    march = conn.execute("select submission_id from control.submissions where lender_code = 'BR01'"
                         " and kind = 'loan_status' and as_of_date = date '2019-03-31'").fetchone()[0]
    with conn.transaction():
        conn.execute("set local enable_seqscan = off")  # the BRIN index, as at scale
        plan = conn.execute("explain (analyze, format json) select count(*) from raw.loan_status"
                            f" where submission_id = {int(march)}").fetchone()[0][0]["Plan"]

    def heap_blocks(node: dict, relation: str) -> int:
        own = (node.get("Exact Heap Blocks", 0) + node.get("Lossy Heap Blocks", 0)
               if node.get("Relation Name") == relation else 0)
        return own + sum(heap_blocks(child, relation) for child in node.get("Plans", []))

    assert heap_blocks(plan, "loan_status_201903") > 0
    assert heap_blocks(plan, "loan_status_201904") == 0


def test_the_ingest_analyzes_the_parent_once_its_partitions_grew_by_a_tenth(exchange_home, conn):
    """Autovacuum never analyzes a partitioned table itself, and a query on it is planned with its
    own statistics: without them a join of the status rows to the loans was estimated at a 200th
    of its rows (every column taken to have 200 values), and the history sorted on disk."""
    conn.execute("analyze raw.loan_status")  # exchange_home emptied it: from zero rows

    def parent() -> tuple[float, int]:
        return conn.execute(
            "select (select reltuples from pg_class where oid = 'raw.loan_status'::regclass),"
            " (select count(*) from pg_stats where schemaname = 'raw' and tablename = 'loan_status'"
            " and inherited and attname = 'lender_code' and n_distinct > 0)").fetchone()

    def load(code: str, loans: int, as_of: str) -> None:
        status = land(exchange_home, code, f"{code}_loan_status_{as_of.replace('-', '')}.csv",
                      csv_text([status_row(i, as_of) for i in range(1, loans + 1)], "loan_status"))
        assert ingest_path(status).verdict == "accepted"

    for code, loans in (("PA01", 1_000), ("PA02", 50)):
        lenders.add(conn, code, f"测试机构{code}", "microloan_company")
        ingest_path(land(exchange_home, code, f"{code}_loans_20241231.csv",
                         csv_text([loan_row(i, issue="2024-06-10") for i in range(1, loans + 1)])))
    load("PA01", 1_000, "2025-01-31")
    assert parent() == (1_000, 1)
    load("PA02", 50, "2025-01-31")  # 5% more: the statistics stand
    assert parent() == (1_000, 1)
    load("PA01", 1_000, "2025-02-28")
    assert parent() == (2_050, 1)


# ---- retention finishes a detach an earlier run left halfway ------------------------------------------


def test_retention_finishes_a_month_left_detached_or_detaching(url, tmp_path, monkeypatch):
    """Two states a stopped run leaves: detached and not dropped, and DETACH CONCURRENTLY cancelled
    while it waited for a reader (PostgreSQL then keeps the partition pending). No dbt models are
    needed to finish them, and the ensure function meanwhile refuses to bring either back."""
    monkeypatch.setenv("EXCHANGE_DB_URL", url)
    monkeypatch.setenv("EXCHANGE_HOME", str(tmp_path))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select raw.ensure_loan_status_partition('2019-01-31'), raw.ensure_loan_status_partition('2019-02-28')")
        conn.execute("alter table raw.loan_status detach partition raw.loan_status_201901")
        with psycopg.connect(url) as reader:
            reader.execute("select count(*) from raw.loan_status")  # holds the parent until it ends
            conn.execute("set statement_timeout = '1s'")
            with pytest.raises(psycopg.errors.QueryCanceled):
                conn.execute("alter table raw.loan_status detach partition raw.loan_status_201902 concurrently")
            conn.execute("reset statement_timeout")
        assert conn.execute("select inhdetachpending from pg_inherits where inhrelid = 'raw.loan_status_201902'::regclass"
                            ).fetchone() == (True,)
        with pytest.raises(psycopg.errors.ObjectInUse, match="detaching by retention"):
            conn.execute("select raw.ensure_loan_status_partition('2019-02-01')")
    plan = retention.purge(today=date(2026, 1, 1), actor="test")
    assert [(m.partition, m.state) for m in plan.dropped_months] == [
        ("loan_status_201901", "detached"), ("loan_status_201902", "detaching")]
    with psycopg.connect(url) as conn:
        assert conn.execute("select to_regclass('raw.loan_status_201901'), to_regclass('raw.loan_status_201902')"
                            ).fetchone() == (None, None)
        assert {k: v for k, v in _partitions(conn).items() if k in MONTHS} == MONTHS  # the young months stay
    assert retention.purge(today=date(2026, 1, 1), actor="test").empty
