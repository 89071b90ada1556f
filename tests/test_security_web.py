"""The standing security suite of the web layer: what an attacker on the network tried (issue 12).

Portal sessions die with their token or lender, log-in floods evict nobody else, bodies are
refused before they are read, control characters and malformed JSON are 400s in the exchange's
error format, and a missing database is a 503 with Retry-After, never a 500."""

from __future__ import annotations

import select
import socket
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import schemathesis
from access_world import LISTED_ID, build, free_port, live_server, portal_login
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from exchange.access import tokens as access
from exchange.web.cache import MISSING, ExpiringCache
from exchange.web.sessions import Sessions

LOOKUP_FORM = {"id_type": "RESIDENT_ID", "id_number": LISTED_ID, "purpose": "loan_application", "consent_ref": "SQ-1"}
DISPUTE = {"id_type": "RESIDENT_ID", "id_number": LISTED_ID, "record": "listing", "reason": "本人称已结清"}
BIG = 300 * 1024 * 1024


@pytest.fixture(scope="module")
def server(pg_url, tmp_path_factory):
    with live_server(pg_url, str(tmp_path_factory.mktemp("security-home")), EXCHANGE_LOOKUP_RATE="100000",
                     EXCHANGE_LOOKUP_BURST="100000", EXCHANGE_MAX_FILE_MB="1") as base:
        yield base


@pytest.fixture
def world(pg_url):
    return build(pg_url)


def lookups_audited(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select count(*) from control.lookup_audit").fetchone()[0]


@pytest.mark.parametrize("how", ["revoke the token", "suspend the lender"])
def test_a_portal_session_ends_with_its_token_or_lender(server, world, pg_url, how):
    client, csrf = portal_login(server, world.tokens["AA01"])
    answered = client.post("/portal/lookup", data=LOOKUP_FORM | {"csrf": csrf})
    assert answered.status_code == 200 and 'id="lookup-answer"' in answered.text
    with psycopg.connect(pg_url, autocommit=True) as conn:
        if how == "revoke the token":
            access.revoke_token(conn, world.token_ids["AA01"], "test")
        else:
            conn.execute("update control.lenders set status = 'suspended' where lender_code = 'AA01'")
    before = lookups_audited(pg_url)
    refused = client.post("/portal/lookup", data=LOOKUP_FORM | {"csrf": csrf}, follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"] == "/portal"
    assert lookups_audited(pg_url) == before  # no answer, no look-up
    assert 'id="token"' in client.get("/portal").text  # back at the log-in page
    other, _ = portal_login(server, world.tokens["BB02"])  # another member is untouched
    assert 'id="who"' in other.get("/portal").text


def test_a_login_flood_evicts_only_the_flooders_own_sessions():
    sessions = Sessions(per_token=5)
    victim, _ = sessions.start("victim-token-hash")
    first_of_flood, _ = sessions.start("flooder-token-hash")
    for _ in range(10_050):
        sessions.start("flooder-token-hash")
    assert sessions.get(victim) is not None
    assert sessions.get(first_of_flood) is None  # its own oldest gave way


def test_a_flood_of_new_tokens_evicts_only_the_oldest_cached_token_checks():
    cache = ExpiringCache(ttl=60, max_entries=3)
    for key in ("a", "b", "c", "d"):
        cache.put(key, key.upper())
    assert cache.get("a") is MISSING
    assert [cache.get(key) for key in ("b", "c", "d")] == ["B", "C", "D"]


def test_portal_logins_are_rate_limited_per_token_without_touching_others(server, world):
    other, _ = portal_login(server, world.tokens["BB02"])
    codes = [httpx.post(server + "/portal/login", data={"token": world.tokens["CC03"]}).status_code
             for _ in range(12)]
    assert codes[:10] == [303] * 10 and codes[10:] == [429, 429]
    assert 'id="who"' in other.get("/portal").text


def _streamed(base: str, path: str, headers: dict[str, str], *, send_all: bool, first: bytes = b"") -> tuple[int, int]:
    """POST a chunked body of up to 300 MB over a raw socket, stopping as soon as the server answers;
    returns (status, body bytes sent). With send_all False only the first chunk is sent and the
    answer awaited: a server that reads the body before answering never answers."""
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nTransfer-Encoding: chunked\r\n{head}\r\n".encode())
    chunk = b"x" * 65536
    sent = 0
    while sent < BIG:
        if select.select([sock], [], [], 0)[0]:
            break
        data = first + chunk if sent == 0 else chunk
        try:
            sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(chunk)
        if not send_all:
            break
    status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    sock.close()
    return int(status_line.split()[1]), sent


@pytest.mark.parametrize("path", ["/v1/disputes", "/v1/lookup", "/v1/reports"])
def test_an_unauthenticated_body_is_refused_before_it_is_read(server, world, path):
    status, sent = _streamed(server, path, {"Content-Type": "application/json"}, send_all=False)
    assert status == 401 and sent <= 65536


def test_a_portal_upload_without_a_session_is_refused_before_it_is_read(server, world):
    status, sent = _streamed(server, "/portal/upload", {"Content-Type": "multipart/form-data; boundary=b"},
                             send_all=False)
    assert status == 303 and sent <= 65536


def test_a_declared_oversized_body_is_413_without_reading_it(server, world):
    url = urlsplit(server)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(f"POST /v1/disputes HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer "
                     f"{world.tokens['AA01']}\r\nContent-Type: application/json\r\nContent-Length: {BIG}\r\n\r\n".encode())
        answer = sock.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 413") and '"code":"Q_TOO_LARGE"' in answer


@pytest.mark.parametrize("path,token", [("/v1/disputes", "AA01"), ("/portal/upload", None)])
def test_an_authenticated_streamed_body_stops_at_the_limit(server, world, path, token):
    if token is None:
        client, _ = portal_login(server, world.tokens["AA01"])
        headers = {"Cookie": f"exchange_session={client.cookies['exchange_session']}",
                   "Content-Type": "multipart/form-data; boundary=b"}
    else:
        headers = {"Authorization": f"Bearer {world.tokens[token]}", "Content-Type": "application/json"}
    status, sent = _streamed(server, path, headers, send_all=True, first=b'--b\r\nContent-Disposition: form-data;'
                             b' name="file"; filename="AA01_loans_20250131.csv"\r\n\r\n')
    assert status == 413
    assert sent < 32 * 1024 * 1024  # the limit (64 KB, or 1 MB + envelope) plus what the socket buffers held


@pytest.mark.parametrize("field,value", [("reason", "已结清\x00"), ("reason", "a\x1bb"), ("record", "listing\x00"),
                                         ("id_number", LISTED_ID + "\x00")])
def test_control_characters_in_a_dispute_are_400_in_the_exchange_format(server, world, field, value):
    r = httpx.post(server + "/v1/disputes", json=DISPUTE | {field: value},
                   headers={"Authorization": f"Bearer {world.tokens['AA01']}"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "Q_CONTROL_CHAR"


def test_tabs_and_line_breaks_stay_allowed_in_free_text(server, world):
    r = httpx.post(server + "/v1/disputes", json=DISPUTE | {"reason": "第一行\n第二行\t（已结清）"},
                   headers={"Authorization": f"Bearer {world.tokens['AA01']}"})
    assert r.status_code == 200, r.text


def test_a_control_character_in_the_portal_lookup_form_is_400(server, world):
    client, csrf = portal_login(server, world.tokens["AA01"])
    r = client.post("/portal/lookup", data=LOOKUP_FORM | {"consent_ref": "SQ\x00-1", "csrf": csrf})
    assert r.status_code == 400 and "Q_CONTROL_CHAR" in r.text


@pytest.mark.parametrize("path", ["/v1/lookup", "/v1/disputes", "/v1/reports"])
def test_malformed_json_answers_in_the_exchange_error_format(server, world, path):
    r = httpx.post(server + path, content=b'{"id_type": "RESIDENT_ID",', headers={
        "Authorization": f"Bearer {world.tokens['association']}", "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "Q_MALFORMED" and "detail" not in r.json()


def test_unknown_paths_answer_in_the_exchange_error_format(server, world):
    r = httpx.get(server + "/nowhere")
    assert r.status_code == 404 and set(r.json()["error"]) == {"code", "message_zh", "message_en"}


def test_an_unavailable_database_is_503_with_retry_after(tmp_path, world):
    closed = f"host=127.0.0.1 port={free_port()} user=postgres dbname=exchange connect_timeout=2"
    with live_server(closed, str(tmp_path)) as base:
        token = {"Authorization": f"Bearer {world.tokens['AA01']}"}
        answers = [httpx.post(base + "/v1/lookup", json=LOOKUP_FORM, headers=token, timeout=20),
                   httpx.get(base + "/v1/health", timeout=20),
                   httpx.post(base + "/portal/login", data={"token": world.tokens["AA01"]}, timeout=20)]
    for r in answers:
        assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0
        assert r.json()["error"]["code"] == "Q_UNAVAILABLE"


CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize("who", ["AA01", "association"])
def test_the_openapi_document_tells_the_truth(server, world, who, mode):
    """schemathesis against the live document: no 5xx, and every status, content type and body documented.
    Bounded (60 generated requests per run, no shrinking) to stay a test, not a fuzzing campaign."""
    schema = schemathesis.openapi.from_url(server + "/openapi.json")
    auth = {"Authorization": f"Bearer {world.tokens[who]}"}

    @settings(max_examples=60, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=schema.as_strategy(generation_mode=mode))
    def conforms(case):
        case.call_and_validate(headers=auth, checks=CONFORMANCE)

    conforms()
