"""The portal: headless Chromium (Debian's package, driven by Playwright) logs in, uploads a file
and sees its verdict; plus HTTP-level checks of uploads, downloads and the association pages."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest
from access_world import LISTED_ID, build, live_server, portal_login
from builders import csv_text, loan_row

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser", shutil.which("chromium") or "")
                 if p and Path(p).exists()), None)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("portal-home")


@pytest.fixture(scope="module")
def server(pg_url, home):
    with live_server(pg_url, str(home)) as base:
        yield base


@pytest.fixture
def world(pg_url):
    return build(pg_url)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_browser_login_upload_and_see_the_verdict(server, world, tmp_path):
    from playwright.sync_api import sync_playwright

    good = tmp_path / "AA01_loans_20250131.csv"
    good.write_text(csv_text([loan_row(i) for i in range(1, 21)]), encoding="utf-8")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(server + "/portal")
        page.fill("#token", world.tokens["AA01"])
        page.click("#login")
        page.wait_for_selector("#who")
        assert "AA01" in page.inner_text("#who")
        page.set_input_files("#file", str(good))
        page.click("#upload")
        page.wait_for_selector("#verdict")
        assert page.get_attribute("#verdict", "data-code") == "accepted"
        assert page.inner_text("#verdict") == "已接受"
        assert "AA01_loans_20250131.csv" in page.inner_text("#submissions")
        page.goto(server + "/portal?lang=en")
        assert "Submissions and feedback" in page.content()
        assert page.inner_text("#submissions").count("accepted") >= 1
        page.fill("#id_number", LISTED_ID)
        page.fill("#consent_ref", "SQ-1")
        page.click("#lookup")
        page.wait_for_selector("#lookup-answer")
        assert "on the blacklist (B1, B4)" in page.inner_text("#lookup-answer")
        browser.close()


def test_upload_refuses_path_traversal_and_keeps_nothing(server, world, home):
    client, csrf = portal_login(server, world.tokens["AA01"])
    body = csv_text([loan_row(1)]).encode()
    kept = lambda: sorted(p for p in home.rglob("*") if p.is_file())  # noqa: E731 - the scratch root may appear
    before = kept()
    for name in ("../../AA01_loans_20250131.csv", "..\\AA01_loans_20250131.csv", "/etc/AA01_loans_20250131.csv",
                 "AA01_loans_20250131.csv\x00.txt"):
        r = client.post("/portal/upload", data={"csrf": csrf}, files={"file": (name, body, "text/csv")})
        assert r.status_code == 200
        assert re.search(r'id="verdict" data-code="rejected">[^<]* F_(PATH|NAME)<', r.text), name
    assert kept() == before and not list(home.parent.glob("AA01_loans_*"))


def test_upload_without_csrf_or_session_is_refused(server, world):
    client, _ = portal_login(server, world.tokens["AA01"])
    files = {"file": ("AA01_loans_20250131.csv", b"x", "text/csv")}
    assert client.post("/portal/upload", data={"csrf": "wrong"}, files=files).status_code == 403
    anonymous = httpx.post(server + "/portal/upload", files=files, follow_redirects=False)
    assert anonymous.status_code == 303


def test_upload_of_another_lenders_file_is_rejected(server, world):
    client, csrf = portal_login(server, world.tokens["BB02"])
    r = client.post("/portal/upload", data={"csrf": csrf},
                    files={"file": ("AA01_loans_20250131.csv", csv_text([loan_row(1)]).encode(), "text/csv")})
    assert "F_LENDER_MISMATCH" in r.text


def test_feedback_downloads_are_the_lenders_own(server, world):
    client, csrf = portal_login(server, world.tokens["AA01"])
    r = client.post("/portal/upload", data={"csrf": csrf}, files={
        "file": ("AA01_loans_20250131.csv", csv_text([loan_row(1), loan_row(2, principal="-1")]).encode(), "text/csv")})
    sid = re.search(r"(?:submission|提交编号) (\d+)", r.text).group(1)
    csv_resp = client.get(f"/portal/feedback/{sid}/csv")
    assert csv_resp.status_code == 200 and "message_zh" in csv_resp.text
    other, _ = portal_login(server, world.tokens["BB02"])
    assert other.get(f"/portal/feedback/{sid}/csv").status_code == 404
    assert httpx.get(f"{server}/portal/feedback/{sid}/csv").status_code == 404
    report = client.get(f"/portal/feedback/{sid}/report")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert report.headers["content-disposition"].startswith("inline") and "R_RANGE" in report.text
    assert other.get(f"/portal/feedback/{sid}/report").status_code == 404


def test_login_with_a_bad_token_and_the_association_pages(server, world):
    r = httpx.post(server + "/portal/login", data={"token": "' or 1=1 --"})
    assert r.status_code == 401 and "login-error" in r.text
    client, _ = portal_login(server, world.tokens["association"])
    assert 'id="disputes"' in client.get("/portal").text
    for tab, section in (("versions", 'id="versions"'), ("quality", 'id="quality"'), ("quality", 'id="findings"'),
                         ("lenders", 'id="lenders"'), ("tokens", 'id="tokens"')):
        assert section in client.get(f"/portal/{tab}").text, tab
    assert "★" in client.get("/portal/versions").text  # the live version is marked
    assert client.get("/portal/alerts").status_code == 404  # a lender's tab


def test_feed_exports_a_lender_gets_its_member_copy_the_association_the_full_one(server, world, home, pg_url):
    import psycopg

    full = home / "exports" / "1"
    full.mkdir(parents=True, exist_ok=True)
    (full / "default_feed.csv").write_text("lender_code\nAA01\nBB02\n", encoding="utf-8")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("update shared.feed_versions set export_dir = %s, export_checksums = %s where version = 1",
                     (str(full), '{"default_feed.csv": "x"}'))
    lender, _ = portal_login(server, world.tokens["AA01"])
    assert "/portal/exports/1/default_feed.csv" in lender.get("/portal").text
    feed = lender.get("/portal/exports/1/default_feed.csv")
    assert feed.status_code == 200
    assert "AA01" in feed.text and "online_microloan_company" in feed.text and "BB02" not in feed.text
    assert "source_submission_id" not in feed.text
    assert lender.get("/portal/exports/1/..%2F..%2Fpseudonym.key").status_code == 404
    assert lender.get("/portal/exports/1/pending.csv").status_code == 404
    association, _ = portal_login(server, world.tokens["association"])
    assert "BB02" in association.get("/portal/exports/1/default_feed.csv").text
