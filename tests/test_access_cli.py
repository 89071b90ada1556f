"""The access commands: tokens, lookup, disputes, report."""

from __future__ import annotations

import json

import psycopg
import pytest
from access_world import LISTED_ID, LISTED_KEY, SECRET, build
from click.testing import CliRunner

from exchange.cli.main import main
from exchange.core.identifiers import Pseudonymizer


@pytest.fixture
def run(pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("EXCHANGE_DB_URL", pg_url)
    monkeypatch.setenv("EXCHANGE_HOME", str(tmp_path))
    monkeypatch.setenv("EXCHANGE_PSEUDONYM_KEY", SECRET)
    build(pg_url)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_tokens_issue_list_revoke(run, pg_url):
    issued = run("tokens", "issue", "--lender", "AA01", "--label", "risk desk")
    assert issued.exit_code == 0
    token = issued.output.strip().splitlines()[-1]
    assert token.startswith("cx_")
    listed = json.loads(run("tokens", "list", "--lender", "AA01", "--json").output)
    assert [t["label"] for t in listed][-1] == "risk desk" and token not in json.dumps(listed)
    token_id = listed[-1]["token_id"]
    assert run("tokens", "revoke", str(token_id), "--reason", "left").exit_code == 0
    assert run("tokens", "revoke", str(token_id), "--reason", "again").exit_code == 2
    assert run("tokens", "issue", "--lender", "ZZ99").exit_code == 2


def test_lookup_command_answers_and_audits(run, pg_url):
    out = run("lookup", "--as", "AA01", "--id-type", "RESIDENT_ID", "--id", LISTED_ID, "--purpose",
              "loan_application", "--consent", "SQ-9", "--json")
    assert out.exit_code == 0
    answer = json.loads(out.output)
    assert answer["blacklist"]["listed"] and LISTED_ID not in out.output
    refused = run("lookup", "--as", "AA01", "--id-type", "RESIDENT_ID", "--id", LISTED_ID, "--consent", "SQ-9")
    assert refused.exit_code == 3 and "Q_PURPOSE" in refused.output
    stale = run("lookup", "--as", "CC03", "--id-type", "RESIDENT_ID", "--id", LISTED_ID, "--purpose",
                "loan_application", "--consent", "SQ-9")
    assert stale.exit_code == 3 and "Q_GIVE_TO_GET" in stale.output
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("select channel, outcome, refusal_code from control.lookup_audit order by lookup_id").fetchall()
    assert rows == [("cli", "answered", None), ("cli", "refused", "Q_PURPOSE"), ("cli", "refused", "Q_GIVE_TO_GET")]


def test_disputes_open_list_resolve(run, pg_url):
    opened = run("disputes", "open", "--id-type", "RESIDENT_ID", "--id", LISTED_ID, "--record", "listing",
                 "--reason", "本人称已结清")
    assert opened.exit_code == 0 and "deadline" in opened.output
    episode = run("disputes", "open", "--id-type", "RESIDENT_ID", "--id", LISTED_ID, "--lender", "BB02",
                  "--loan-id", "BB-L9", "--reason", "重复报送")
    assert episode.exit_code == 0
    wrong = run("disputes", "open", "--id-type", "RESIDENT_ID", "--id", LISTED_ID, "--lender", "BB02",
                "--loan-id", "NOPE", "--reason", "x")
    assert wrong.exit_code == 2 and "D_RECORD" in wrong.output
    listed = json.loads(run("disputes", "list", "--json").output)
    assert [d["record_kind"] for d in listed] == ["default_episode", "listing"]
    assert all(d["days_left"] == 20 and not d["overdue"] for d in listed)
    assert run("disputes", "resolve", str(listed[0]["dispute_id"]), "--outcome", "upheld", "--reason",
               "机构核实").exit_code == 0
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("select record_kind, lender_code, loan_id, status, borrower_key from control.disputes"
                            " order by dispute_id").fetchall()
    assert rows == [("listing", None, None, "open", LISTED_KEY), ("default_episode", "BB02", "BB-L9", "upheld", LISTED_KEY)]
    assert "OVERDUE" not in run("disputes", "list").output


def test_a_phone_link_dispute_names_the_loans_phone_by_its_hash_only(run, pg_url):
    """A data subject contests the phone one loan reported for them (issue 16): the dispute holds the
    loan and the keyed phone hash, never the number; a loan that reported no such phone is refused."""
    phone = "13912345678"
    phone_hash = Pseudonymizer(SECRET.encode()).phone_hash(phone)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("update raw.loans set phone_hash = %s where loan_id = 'AA-L1'", (phone_hash,))
    base = ("disputes", "open", "--id-type", "RESIDENT_ID", "--id", LISTED_ID, "--record", "phone_link")
    no_phone = run(*base, "--lender", "BB02", "--loan-id", "BB-L9", "--reason", "号码不是本人的")
    assert no_phone.exit_code == 2 and "D_PHONE" in no_phone.output
    other = run(*base, "--lender", "AA01", "--loan-id", "AA-L1", "--phone", "13900000000", "--reason", "x")
    assert other.exit_code == 2 and "D_PHONE" in other.output
    opened = run(*base, "--lender", "AA01", "--loan-id", "AA-L1", "--phone", phone, "--reason", "号码不是本人的")
    assert opened.exit_code == 0 and "phone_link" in opened.output
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("select record_kind, lender_code, loan_id, phone_hash, status from control.disputes"
                            " where borrower_key = %s", (LISTED_KEY,)).fetchall()
        logged = conn.execute("select string_agg(detail::text, ' ') from control.audit_log").fetchone()[0]
    assert rows == [("phone_link", "AA01", "AA-L1", phone_hash, "open")]
    assert phone not in (logged or "") and phone not in opened.output


def test_report_command_json_and_html(run, tmp_path):
    page = tmp_path / "report.html"
    out = run("report", "--id-type", "RESIDENT_ID", "--id", LISTED_ID, "--html", str(page))
    assert out.exit_code == 0
    data = json.loads(out.output)
    assert data["blacklist"]["reason_codes"] == "B1,B4" and len(data["default_episodes"]) == 2
    assert "本人信用报告" in page.read_text(encoding="utf-8") and LISTED_ID not in out.output
