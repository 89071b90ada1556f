"""The portal's tabs: a lender's alerts, held records, disputes and reporting months (its own only),
the association's console actions (each audited, each refused without CSRF or from a lender),
paging and labels in both languages; headless Chromium screenshots of every tab."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import httpx
import psycopg
import pytest
from access_world import LISTED_ID, LISTED_KEY, PSEUDO, build, live_server, portal_login, status_file
from test_portal import CHROMIUM

from exchange.access import disputes
from exchange.access.tokens import Caller
from exchange.core.clock import local_today
from exchange.feed.tables import BLACKLIST_COLUMNS, DEFAULT_FEED_COLUMNS
from exchange.web import labels, portal_data
from exchange.web.paging import page_of

DEADLINE_DAYS = 15


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("portal-pages-home")


@pytest.fixture(scope="module")
def rules(pg_url):
    """The two rule tables the reporting months read, as dbt's seeds make them (dropped afterwards
    unless dbt had already built them)."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        existed = conn.execute("select to_regclass('rules.rule_parameters') is not null").fetchone()[0]
        if not existed:
            conn.execute("create schema if not exists rules")
            conn.execute("create table rules.rule_versions (rules_version text, effective_from date, description text,"
                         " source text)")
            conn.execute("create table rules.rule_parameters (rules_version text, parameter text, value integer,"
                         " unit text, source text)")
            conn.execute("insert into rules.rule_versions values ('v1', '2000-01-01', 'v1', 'test')")
            conn.execute("insert into rules.rule_parameters values ('v1', 'submission_deadline_days', %s, 'days',"
                         " 'test')", (DEADLINE_DAYS,))
    yield
    if not existed:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("drop table rules.rule_parameters, rules.rule_versions")


@pytest.fixture(scope="module")
def server(pg_url, home, rules):
    with live_server(pg_url, str(home)) as base:
        yield base


@pytest.fixture
def world(pg_url):
    return build(pg_url)


ASSOCIATION = Caller("association", None, 0)


def _open_dispute(pg_url: str, lender: str, loan_id: str) -> int:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return disputes.open_dispute(conn, ASSOCIATION, LISTED_KEY, "x", "wrong amount", PSEUDO, lender_code=lender,
                                     loan_id=loan_id)["dispute_id"]


def _audit(pg_url: str, action: str, obj: str) -> int:
    with psycopg.connect(pg_url) as conn:
        return conn.execute("select count(*) from control.audit_log where action = %s and object = %s",
                            (action, obj)).fetchone()[0]


def _visible_text(html: str) -> str:
    """The page without its tags and attribute values (codes kept in data-code attributes)."""
    return re.sub(r"<[^>]+>", " ", html)


# ---- the lender's tabs -------------------------------------------------------------------------

def test_lender_sees_its_own_alerts_with_its_contract_numbers_and_never_another_lenders(server, world, pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for code, loan_id in (("AA01", "AA-L1"), ("BB02", "BB-L9")):  # the alerts name the lenders' real loans
            conn.execute("update shared.lender_alerts_versions set loan_ref = %s where lender_code = %s",
                         (PSEUDO.loan_ref(code, loan_id), code))
    aa, _ = portal_login(server, world.tokens["AA01"])
    page = aa.get("/portal/alerts").text
    assert 'data-code="default_elsewhere">他处违约' in page
    assert "AA-L1" in page and PSEUDO.loan_ref("AA01", "AA-L1")[:12] in page
    assert "BB-L9" not in page and PSEUDO.loan_ref("BB02", "BB-L9")[:12] not in page
    assert "在其他会员机构违约" in page
    english = aa.get("/portal/alerts?lang=en").text
    assert "in default elsewhere" in english and "default_elsewhere" not in _visible_text(english)


def test_lender_sees_its_held_records_with_what_releases_them(server, world):
    aa, _ = portal_login(server, world.tokens["AA01"])
    page = aa.get("/portal/held").text
    assert 'data-code="pending_notice">待告知' in page
    assert "AA-L1" in page and "BB-L9" not in page  # its own contract number, found under its own role
    assert "notice_date" in page and "下一份账户状态文件" in page
    english = aa.get("/portal/held?lang=en").text
    assert "send a notice_date" in english and "pending notice" in english
    bb, _ = portal_login(server, world.tokens["BB02"])
    other = bb.get("/portal/held").text  # the world names AA01's row as the source of BB02's held record too:
    assert 'data-code="pending_notice"' in other and "AA-L1" not in other  # row-level security hides it


def test_lender_sees_disputes_on_its_own_records_with_beijing_deadlines(server, world, pg_url):
    own = _open_dispute(pg_url, "AA01", "AA-L1")
    other = _open_dispute(pg_url, "BB02", "BB-L9")
    aa, _ = portal_login(server, world.tokens["AA01"])
    page = aa.get("/portal/disputes").text
    assert f"<td>{own}</td>" in page and f"<td>{other}</td>" not in page
    assert (local_today() + dt.timedelta(days=20)).isoformat() in page  # the deadline, a Beijing date
    assert 'data-code="open">处理中' in page
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d", page)  # times as people write them
    assert "open" in _visible_text(aa.get("/portal/disputes?lang=en").text)


def test_reporting_months_say_late_on_time_missing_and_not_yet_due(server, world, pg_url):
    today = local_today()
    this_month = today.replace(day=1)
    month = lambda back: (this_month - dt.timedelta(days=28 * back)).replace(day=1)  # noqa: E731
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for sid, back, days_after_due in ((50, 5, 3), (51, 4, -2)):
            period = month(back)
            end = (period + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
            status_file(conn, sid, "CC03", end, [])
            conn.execute("update control.submissions set received_at = %s where submission_id = %s",
                         (dt.datetime.combine(end + dt.timedelta(days=DEADLINE_DAYS + days_after_due), dt.time(12),
                                              labels.EXCHANGE_TZ), sid))
    cc, _ = portal_login(server, world.tokens["CC03"])
    page = cc.get("/portal/periods").text
    rows = dict(re.findall(r"<tr[^>]*><td>(\d{4}-\d{2})</td>.*?data-code=\"(\w+)\"", page, flags=re.S))
    assert rows[month(5).strftime("%Y-%m")] == "late"
    assert rows[month(4).strftime("%Y-%m")] == "on_time"
    assert rows[month(2).strftime("%Y-%m")] == "missing"
    assert rows[this_month.strftime("%Y-%m")] == "not_yet_due"  # the open month is not missing before its deadline
    assert "未到期" in page and "迟报" in page
    assert "not yet due" in cc.get("/portal/periods?lang=en").text


def test_timeliness_turns_on_the_beijing_deadline():
    due = dt.date(2026, 11, 15)
    assert portal_data.timeliness(None, due, dt.date(2026, 11, 15)) == "not_yet_due"
    assert portal_data.timeliness(None, due, dt.date(2026, 11, 16)) == "missing"
    assert portal_data.timeliness(dt.date(2026, 11, 15), due, dt.date(2026, 12, 1)) == "on_time"
    assert portal_data.timeliness(dt.date(2026, 11, 16), due, dt.date(2026, 12, 1)) == "late"
    assert portal_data.timeliness(None, None, dt.date(2026, 12, 1)) is None
    assert portal_data.timeliness(None, due, dt.date(2026, 12, 1), partial=True) == "partial"


def test_submissions_are_paged_and_labelled_in_both_languages(server, world, pg_url):
    today = local_today()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for i in range(30):
            status_file(conn, 200 + i, "AA01", today - dt.timedelta(days=i), [])
        conn.execute("update control.submissions set verdict = 'accepted_with_errors' where submission_id = 229")
        status_file(conn, 300, "BB02", today, [])
    aa, _ = portal_login(server, world.tokens["AA01"])
    first = aa.get("/portal/submissions").text
    assert 'id="pager-p"' in first and "1 / 2" in first and "?p=2" in first
    assert first.count('data-code="accepted') == 25
    second = aa.get("/portal/submissions?p=2").text
    assert second.count('data-code="accepted') == 32 - 25  # 30 here, 2 from the world
    assert aa.get("/portal/submissions?p=99").text.count('data-code="accepted') == 7  # clamped to the last page
    assert "BB02_" not in first + second
    assert "部分接受（含错误行）" in first and "账户状态" in first
    assert "accepted_with_errors" not in _visible_text(first)
    english = aa.get("/portal/submissions?lang=en").text
    assert "accepted with errors" in english and "accepted_with_errors" not in _visible_text(english)
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d", first)


def test_labels_numbers_and_times():
    assert labels.pct("0.0095") == "0.95 %" and labels.pct(None) == ""
    assert labels.num(1234567) == "1,234,567" and labels.num("12345.678") == "12,345.68"
    assert labels.when("2026-11-30T04:05:06+00:00") == "2026-11-30 12:05"
    assert labels.day("2026-11-30T20:00:00+00:00") == "2026-12-01"
    assert labels.label("live", "zh") == "当前生效" and labels.label("live", "en") == "live"
    assert labels.label("consumer_loan", "zh") == "消费贷" and labels.label("consumer_loan", "en") == "consumer loan"
    assert labels.label("rejected", "zh", "dispute") == "异议不成立" and labels.label("rejected", "zh") == "已退回"
    assert labels.label("NO_SUCH_CODE", "zh") == "NO_SUCH_CODE"


# ---- the association's console ----------------------------------------------------------------

def test_association_resolves_a_dispute_audited_and_told_when_it_applies(server, world, pg_url):
    dispute_id = _open_dispute(pg_url, "AA01", "AA-L1")
    client, csrf = portal_login(server, world.tokens["association"])
    page = client.get("/portal/disputes").text
    assert 'id="near-deadline"' not in page and "exchange pipeline" in page
    r = client.post(f"/portal/disputes/{dispute_id}/resolve", data={"csrf": csrf, "outcome": "upheld",
                                                                    "note": "the lender confirmed the error"})
    assert r.status_code == 200 and 'id="action-done"' in r.text and "exchange pipeline" in r.text
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("select status, resolution_reason from control.disputes where dispute_id = %s",
                            (dispute_id,)).fetchone() == ("upheld", "the lender confirmed the error")
    assert _audit(pg_url, "dispute_resolved", str(dispute_id)) == 1
    again = client.post(f"/portal/disputes/{dispute_id}/resolve", data={"csrf": csrf, "outcome": "rejected",
                                                                        "note": "twice"})
    assert again.status_code == 400 and "D_UNKNOWN" in again.text


def test_disputes_near_their_deadline_are_highlighted(server, world, pg_url):
    near = _open_dispute(pg_url, "AA01", "AA-L1")
    far = _open_dispute(pg_url, "BB02", "BB-L9")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("update control.disputes set deadline = deadline - 17 where dispute_id = %s", (near,))
    client, _ = portal_login(server, world.tokens["association"])
    page = client.get("/portal/disputes").text
    assert 'id="near-deadline"' in page
    assert f'class="near" id="dispute-{near}"' in page and f'class="" id="dispute-{far}"' in page


def test_association_suspends_and_reinstates_a_lender(server, world, pg_url):
    client, csrf = portal_login(server, world.tokens["association"])
    lender, _ = portal_login(server, world.tokens["BB02"])
    r = client.post("/portal/lenders/BB02/status", data={"csrf": csrf, "action": "suspend", "reason": "unpaid fees"})
    assert r.status_code == 200 and 'id="lender-BB02"' in r.text and 'data-code="suspended">已暂停' in r.text
    assert _audit(pg_url, "lender_suspended", "BB02") == 1
    assert 'id="token"' in lender.get("/portal", follow_redirects=True).text  # its session ended: the log-in page
    r = client.post("/portal/lenders/BB02/status", data={"csrf": csrf, "action": "reinstate", "reason": "paid"})
    assert 'data-code="active"' in r.text and _audit(pg_url, "lender_active", "BB02") == 1
    assert client.post("/portal/lenders/BB02/status", data={"csrf": csrf, "action": "suspend",
                                                            "reason": ""}).status_code == 400


def test_association_issues_a_token_shown_once_and_revokes_it(server, world, pg_url):
    client, csrf = portal_login(server, world.tokens["association"])
    issued_before = _audit(pg_url, "token_issued", "CC03")  # the world's own token
    r = client.post("/portal/tokens/issue", data={"csrf": csrf, "lender_code": "CC03", "label": "new system"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    token = re.search(r'id="new-token-value">(cx_[A-Za-z0-9_-]+)<', r.text).group(1)
    token_id = int(re.search(r"#(\d+) CC03", r.text).group(1))
    assert _audit(pg_url, "token_issued", "CC03") == issued_before + 1
    assert token not in client.get("/portal/tokens").text  # shown once
    api = httpx.get(server + "/v1/submissions", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    r = client.post(f"/portal/tokens/{token_id}/revoke", data={"csrf": csrf, "reason": "replaced"})
    assert r.status_code == 200 and 'id="action-done"' in r.text
    assert _audit(pg_url, "token_revoked", "CC03") == 1
    assert httpx.get(server + "/v1/submissions", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    unknown = client.post("/portal/tokens/issue", data={"csrf": csrf, "lender_code": "ZZ99", "label": ""})
    assert unknown.status_code == 400 and "L_UNKNOWN" in unknown.text


def test_association_approves_a_failed_version_with_a_reason(server, world, pg_url, home):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("insert into shared.feed_versions (version, as_of_date, content_sha256, status, blacklist_rows,"
                     " default_feed_rows, validation_success, validation) values (2, current_date, %s, 'failed', 0, 0,"
                     " false, %s)", ("b" * 64, '{"success": false, "failed": ["row_count_within_range"]}'))
    client, csrf = portal_login(server, world.tokens["association"])
    assert 'id="approve-2"' in client.get("/portal/versions").text
    short = client.post("/portal/versions/2/approve", data={"csrf": csrf, "reason": "ok"})
    assert short.status_code == 400 and "P_APPROVAL_REASON" in short.text
    r = client.post("/portal/versions/2/approve", data={"csrf": csrf, "reason": "the drop is the purge we expected"})
    assert r.status_code == 200 and 'id="action-done"' in r.text, r.text[-2000:]
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("select status, approval_reason from shared.feed_versions where version = 2").fetchone() \
            == ("live", "the drop is the purge we expected")
        assert conn.execute("select count(*) from control.audit_log where action = 'feed_approve'"
                            " and object = 'feed_version:2'").fetchone()[0] == 1
    assert client.post("/portal/versions/1/approve", data={"csrf": csrf, "reason": "the drop is expected"}
                       ).status_code == 400  # only a failed version needs an approval


def test_diff_between_two_versions_counts_added_removed_and_changed(server, world, pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("insert into shared.feed_versions (version, as_of_date, content_sha256, status)"
                     " values (3, current_date, %s, 'failed')", ("c" * 64,))
        columns = ", ".join(BLACKLIST_COLUMNS)
        changed = columns.replace("total_overdue", "total_overdue + 1").replace("source_line", "7")
        conn.execute(f"insert into shared.blacklist_rows (version, {columns}) select 3, {changed}"
                     " from shared.blacklist_rows where version = 1")
        columns = ", ".join(DEFAULT_FEED_COLUMNS)
        conn.execute(f"insert into shared.default_feed_rows (version, {columns}) select 3, {columns}"
                     " from shared.default_feed_rows where version = 1 and lender_code = 'AA01'")
    client, _ = portal_login(server, world.tokens["association"])
    page = client.get("/portal/versions?old=1&new=3").text
    cells = lambda table: re.findall(r'class="num">(\d+)</td>',  # noqa: E731
                                     re.search(rf'id="diff-{table}">(.*?)</tr>', page, flags=re.S).group(1))
    assert cells("blacklist") == ["0", "0", "1"]
    assert cells("default_feed") == ["0", "1", "0"]
    assert cells("lender_alerts") == ["0", "2", "0"]
    assert "恶意逾期名单" in page


@pytest.mark.parametrize(("path", "data"), [
    ("/portal/disputes/1/resolve", {"outcome": "upheld", "note": "x"}),
    ("/portal/versions/1/approve", {"reason": "a long enough reason"}),
    ("/portal/lenders/BB02/status", {"action": "suspend", "reason": "x"}),
    ("/portal/tokens/issue", {"lender_code": "BB02", "label": "x"}),
    ("/portal/tokens/1/revoke", {"reason": "x"}),
])
def test_console_actions_are_refused_without_csrf_or_from_a_lender(server, world, pg_url, path, data):
    def changes() -> tuple:
        with psycopg.connect(pg_url) as conn:
            return conn.execute("select (select count(*) from control.audit_log),"
                                " (select count(*) from control.api_tokens),"
                                " (select string_agg(status, ',' order by lender_code) from control.lenders)").fetchone()

    before = changes()
    association, _ = portal_login(server, world.tokens["association"])
    assert association.post(path, data={**data, "csrf": "forged"}).status_code == 403
    assert association.post(path, data=data).status_code == 403
    lender, lender_csrf = portal_login(server, world.tokens["AA01"])
    assert lender.post(path, data={**data, "csrf": lender_csrf}).status_code == 403
    assert httpx.post(server + path, data=data, follow_redirects=False).status_code == 303
    assert association.get(path).status_code in (404, 405)  # POST only
    assert changes() == before


# ---- what the pages look like ------------------------------------------------------------------

@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_screenshots_of_every_tab(server, world, pg_url, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    from exchange.web.portal import ASSOCIATION_TABS, LENDER_TABS

    _open_dispute(pg_url, "AA01", "AA-L1")
    shots = tmp_path_factory.mktemp("portal-screenshots")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        for who, tabs in (("AA01", LENDER_TABS), ("association", ASSOCIATION_TABS)):
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(server + "/portal")
            page.fill("#token", world.tokens[who])
            page.click("#login")
            page.wait_for_selector("#tabs")
            for lang in ("zh", "en"):
                for tab in tabs:
                    page.goto(f"{server}/portal/{tab}?lang={lang}")
                    assert page.get_attribute(f"#tab-{tab}", "class") == "current"
                    assert page.locator("table, form").count() > 0
                    page.screenshot(path=str(shots / f"{who}-{tab}-{lang}.png"), full_page=True)
            page.close()
        browser.close()
    print(f"screenshots in {shots}")
    assert len(list(shots.glob("*.png"))) == 2 * (len(LENDER_TABS) + len(ASSOCIATION_TABS))


def test_the_data_subject_report_uses_the_same_labels_and_beijing_times(server, world):
    r = httpx.post(server + "/v1/reports", json={"id_type": "RESIDENT_ID", "id_number": LISTED_ID, "format": "html"},
                   headers={"Authorization": f"Bearer {world.tokens['association']}"})
    assert r.status_code == 200
    assert "消费贷 consumer_loan" in r.text and "12,345.67" in r.text and "北京时间" in r.text
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d", r.text)


def test_a_page_number_is_clamped_and_never_grows_the_list():
    rows = list(range(60))
    assert page_of(rows, None).rows == rows[:25] and page_of(rows, None).pages == 3
    third = page_of(rows, "3")
    assert third.rows == rows[50:] and (third.first_row, third.last_row) == (51, 60)
    assert page_of(rows, "99").number == 3 and page_of(rows, "-4").number == 1 and page_of(rows, "x").number == 1
    assert page_of([], "2").rows == [] and page_of([], "2").first_row == 0
    assert page_of(rows, "2", size=10).first_row == 11
