"""Database roles and row-level security, tested by acting as each role (SET ROLE)."""

from __future__ import annotations

from contextlib import contextmanager

import psycopg
import pytest
from access_world import LISTED_KEY, build


@pytest.fixture
def world(pg_url):
    return build(pg_url)


@contextmanager
def as_role(url: str, role: str):
    with psycopg.connect(url) as conn:
        conn.execute(f"set role {role}")
        yield conn
        conn.rollback()


def denied(conn: psycopg.Connection, sql: str) -> bool:
    try:
        with conn.transaction():
            conn.execute(sql)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def test_roles_exist_and_each_lender_has_its_own(world, pg_url):
    with psycopg.connect(pg_url) as conn:
        roles = {r[0] for r in conn.execute("select rolname from pg_roles where not rolcanlogin")}
        members = {r[0] for r in conn.execute(
            "select m.rolname from pg_auth_members a join pg_roles g on g.oid = a.roleid"
            " join pg_roles m on m.oid = a.member where g.rolname = 'member_lender'")}
    assert {"exchange_admin", "association", "analyst", "member_lender"} <= roles
    assert {"lender_aa01", "lender_bb02", "lender_cc03"} <= members


def test_a_lender_reads_only_its_own_submissions_problems_and_raw_rows(world, pg_url):
    with as_role(pg_url, "lender_aa01") as conn:
        assert {r[0] for r in conn.execute("select lender_code from control.submissions")} == {"AA01"}
        assert [r[0] for r in conn.execute("select loan_id from control.row_problems")] == ["AA-L1"]
        assert {r[0] for r in conn.execute("select lender_code from raw.loans")} == {"AA01"}
        assert conn.execute("select count(*) from raw.loan_status where lender_code = 'BB02'").fetchone()[0] == 0
        assert conn.execute("select count(*) from control.submissions where lender_code = 'BB02'").fetchone()[0] == 0
        assert denied(conn, "select * from control.lenders")
        assert denied(conn, "select * from control.api_tokens")
        assert denied(conn, "select * from control.disputes")
        assert denied(conn, "insert into control.submissions (lender_code, file_name, sha256, size_bytes, arrival_key,"
                            " verdict) values ('AA01', 'x', repeat('a', 64), 1, 'x', 'accepted')")
        assert denied(conn, "update raw.loans set principal = 1")


def test_a_lender_reads_the_shared_zone_only_through_its_masked_views(world, pg_url):
    with as_role(pg_url, "lender_aa01") as conn:
        shown = sorted(r[0] for r in conn.execute("select reporting_lender from shared.v_lender_default_feed"))
        assert shown == ["AA01", "online_microloan_company"]
        assert conn.execute("select count(*) from shared.v_lender_blacklist").fetchone()[0] == 1
        assert denied(conn, "select * from shared.default_feed_rows")
        assert denied(conn, "select * from shared.default_feed")
        assert denied(conn, "delete from shared.blacklist_rows")


def test_the_analyst_reads_marts_only(world, pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:  # a mart created after the migrations, as dbt does
        conn.execute("create table if not exists marts.test_mart as select 1 as x")
    try:
        with as_role(pg_url, "analyst") as conn:
            assert conn.execute("select x from marts.test_mart").fetchone() == (1,)
            for sql in ("select * from raw.loans", "select * from control.submissions", "select * from shared.blacklist",
                        "select * from control.lookup_audit", "insert into marts.test_mart values (2)"):
                assert denied(conn, sql), sql
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("drop table marts.test_mart")


def test_the_association_reads_control_and_shared_but_writes_no_shared_row(world, pg_url):
    with as_role(pg_url, "association") as conn:
        assert conn.execute("select count(*) from control.submissions").fetchone()[0] == 4
        assert conn.execute("select borrower_key from shared.blacklist").fetchone()[0] == LISTED_KEY
        assert conn.execute("select count(*) from control.lookup_audit").fetchone()[0] == 0
        assert conn.execute("select count(token_prefix) from control.api_tokens").fetchone()[0] == 4
        assert denied(conn, "select token_hash from control.api_tokens")
        assert denied(conn, "insert into shared.live_version (version) values (1)")
        assert denied(conn, "update shared.blacklist_rows set disputed = true")
        assert denied(conn, "select * from raw.loans")


def test_only_the_pipeline_writes_shared(world, pg_url):
    for role in ("exchange_admin", "association", "analyst", "lender_aa01"):
        with as_role(pg_url, role) as conn:
            assert denied(conn, "delete from shared.default_feed_rows"), role
            assert denied(conn, "update shared.feed_versions set status = 'failed'"), role
