"""The HTTP API over a real socket: look-ups, audit, give-to-get, rate limit, tokens, disputes,
reports, and the security cases (other lender's token, no token, SQL fragments, over-long values)."""

from __future__ import annotations

import datetime as dt

import httpx
import psycopg
import pytest
from access_world import CLEAN_ID, LISTED_ID, LISTED_KEY, PSEUDO, build, live_server, status_file

from exchange.access import lookup as lk
from exchange.access import tokens as access

LOOKUP = {"id_type": "RESIDENT_ID", "id_number": LISTED_ID, "purpose": "loan_application", "consent_ref": "SQ-2026-001"}


@pytest.fixture(scope="module")
def server(pg_url, tmp_path_factory):
    with live_server(pg_url, str(tmp_path_factory.mktemp("api-home")), EXCHANGE_LOOKUP_RATE="100000",
                     EXCHANGE_LOOKUP_BURST="100000") as base:
        yield base


@pytest.fixture
def world(pg_url):
    return build(pg_url)


def call(base: str, token: str | None, path: str = "/v1/lookup", body: dict | None = None, method: str = "POST"):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.request(method, base + path, json=body if method == "POST" else None, headers=headers, timeout=10)


def audit_rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("select lender_code, channel, purpose, consent_ref, borrower_key, hit, outcome, refusal_code"
                            " from control.lookup_audit order by lookup_id").fetchall()


def test_lookup_answers_listing_episodes_masked_and_summary(server, world, pg_url):
    r = call(server, world.tokens["AA01"], body=LOOKUP)
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["hit"] and a["feed_version"] == 1
    assert a["blacklist"]["listed"] and [x["code"] for x in a["blacklist"]["reasons"]] == ["B1", "B4"]
    assert a["blacklist"]["disputed"] is False and a["blacklist"]["reasons"][0]["message_zh"]
    shown = sorted(e["reporting_lender"] for e in a["default_episodes"])
    assert shown == ["AA01", "online_microloan_company"]  # its own code, the other lender as a category
    assert "BB02" not in r.text and LISTED_ID not in r.text and LISTED_KEY not in r.text
    assert "恶意逾期名单" in a["summary"]["message_zh"] and "blacklist" in a["summary"]["message_en"]
    assert audit_rows(pg_url) == [("AA01", "api", "loan_application", "SQ-2026-001", LISTED_KEY, True, "answered", None)]


def test_a_miss_is_audited_as_a_miss(server, world, pg_url):
    r = call(server, world.tokens["BB02"], body=LOOKUP | {"id_number": CLEAN_ID})
    assert r.status_code == 200 and r.json()["hit"] is False and r.json()["default_episodes"] == []
    (row,) = audit_rows(pg_url)
    assert row[0] == "BB02" and row[5] is False and row[4] == PSEUDO.borrower_key("RESIDENT_ID", CLEAN_ID)


@pytest.mark.parametrize("missing", ["purpose", "consent_ref"])
def test_no_purpose_or_consent_is_refused_and_audited(server, world, pg_url, missing):
    r = call(server, world.tokens["AA01"], body={k: v for k, v in LOOKUP.items() if k != missing})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == {"purpose": "Q_PURPOSE", "consent_ref": "Q_CONSENT"}[missing]
    assert err["message_zh"] and err["message_en"]
    (row,) = audit_rows(pg_url)
    assert row[6] == "refused" and row[7] == err["code"] and row[4] is None


def test_give_to_get_refuses_a_lender_that_stopped_reporting(server, world, pg_url):
    r = call(server, world.tokens["CC03"], body=LOOKUP)
    assert r.status_code == 403
    err = r.json()["error"]
    assert err["code"] == "Q_GIVE_TO_GET" and "45" in err["message_en"] and "45天" in err["message_zh"]
    assert audit_rows(pg_url)[0][6:] == ("refused", "Q_GIVE_TO_GET")


BOOK = [(f"AA-K{i}", "normal") for i in range(9)] + [("AA-K9", "overdue"), ("AA-S1", "settled"),
                                                     ("AA-W1", "written_off"), ("AA-T1", "transferred")]
"""A lender's book: ten active loans and three closed ones."""


def report_status(url: str, previous: list[tuple[str, str]], latest: list[tuple[str, str]]) -> None:
    """AA01 sends a status file of `previous`, then a newer one of `latest`."""
    today = dt.date.today()
    with psycopg.connect(url, autocommit=True) as conn:
        status_file(conn, 10, "AA01", today - dt.timedelta(days=8), previous)
        status_file(conn, 11, "AA01", today - dt.timedelta(days=3), latest)


def test_give_to_get_refuses_a_fresh_file_that_leaves_out_the_loans_reported_before(server, world, pg_url):
    report_status(pg_url, BOOK, BOOK[:1])
    r = call(server, world.tokens["AA01"], body=LOOKUP)
    assert r.status_code == 403
    err = r.json()["error"]
    assert err["code"] == "Q_GIVE_TO_GET_COVERAGE"
    for message in (err["message_zh"], err["message_en"]):
        assert "10.0%" in message and "80%" in message  # the share found and the share required
    assert audit_rows(pg_url)[0][6:] == ("refused", "Q_GIVE_TO_GET_COVERAGE")


def test_give_to_get_accepts_a_file_with_the_required_share_of_active_loans(server, world, pg_url):
    report_status(pg_url, BOOK, BOOK[:8])  # 8 of the 10 active loans; the closed ones need not come back
    assert call(server, world.tokens["AA01"], body=LOOKUP).status_code == 200


def test_missing_unknown_revoked_and_suspended_tokens(server, world, pg_url):
    assert call(server, None, body=LOOKUP).status_code == 401
    assert call(server, "cx_" + "A" * 43, body=LOOKUP).status_code == 401
    assert call(server, "' or 1=1 --", body=LOOKUP).status_code == 401
    with psycopg.connect(pg_url, autocommit=True) as conn:
        access.revoke_token(conn, world.token_ids["AA01"], "test")
        conn.execute("update control.lenders set status = 'suspended' where lender_code = 'BB02'")
    assert call(server, world.tokens["AA01"], body=LOOKUP).status_code == 401
    assert call(server, world.tokens["BB02"], body=LOOKUP).status_code == 401
    assert audit_rows(pg_url) == []
    with psycopg.connect(pg_url) as conn:
        stored = [r[0] for r in conn.execute("select token_hash from control.api_tokens")]
    assert all(t not in stored for t in world.tokens.values())  # only hashes are kept


def test_another_lenders_token_sees_only_its_own_submissions(server, world):
    mine = call(server, world.tokens["AA01"], "/v1/submissions", method="GET").json()
    assert {s["lender_code"] for s in mine} == {"AA01"} and len(mine) == 2
    theirs = call(server, world.tokens["BB02"], "/v1/submissions", method="GET").json()
    assert {s["lender_code"] for s in theirs} == {"BB02"}


def test_association_only_calls_refuse_lenders(server, world):
    body = {"id_type": "RESIDENT_ID", "id_number": LISTED_ID}
    assert call(server, world.tokens["AA01"], "/v1/reports", body).status_code == 403
    assert call(server, world.tokens["AA01"], "/v1/disputes/1/resolve",
                {"outcome": "upheld", "reason": "x"}).status_code == 403


SQL_FRAGMENTS = ["' OR '1'='1", "1; DROP TABLE control.lookup_audit; --", "\" or \"\"=\"", "$$; select pg_sleep(5); $$",
                 "') union select * from shared.blacklist_rows --"]


@pytest.mark.parametrize("field", ["id_type", "id_number", "purpose", "consent_ref"])
def test_sql_fragments_and_over_long_values_in_every_field(server, world, pg_url, field):
    for value in [*SQL_FRAGMENTS, "x" * 100_000, "\x00\x01", "a b\n"]:
        r = call(server, world.tokens["AA01"], body=LOOKUP | {field: value})
        assert r.status_code in (400, 413, 422), (field, value[:40], r.status_code)  # 413: over EXCHANGE_MAX_BODY_KB
        assert value not in r.text or len(value) < 5  # never echoed back
    if field == "consent_ref":  # Chinese reference numbers are fine
        assert call(server, world.tokens["AA01"], body=LOOKUP | {"consent_ref": "授权-2026/001"}).status_code == 200
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("select count(*) from shared.blacklist_rows").fetchone()[0] == 1
        audit = conn.execute("select count(*), count(consent_ref) from control.lookup_audit"
                             " where outcome = 'refused'").fetchone()
    if field in ("purpose", "consent_ref"):  # refused by the exchange's checks: audited, the value not kept
        assert audit[0] >= 6 and audit[1] == 0


def test_header_and_token_fields_too(server, world):
    for token in [*SQL_FRAGMENTS, "x" * 10_000]:
        assert call(server, token, body=LOOKUP).status_code == 401


def test_rate_limit_per_lender_and_for_the_association(pg_url, world, tmp_path):
    with live_server(pg_url, str(tmp_path), EXCHANGE_LOOKUP_RATE="3", EXCHANGE_LOOKUP_BURST="3") as base:
        codes = [call(base, world.tokens["AA01"], body=LOOKUP).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
        assert call(base, world.tokens["BB02"], body=LOOKUP).status_code == 200  # its own bucket
        assert call(base, world.tokens["AA01"], body=LOOKUP).json()["error"]["code"] == "Q_RATE_LIMIT"
        association = [call(base, world.tokens["association"], body=LOOKUP).status_code for _ in range(4)]
        assert association == [200, 200, 200, 429]


def test_invalid_lookups_spend_the_rate_limit_and_a_flood_is_counted_not_written(pg_url, world, tmp_path):
    invalid = LOOKUP | {"id_number": CLEAN_ID[:-1] + "2"}  # a wrong check digit
    with live_server(pg_url, str(tmp_path), EXCHANGE_LOOKUP_RATE="3", EXCHANGE_LOOKUP_BURST="3") as base:
        codes = [call(base, world.tokens["AA01"], body=invalid).status_code for _ in range(30)]
    assert codes[:3] == [400, 400, 400] and set(codes[3:]) == {429}
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("select refusal_code, attempts from control.lookup_audit order by lookup_id").fetchall()
    assert rows == [("Q_ID", 1)] * 3 + [("Q_RATE_LIMIT", 1)]  # the rest of the flood is counted in memory


def test_a_rate_limited_flood_is_audited_as_counts_at_most_once_a_minute(monkeypatch):
    monkeypatch.setenv("EXCHANGE_LOOKUP_RATE", "0.6")  # one look-up every 100 seconds
    monkeypatch.setenv("EXCHANGE_LOOKUP_BURST", "1")
    now = [0.0]
    quota = lk.LookupQuota(clock=lambda: now[0])
    who = access.Caller("lender", "AA01", 1)

    def refused_attempts() -> int:
        with pytest.raises(lk.LookupRefused) as refused:
            quota.take(who)
        assert refused.value.code == "Q_RATE_LIMIT"
        return refused.value.attempts

    assert quota.take(who) is None
    assert [refused_attempts() for _ in range(5)] == [1, 0, 0, 0, 0]  # the first written, the rest counted
    now[0] = 61.0
    assert [refused_attempts() for _ in range(2)] == [5, 0]  # a minute on: one row carries the count
    now[0] = 200.0
    admitted = quota.take(who)  # allowed again: what was counted since is handed over to be written
    assert admitted is not None and admitted.code == "Q_RATE_LIMIT" and admitted.attempts == 1
    assert quota.take(access.Caller("association", None, 2)) is None  # the association has its own allowance


def test_openapi_document_is_served(server):
    doc = httpx.get(server + "/openapi.json").json()
    assert "/v1/lookup" in doc["paths"] and "/v1/reports" in doc["paths"]
    assert "/portal" not in doc["paths"]


def test_disputes_open_by_reporting_lender_mark_deadline_and_resolve(server, world, pg_url):
    aa_ref = PSEUDO.loan_ref("AA01", "AA-L1")
    bb_ref = PSEUDO.loan_ref("BB02", "BB-L9")
    who = world.tokens
    body = {"id_type": "RESIDENT_ID", "id_number": LISTED_ID, "record": bb_ref, "reason": "借款人称已还清"}
    refused = call(server, who["AA01"], "/v1/disputes", body)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "D_RECORD"  # not its record
    opened = call(server, who["AA01"], "/v1/disputes", body | {"record": aa_ref})
    assert opened.status_code == 200, opened.text
    d = opened.json()
    assert d["record_kind"] == "default_episode" and d["days_left"] == 20 and not d["overdue"]
    assert "borrower_key" not in d
    listing = call(server, who["association"], "/v1/disputes", body | {"record": "listing"}).json()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        row = conn.execute("select lender_code, loan_id, loan_ref, status from control.disputes where dispute_id = %s",
                           (d["dispute_id"],)).fetchone()
        assert row == ("AA01", "AA-L1", aa_ref, "open")
        conn.execute("update control.disputes set deadline = current_date - 1 where dispute_id = %s",
                     (listing["dispute_id"],))
    seen = {x["dispute_id"]: x for x in call(server, who["association"], "/v1/disputes", method="GET").json()}
    assert seen[listing["dispute_id"]]["overdue"] and not seen[d["dispute_id"]]["overdue"]
    assert [x["dispute_id"] for x in call(server, who["BB02"], "/v1/disputes", method="GET").json()] == []
    done = call(server, who["association"], f"/v1/disputes/{d['dispute_id']}/resolve",
                {"outcome": "upheld", "reason": "机构核实后更正"})
    assert done.status_code == 200 and done.json()["status"] == "upheld"
    again = call(server, who["association"], f"/v1/disputes/{d['dispute_id']}/resolve",
                 {"outcome": "rejected", "reason": "x"})
    assert again.status_code == 400


def test_a_lender_disputes_the_phone_link_of_its_own_loan_and_no_clear_phone_is_kept(server, world, pg_url):
    phone = "13800138000"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("update raw.loans set phone_hash = %s where lender_code = 'AA01'", (PSEUDO.phone_hash(phone),))
    aa_ref = PSEUDO.loan_ref("AA01", "AA-L1")
    body = {"id_type": "RESIDENT_ID", "id_number": LISTED_ID, "record": "phone_link", "loan_ref": aa_ref,
            "phone": phone, "reason": "本人从未使用该手机号"}
    refused = call(server, world.tokens["BB02"], "/v1/disputes", body)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "D_RECORD"  # not its loan
    other = call(server, world.tokens["AA01"], "/v1/disputes", body | {"phone": "13900139000"})
    assert other.status_code == 400 and other.json()["error"]["code"] == "D_PHONE"  # not the number reported
    opened = call(server, world.tokens["AA01"], "/v1/disputes", body)
    assert opened.status_code == 200, opened.text
    assert opened.json()["record_kind"] == "phone_link" and opened.json()["days_left"] == 20
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("select lender_code, loan_id, phone_hash from control.disputes where dispute_id = %s",
                           (opened.json()["dispute_id"],)).fetchone()
        kept = conn.execute("select count(*) from control.disputes where opened_reason like %s"
                            " or phone_hash = %s", (f"%{phone}%", phone)).fetchone()[0]
    assert row == ("AA01", "AA-L1", PSEUDO.phone_hash(phone)) and kept == 0
    assert phone not in opened.text


def test_data_subject_report_json_and_html(server, world, pg_url):
    call(server, world.tokens["AA01"], body=LOOKUP)
    call(server, world.tokens["association"], body=LOOKUP | {"purpose": "post_loan_management"})
    body = {"id_type": "RESIDENT_ID", "id_number": LISTED_ID}
    r = call(server, world.tokens["association"], "/v1/reports", body)
    assert r.status_code == 200
    rep = r.json()
    assert rep["blacklist"]["reason_codes"] == "B1,B4"
    assert {e["lender_code"] for e in rep["default_episodes"]} == {"AA01", "BB02"}
    # every institution that looked, by name, the association included
    assert [(q["institution"], q["lender_category"], q["purpose"]) for q in rep["lookups"]] == [
        ("行业协会", None, "post_loan_management"), ("AA01 测试小额贷款有限公司", "microloan_company", "loan_application")]
    assert LISTED_ID not in r.text
    html = call(server, world.tokens["association"], "/v1/reports", body | {"format": "html"})
    assert html.status_code == 200 and "本人信用报告" in html.text and "B4" in html.text
    assert "贷款审批" in html.text and "AA01 测试小额贷款有限公司" in html.text and "the industry association" in html.text


@pytest.mark.parametrize("field", ["id_type", "id_number", "record", "reason"])
def test_sql_fragments_and_over_long_values_in_dispute_and_report_fields(server, world, pg_url, field):
    body = {"id_type": "RESIDENT_ID", "id_number": LISTED_ID, "record": "listing", "reason": "本人称已结清"}
    for value in [*SQL_FRAGMENTS, "x" * 100_000]:
        r = call(server, world.tokens["association"], "/v1/disputes", body | {field: value})
        if field == "reason" and len(value) <= 1000:  # free text, bound as a parameter: stored as written
            assert r.status_code == 200
        else:
            assert r.status_code in (400, 413, 422), (field, value[:30], r.status_code)
        assert "x" * 1000 not in r.text
        if field in ("id_type", "id_number"):
            assert call(server, world.tokens["association"], "/v1/reports",
                        {"id_type": "RESIDENT_ID", "id_number": LISTED_ID} | {field: value}).status_code in (400, 413, 422)
    with psycopg.connect(pg_url) as conn:
        reasons = [r[0] for r in conn.execute("select opened_reason from control.disputes order by dispute_id")]
        assert conn.execute("select count(*) from control.lookup_audit").fetchone()[0] == 0  # tables intact
    assert reasons == (SQL_FRAGMENTS if field == "reason" else [])
