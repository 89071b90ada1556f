"""The standing security suite of the database: identities that cannot be claimed, and disputes
whose opening is written once (issue 12). Each attack is made in SQL, as a person with a database
login would make it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from access_world import ALERT_LENDER, LISTED_KEY, SUBMISSION_LENDER, build
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from test_roles import as_role, denied

LENDER_CODES = {"AA01", "BB02", "CC03"}
BY_LENDER_CODE = ("control.submissions", "control.lookup_audit", "raw.loans", "raw.loan_status",
                  "raw.collection_actions", "shared.v_lender_held_records")


@pytest.fixture
def world(pg_url):
    world = build(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn, conn.cursor() as cur:  # a look-up of each lender
        cur.executemany("insert into control.lookup_audit (party, lender_code, channel, outcome, refusal_code)"
                         " values ('lender', %s, 'api', 'refused', 'Q_PURPOSE')", [("AA01",), ("BB02",)])
    return world


@contextmanager
def login_role(url: str, *member_of: str) -> Iterator[psycopg.Connection]:
    """A session of a LOGIN role made the way operator guide section 8 says, member of `member_of`."""
    name, password = f"desk_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("create role {} login password {}").format(sql.Identifier(name), sql.Literal(password)))
        for group in member_of:
            conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(group), sql.Identifier(name)))
    try:
        with psycopg.connect(make_conninfo(**{**conninfo_to_dict(url), "user": name, "password": password})) as session:
            yield session
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))


def lenders_seen(conn: psycopg.Connection) -> dict[str, set[str]]:
    """Whose rows each lender-facing relation shows this session (every one has AA01's and BB02's)."""
    seen = {rel: {r[0] for r in conn.execute(f"select lender_code from {rel}")} for rel in BY_LENDER_CODE}
    seen["control.row_problems"] = {SUBMISSION_LENDER[r[0]]
                                    for r in conn.execute("select submission_id from control.row_problems")}
    seen["shared.v_lender_alerts"] = {ALERT_LENDER[r[0]] for r in conn.execute("select alert_key from shared.v_lender_alerts")}
    seen["shared.v_lender_default_feed"] = {r[0] for r in conn.execute(
        "select reporting_lender from shared.v_lender_default_feed") if r[0] in LENDER_CODES}
    return seen


def claim_bb02(conn: psycopg.Connection) -> None:
    """What the finding did: name another lender in the session setting the old views trusted."""
    conn.execute("set exchange.lender_code = 'BB02'")


def test_the_suite_covers_every_relation_a_lender_reads(world, pg_url):
    """A table or view a lender may read and this suite does not check fails here first."""
    with psycopg.connect(pg_url) as conn:
        # the month partitions of raw.loan_status carry the policy too but grant a lender nothing:
        # it reads them through the parent (tests/test_loan_status_partitions.py)
        policed = {f"{s}.{t}" for s, t in conn.execute(
            "select schemaname, tablename from pg_policies where policyname = 'lender_own'"
            " and has_table_privilege('member_lender', format('%I.%I', schemaname, tablename), 'select')")}
        views = {f"shared.{v}" for (v,) in conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'shared' and has_table_privilege('member_lender', c.oid, 'select')")}
        checked = set(lenders_seen(conn))
    # the blacklist and the reasons' texts hold no lender's rows
    assert policed | views == checked | {"shared.v_lender_blacklist", "shared.listing_reasons"}


def test_a_lender_role_cannot_claim_another_lenders_code(world, pg_url):
    with as_role(pg_url, "lender_aa01") as conn:
        claim_bb02(conn)
        seen = lenders_seen(conn)
    assert seen == {rel: {"AA01"} for rel in seen}


def test_a_login_role_of_a_lender_reads_that_lender_only_whatever_it_claims(world, pg_url):
    with login_role(pg_url, "lender_aa01") as conn:
        claim_bb02(conn)
        seen = lenders_seen(conn)
        assert denied(conn, "set role lender_bb02")
    assert seen == {rel: {"AA01"} for rel in seen}


@pytest.mark.parametrize("member_of", [("member_lender",), ("lender_aa01", "lender_bb02")],
                         ids=["member-group-only", "two-lenders"])
def test_a_role_that_is_no_single_lender_sees_no_lenders_rows(world, pg_url, member_of):
    with login_role(pg_url, *member_of) as conn:
        claim_bb02(conn)
        seen = lenders_seen(conn)
    assert seen == {rel: set() for rel in seen}


def test_the_owner_previews_no_lender_by_a_setting(world, pg_url):
    with psycopg.connect(pg_url) as conn:
        claim_bb02(conn)
        assert conn.execute("select count(*) from shared.v_lender_alerts").fetchone() == (0,)
        assert conn.execute("select count(*) from shared.v_lender_held_records").fetchone() == (0,)


def test_each_lender_role_is_mapped_to_its_code(world, pg_url):
    """`exchange lenders add` records the role; the mapping identifies a lender, not a setting."""
    with psycopg.connect(pg_url) as conn:
        mapped = dict(conn.execute("select role_name, lender_code from control.role_lenders").fetchall())
    assert mapped == {"lender_aa01": "AA01", "lender_bb02": "BB02", "lender_cc03": "CC03"}


# ---- disputes: resolution columns only -------------------------------------------------------------


@pytest.fixture
def dispute(world, pg_url) -> int:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return conn.execute("insert into control.disputes (borrower_key, record_kind, opened_by, opened_party,"
                            " opened_reason) values (%s, 'listing', 'lender:AA01', 'lender', '本人称已结清')"
                            " returning dispute_id", (LISTED_KEY,)).fetchone()[0]


@pytest.mark.parametrize("change", ["opened_by = 'association'", "deadline = deadline + 30",
                                    "opened_at = now() - interval '1 day'", "opened_party = 'association'",
                                    "borrower_key = repeat('d', 64)"])
def test_the_association_cannot_rewrite_a_disputes_opening(dispute, pg_url, change):
    with as_role(pg_url, "association") as conn:
        assert denied(conn, f"update control.disputes set {change} where dispute_id = {dispute}")
    with as_role(pg_url, "exchange_admin") as conn:
        assert denied(conn, f"update control.disputes set {change} where dispute_id = {dispute}")


def test_the_association_opens_without_naming_the_opener_and_resolves(dispute, pg_url):
    with as_role(pg_url, "association") as conn:
        assert denied(conn, "insert into control.disputes (borrower_key, record_kind, opened_by) values"
                            f" ('{LISTED_KEY}', 'listing', 'lender:BB02')")
        assert denied(conn, "insert into control.disputes (borrower_key, record_kind, deadline) values"
                            f" ('{LISTED_KEY}', 'listing', current_date + 365)")
        opened_by = conn.execute("insert into control.disputes (borrower_key, record_kind, opened_reason)"
                                 " values (%s, 'listing', 'x') returning opened_by", (LISTED_KEY,)).fetchone()[0]
        assert opened_by == "association"  # the database writes who opened it
        resolved = conn.execute("update control.disputes set status = 'rejected', resolution_reason = '核实无误',"
                                " resolved_by = 'association', resolved_at = now() where dispute_id = %s"
                                " returning status", (dispute,)).fetchone()
        conn.commit()
    assert resolved == ("rejected",)


def test_only_the_owner_may_correct_an_opening_even_with_update_granted(dispute, pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("grant update on control.disputes to exchange_admin")
    try:
        with as_role(pg_url, "exchange_admin") as conn:
            assert denied(conn, f"update control.disputes set deadline = deadline + 30 where dispute_id = {dispute}")
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("revoke update on control.disputes from exchange_admin")
            conn.execute("grant update (status, resolution_reason, resolved_by, resolved_at) on control.disputes"
                         " to exchange_admin")
            moved = conn.execute("update control.disputes set deadline = deadline - 1 where dispute_id = %s",
                                 (dispute,)).rowcount
    assert moved == 1
