"""The signals section of the look-up answer (issue 16), over the real API, the CLI and the portal.

The published world of tests/access_world.py carries one key with published fraud and
multi-lending signals (SIGNAL_ID) and the fraud-signal rules of the seed; inquiry velocity is
counted from look-up audit rows put in with their times. What is pinned: a key with signals gets
them, a clean key gets none, inquiry velocity counts distinct members (the asker's own earlier
look-ups included, never naming any), and only the live version's signals are ever shown.
"""

from __future__ import annotations

import datetime as dt
import json

import httpx
import psycopg
import pytest
from access_world import (
    CLEAN_ID,
    LISTED_ID,
    PSEUDO,
    SECRET,
    SIGNAL_ID,
    SIGNAL_KEY,
    SIGNALS,
    build,
    live_server,
    portal_login,
    publish_signals,
    signal_rules,
)
from click.testing import CliRunner

from exchange.cli.main import main
from exchange.web.app import LookupAnswer

LOOKUP = {"id_type": "RESIDENT_ID", "purpose": "loan_application", "consent_ref": "SQ-2026-016"}
CLEAN_KEY = PSEUDO.borrower_key("RESIDENT_ID", CLEAN_ID)
RULES = {parameter: value for parameter, _, value, _ in signal_rules()}
SHORT, LONG = RULES["inquiry_window_short_days"], RULES["inquiry_window_long_days"]


@pytest.fixture(scope="module")
def server(pg_url, tmp_path_factory):
    with live_server(pg_url, str(tmp_path_factory.mktemp("signals-home")), EXCHANGE_LOOKUP_RATE="100000",
                     EXCHANGE_LOOKUP_BURST="100000") as base:
        yield base


@pytest.fixture
def world(pg_url):
    return build(pg_url)


def look_up(base: str, token: str, id_number: str, **fields: str) -> dict:
    r = httpx.post(base + "/v1/lookup", json=LOOKUP | {"id_number": id_number} | fields,
                   headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_key_with_published_signals_gets_them_with_bilingual_labels(server, world):
    answer = look_up(server, world.tokens["AA01"], SIGNAL_ID)
    LookupAnswer.model_validate(answer)  # the shape the OpenAPI document promises
    signals = answer["signals"]
    assert [f["code"] for f in signals["flags"]] == ["phone_sharing", "identity_mismatch", "loan_stacking"]
    figures = {f["code"]: f["value"] for f in signals["figures"]}
    assert figures == {code: value for code, value in SIGNALS.items()
                       if code != "signal_date" and not code.startswith("is_")}
    assert signals["signal_date"] == (dt.date.today().replace(day=1) - dt.timedelta(days=1)).isoformat()
    phone = signals["flags"][0]
    assert phone["label_zh"] == "共用手机号" and phone["label_en"] == "phone sharing"
    # the rule's window and threshold come from the published rules (the seed), not from code
    assert f"{RULES['phone_window_3m_days']}天" in phone["rule_zh"]
    assert f"{RULES['phone_shared_min_keys']} or more" in phone["rule_en"]
    stacking = next(f for f in signals["figures"] if f["code"] == "stacking_lenders")
    assert f"{RULES['stacking_window_days']} days" in stacking["label_en"] and "机构数" in stacking["label_zh"]
    assert "共用手机号" in signals["message_zh"] and "loan stacking" in signals["message_en"]
    assert not answer["hit"]  # signals are no listing and no default
    for code in ("AA01", "BB02", "CC03", SIGNAL_ID, SIGNAL_KEY):
        assert code not in json.dumps(signals)


def test_a_clean_key_gets_no_signals(server, world):
    # the association's look-up first: it is no member's, so AA01's answer counts no inquiry
    for token, id_number in ((world.tokens["association"], CLEAN_ID), (world.tokens["AA01"], CLEAN_ID),
                             (world.tokens["BB02"], LISTED_ID)):
        signals = look_up(server, token, id_number)["signals"]
        assert signals == {"signal_date": None, "flags": [], "figures": [], "inquiries": [],
                           "phone_link_disputed": False, "message_zh": "无风险信号", "message_en": "no signals"}


def audit(url: str, rows: list[tuple[str, str | None, str, str, int]]) -> None:
    """Look-up audit rows of CLEAN_KEY: (party, lender, purpose, outcome, days ago)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.cursor().executemany(
            "insert into control.lookup_audit (at, party, lender_code, channel, purpose, borrower_key, outcome,"
            " refusal_code) values (now() - make_interval(days => %s) + interval '1 hour', %s, %s, 'api', %s, %s, %s,"
            " case when %s = 'refused' then 'Q_RATE_LIMIT' end)",
            [(days, party, lender, purpose, CLEAN_KEY, outcome, outcome) for party, lender, purpose, outcome, days in rows])


def test_inquiry_velocity_counts_distinct_members_per_window_and_purpose(server, world, pg_url):
    audit(pg_url, [
        ("lender", "AA01", "loan_application", "answered", SHORT - 1),  # the asker itself, twice: one member
        ("lender", "AA01", "loan_application", "answered", SHORT - 2),
        ("lender", "BB02", "loan_application", "answered", SHORT - 1),
        ("lender", "BB02", "credit_limit_review", "answered", SHORT + 1),  # long window only
        ("lender", "CC03", "loan_application", "answered", LONG + 1),  # outside both
        ("lender", "CC03", "guarantee_review", "refused", 1),  # refused: no inquiry answered
        ("association", None, "post_loan_management", "answered", 1),  # the association is no member
    ])
    answer = look_up(server, world.tokens["AA01"], CLEAN_ID, purpose="credit_limit_review")
    LookupAnswer.model_validate(answer)
    counted = {(i["window_days"], i["purpose"]): i["value"] for i in answer["signals"]["inquiries"]}
    assert counted == {(SHORT, None): 2, (LONG, None): 2, (SHORT, "loan_application"): 2,
                       (LONG, "loan_application"): 2, (LONG, "credit_limit_review"): 1}
    assert answer["signals"]["flags"] == [] and answer["signals"]["figures"] == []
    assert answer["signals"]["message_en"] == "no flag raised; counts only"
    by_purpose = next(i for i in answer["signals"]["inquiries"] if i["purpose"] == "credit_limit_review")
    assert by_purpose["label_zh"] == f"近{LONG}天内查询过该借款人的机构数（授信额度审查）"
    assert by_purpose["label_en"] == f"members that looked this applicant up within {LONG} days (credit limit review)"
    assert "AA01" not in json.dumps(answer["signals"]) and "BB02" not in json.dumps(answer["signals"])
    # the look-up just answered did not count itself; it counts in the next one (BB02's)
    counted = {(i["window_days"], i["purpose"]): i["value"]
               for i in look_up(server, world.tokens["BB02"], CLEAN_ID)["signals"]["inquiries"]}
    assert counted[SHORT, "credit_limit_review"] == 1 and counted[LONG, "credit_limit_review"] == 2
    assert counted[SHORT, None] == 2  # AA01 once more: still two members


def test_only_the_live_versions_signals_are_shown(server, world, pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("insert into shared.feed_versions (version, as_of_date, content_sha256, status)"
                     " values (2, current_date, repeat('2', 64), 'validating')")
        publish_signals(conn, 2, {CLEAN_KEY: SIGNALS | {"signal_date": dt.date.today(), "is_identity_mismatch": False,
                                                         "is_loan_stacking": False}})
    # staged, not published: nobody sees it
    assert look_up(server, world.tokens["AA01"], CLEAN_ID)["signals"]["flags"] == []
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("update shared.feed_versions set status = case version when 2 then 'live' else 'superseded' end")
        conn.execute("update shared.live_version set version = 2")
    # live now: the new version's signals, and none of the older version's any more
    assert [f["code"] for f in look_up(server, world.tokens["AA01"], CLEAN_ID)["signals"]["flags"]] == ["phone_sharing"]
    assert look_up(server, world.tokens["AA01"], SIGNAL_ID)["signals"]["flags"] == []


def test_a_phone_link_under_dispute_marks_the_phone_sharing_flag(server, world, pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("update shared.borrower_signal_rows set is_phone_link_disputed = true where borrower_key = %s",
                     (SIGNAL_KEY,))
    signals = look_up(server, world.tokens["AA01"], SIGNAL_ID)["signals"]
    assert signals["phone_link_disputed"]
    assert {f["code"]: f["disputed"] for f in signals["flags"]} == {
        "phone_sharing": True, "identity_mismatch": False, "loan_stacking": False}
    assert "手机号关联异议处理中" in signals["message_zh"] and "under dispute" in signals["message_en"]
    assert not look_up(server, world.tokens["AA01"], CLEAN_ID)["signals"]["phone_link_disputed"]


def test_the_portal_shows_the_signals_section(server, world):
    client, csrf = portal_login(server, world.tokens["AA01"])
    page = client.post("/portal/lookup", data=LOOKUP | {"id_type": "RESIDENT_ID", "id_number": SIGNAL_ID,
                                                        "csrf": csrf})
    assert page.status_code == 200 and 'id="lookup-signals"' in page.text
    assert "共用手机号" in page.text and "叠贷" in page.text


def test_the_lookup_command_shows_the_signals(pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("EXCHANGE_DB_URL", pg_url)
    monkeypatch.setenv("EXCHANGE_HOME", str(tmp_path))
    monkeypatch.setenv("EXCHANGE_PSEUDONYM_KEY", SECRET)
    build(pg_url)

    def run(id_number: str, *more: str):
        return CliRunner().invoke(main, ["lookup", "--as", "BB02", "--id-type", "RESIDENT_ID", "--id", id_number,
                                         "--purpose", "loan_application", "--consent", "SQ-16", *more],
                                  catch_exceptions=False)

    answer = json.loads(run(SIGNAL_ID, "--json").output)
    assert [f["code"] for f in answer["signals"]["flags"]] == ["phone_sharing", "identity_mismatch", "loan_stacking"]
    assert json.loads(run(CLEAN_ID, "--json").output)["signals"]["flags"] == []
    text = run(SIGNAL_ID).output
    assert "共用手机号" in text and "phone sharing" in text and f"{RULES['stacking_window_days']} days" in text
    # the two look-ups of SIGNAL_ID before this one were BB02's own: one member
    assert "members that looked this applicant up" in text
