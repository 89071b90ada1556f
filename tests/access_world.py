"""A small published world for the access tests: lenders, tokens, a live feed version, a server.

The feed rows are written directly into the shared tables of migration 0002 (as the
publication would), so the look-up is tested without running the whole pipeline.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import psycopg

from exchange.access import tokens as access
from exchange.core.identifiers import Pseudonymizer
from exchange.core.settings import DBT_PROJECT_DIR
from exchange.feed.tables import BORROWER_SIGNAL_COLUMNS
from exchange.intake import lenders
from exchange_tools.deployment import free_port

SECRET = "test-secret-0123456789abcdef"
PSEUDO = Pseudonymizer(SECRET.encode())
LISTED_ID = "11010519491231002X"  # GB 11643's own example: listed (B1, B4) with episodes at two lenders
CLEAN_ID = "110105194912310011"  # a valid ID the exchange has never heard of
LISTED_KEY = PSEUDO.borrower_key("RESIDENT_ID", LISTED_ID)
HELD_KEY = "c" * 64  # a borrower whose negative records each lender holds back (pending notice)
SIGNAL_ID = "110105198001010016"  # not in the feed, but with published fraud and multi-lending signals
SIGNAL_KEY = PSEUDO.borrower_key("RESIDENT_ID", SIGNAL_ID)
SIGNALS = {"signal_date": None, "phones_1m": 1, "phones_3m": 2, "phones_6m": 2, "phones_12m": 3,
           "keys_per_phone_1m": 2, "keys_per_phone_3m": 4, "keys_per_phone_6m": 5, "keys_per_phone_12m": 5,
           "days_since_link_change": 12, "is_phone_shared": True, "name_hashes": 2, "is_identity_mismatch": True,
           "stacking_lenders": 3, "stacking_new_principal": 45000.0, "is_loan_stacking": True, "surge_lenders": 3,
           "first_payment_default_lenders": 0, "is_bust_out": False, "open_lenders": 3,
           "total_outstanding": 38000.5, "overdue_lenders_6m": 1, "is_phone_link_disputed": False}
"""The published signals of SIGNAL_KEY (signal_date: the month end before today, set by build)."""
TABLES = ("control.lenders, control.audit_log, control.submissions, control.row_problems, raw.loans,"
          " raw.loan_status, raw.collection_actions, control.api_tokens, control.lookup_audit, control.disputes,"
          " shared.feed_versions, shared.live_version, shared.blacklist_rows, shared.default_feed_rows,"
          " shared.held_record_rows, shared.listing_reason_rows, shared.borrower_signal_rows, shared.signal_rule_rows,"
          " control.feed_approvals")
SUBMISSION_LENDER = {1: "AA01", 2: "BB02", 3: "CC03", 4: "AA01"}
LOANS = {"AA01": "AA-L1", "BB02": "BB-L9"}
ALERT_LENDER = {"a" * 32: "AA01", "b" * 32: "BB02"}
"""Every lender-facing row of the world names its lender (directly, or by submission or alert key)."""


@dataclass
class World:
    url: str
    tokens: dict[str, str] = field(default_factory=dict)
    token_ids: dict[str, int] = field(default_factory=dict)


def build(url: str, *, fresh_days: int = 10) -> World:
    """Lenders AA01 (microloan) and BB02 (online), a stale lender CC03, tokens, one live version.

    AA01 and BB02 each have a row in every relation a lender reads (a loan, its status row and
    collection action, a row problem, a held-back record, an alert), so a leak shows."""
    world = World(url)
    today = dt.date.today()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"truncate {TABLES} cascade")
        for code, category in (("AA01", "microloan_company"), ("BB02", "online_microloan_company"),
                               ("CC03", "microloan_company")):
            lenders.add(conn, code, f"{code} 测试小额贷款有限公司", category)
            world.token_ids[code], world.tokens[code] = access.issue_token(conn, lender_code=code)
        world.token_ids["association"], world.tokens["association"] = access.issue_token(conn, lender_code=None)
        for sid, code, as_of in ((4, "AA01", today - dt.timedelta(days=fresh_days + 31)),
                                 (1, "AA01", today - dt.timedelta(days=fresh_days)),
                                 (2, "BB02", today - dt.timedelta(days=fresh_days)),
                                 (3, "CC03", today - dt.timedelta(days=200))):
            status_file(conn, sid, code, as_of, [(LOANS[code], "normal")] if sid in (1, 2) else [])
        conn.execute("select setval('control.submissions_submission_id_seq', 100)")
        conn.execute("insert into control.row_problems (submission_id, line, loan_id, field, code, severity)"
                     " values (1, 2, 'AA-L1', 'principal', 'R_REQUIRED', 'error'), (2, 3, 'BB-L9', 'principal',"
                     " 'R_REQUIRED', 'error')")
        for code, loan_id in (("AA01", "AA-L1"), ("BB02", "BB-L9")):
            conn.execute(
                "insert into raw.loans (submission_id, line, lender_code, as_of_date, loan_id, borrower_type, id_type,"
                " borrower_key, name_hash, region_code, product_type, guarantee_type, principal, currency,"
                " annual_rate, issue_date, maturity_date, repayment_method, installments, consent_ref) values"
                " (%s, 2, %s, %s, %s, 'individual', 'RESIDENT_ID', %s, %s, '110105', 'consumer_loan', 'credit',"
                " 10000, 'CNY', 0.18, '2024-01-01', '2025-01-01', 'equal_installment', 12, 'C-1')",
                (1 if code == "AA01" else 2, code, today, loan_id, LISTED_KEY, "0" * 64))
        for sid, code in ((1, "AA01"), (2, "BB02")):
            conn.execute(
                "insert into raw.collection_actions (submission_id, line, lender_code, as_of_date, loan_id, action_time,"
                " channel, actor, contacted_party, outcome) values (%s, 2, %s, %s, %s, now(), 'phone', 'in_house',"
                " 'borrower', 'no_answer')", (sid, code, today, LOANS[code]))
        conn.execute("insert into shared.feed_versions (version, as_of_date, content_sha256, status, blacklist_rows,"
                     " default_feed_rows, validation_success, published_at) values (1, %s, %s, 'live', 1, 2, true, now())",
                     (today, "a" * 64))
        conn.execute("insert into shared.live_version (version) values (1)")
        conn.execute(
            "insert into shared.blacklist_rows (version, borrower_key, borrower_type, reason_codes, first_listed_date,"
            " lenders_count, total_overdue, max_dpd, notice_date, disputed, source_submission_id, source_line)"
            " values (1, %s, 'individual', 'B1,B4', %s, 2, 12345.67, 150, %s, false, 1, 2)",
            (LISTED_KEY, today - dt.timedelta(days=30), today - dt.timedelta(days=40)))
        conn.execute(
            "insert into shared.listing_reason_rows (version, reason_code, rules_version, reason_zh, reason_en)"
            " values (1, 'B1', 'v1', '逾期90天以上且近90天无还款迹象', 'over 90 days past due, no repayment'),"
            " (1, 'B4', 'v1', '同时在两家及以上机构违约', 'in default at two or more lenders at once')")
        for code, category, loan_id in (("AA01", "microloan_company", "AA-L1"),
                                        ("BB02", "online_microloan_company", "BB-L9")):
            conn.execute(
                "insert into shared.default_feed_rows (version, loan_ref, default_episode_no, borrower_key, lender_code,"
                " lender_category, product_type, default_date, max_dpd, amount_at_default, episode_status, notice_date,"
                " disputed, source_submission_id, source_line) values (1, %s, 1, %s, %s, %s, 'consumer_loan', %s, 150,"
                " 9000, 'ongoing', %s, false, 1, 2)",
                (PSEUDO.loan_ref(code, loan_id), LISTED_KEY, code, category, today - dt.timedelta(days=60),
                 today - dt.timedelta(days=40)))
            conn.execute(
                "insert into shared.held_record_rows (version, lender_code, borrower_key, loan_ref, record_kind,"
                " hold_reason, default_date, source_submission_id, source_line)"
                " values (1, %s, %s, %s, 'default_episode', 'pending_notice', %s, 1, 2)",
                (code, HELD_KEY, PSEUDO.loan_ref(code, loan_id + "-held"), today - dt.timedelta(days=50)))
        publish_signals(conn, 1, {SIGNAL_KEY: SIGNALS | {"signal_date": today.replace(day=1) - dt.timedelta(days=1)}})
        for alert_key, code in ALERT_LENDER.items():
            conn.execute(
                "insert into shared.lender_alerts_versions (version, alert_key, lender_code, alert_type, alert_type_zh,"
                " borrower_key, loan_ref, loan_reference, first_seen_date, as_of_date, other_lender_count,"
                " evidence_en, evidence_zh) values (1, %s, %s, 'default_elsewhere', '他行违约', %s, %s, %s, %s, %s, 1,"
                " 'in default at another member', '在其他会员机构违约')",
                (alert_key, code, LISTED_KEY, PSEUDO.loan_ref(code, "alerted"), alert_key, today, today))
    return world


def signal_rules() -> list[tuple[str, str, int, str]]:
    """The fraud-signal rules of the seed (rule_fraud_signals), as the publication copies them."""
    with (DBT_PROJECT_DIR / "seeds" / "rule_fraud_signals.csv").open(encoding="utf-8") as fh:
        return [(r["parameter"], r["rules_version"], int(r["value"]), r["unit"]) for r in csv.DictReader(fh)]


def publish_signals(conn: psycopg.Connection, version: int, rows: dict[str, dict]) -> None:
    """Borrower signals (key -> the columns of BORROWER_SIGNAL_COLUMNS but the key) and the seed's
    signal rules into `version`, as the publication writes them."""
    conn.execute("insert into shared.signal_rule_rows (version, parameter, rules_version, value, unit)"
                 " select %s, p, r, v, u from unnest(%s::text[], %s::text[], %s::int[], %s::text[]) as t (p, r, v, u)",
                 (version, *map(list, zip(*signal_rules(), strict=True))))
    columns = BORROWER_SIGNAL_COLUMNS
    with conn.cursor() as cur:
        cur.executemany(f"insert into shared.borrower_signal_rows (version, {', '.join(columns)})"
                        f" values (%s{', %s' * len(columns)})",
                        [(version, key, *(row[c] for c in columns[1:])) for key, row in rows.items()])


def status_file(conn: psycopg.Connection, sid: int, code: str, as_of: dt.date, loans: list[tuple[str, str]]) -> None:
    """An accepted loan_status submission of `code` with one row per (loan_id, account_status)."""
    conn.execute(
        "insert into control.submissions (submission_id, lender_code, kind, as_of_date, seq, file_name, sha256,"
        " size_bytes, arrival_key, verdict, rows_total, rows_accepted) values"
        " (%s, %s, 'loan_status', %s, 1, %s, %s, 100, %s, 'accepted', %s, %s)",
        (sid, code, as_of, f"{code}_loan_status_{as_of:%Y%m%d}.csv", f"{sid:064x}", f"arrival-{sid}", len(loans),
         len(loans)))
    conn.execute("select raw.ensure_loan_status_partition(%s)", (as_of,))  # as the ingest would
    with conn.cursor() as cur:
        cur.executemany(
            "insert into raw.loan_status (submission_id, line, lender_code, as_of_date, loan_id, account_status,"
            " outstanding_principal, overdue_principal, overdue_interest, legal_status, fraud_flag)"
            " values (%s, %s, %s, %s, %s, %s, 1000, 0, 0, 'none', false)",
            [(sid, line, code, as_of, loan_id, status) for line, (loan_id, status) in enumerate(loans, start=2)])


@contextmanager
def live_server(url: str, home: str, **env: str) -> Iterator[str]:
    """The real app under uvicorn in a thread; yields its base URL."""
    import uvicorn

    from exchange.web.app import create_app

    settings = {"EXCHANGE_DB_URL": url, "EXCHANGE_HOME": home, "EXCHANGE_PSEUDONYM_KEY": SECRET,
                "EXCHANGE_TOKEN_CACHE_SECONDS": "0", "EXCHANGE_GIVE_TO_GET_CACHE_SECONDS": "0", **env}
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def portal_login(base: str, token: str) -> tuple[httpx.Client, str]:
    """A portal session of `token` on the server at `base`, and the CSRF token its pages carry."""
    client = httpx.Client(base_url=base, timeout=30)
    r = client.post("/portal/login", data={"token": token}, follow_redirects=True)
    assert r.status_code == 200, r.status_code
    return client, re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
