"""The web portal (门户): pages for lenders and the association, served by the API's app.

A lender logs in with its token and then uploads files (the same checks as
`exchange submit`, then ingested at once so the verdict shows), sees its submissions
with verdicts, downloads feedback and feed exports, and looks up applicants. The
association sees submission quality across lenders, feed versions, disputes with their
deadlines and under-classification findings. Chinese by default, English one click away.

Sessions live in this process's memory (a random id in an HttpOnly, SameSite=Strict
cookie); every form carries the session's CSRF token. A session is only as good as its
token: every request re-checks the token and its lender through the API's token cache, so
revoking the token or suspending the lender ends its sessions within
EXCHANGE_TOKEN_CACHE_SECONDS.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from exchange.access import lookup as lk
from exchange.access import tokens as access
from exchange.access.ratelimit import RateLimiter
from exchange.web import portal_data
from exchange.web.guard import CONTROL_CHARACTER_ERROR, has_control_characters
from exchange.web.render import templates

router = APIRouter(prefix="/portal", include_in_schema=False)
SESSION_COOKIE = "exchange_session"
SESSION_SECONDS = 8 * 3600


@dataclass(frozen=True)
class Session:
    token_hash: str
    csrf: str
    started: float


class Sessions:
    """The portal's sessions, at most `per_token` for each token (its oldest gives way to a new
    log-in), so one member logging in over and over can crowd out nobody but itself."""

    def __init__(self, per_token: int, lifetime: float = SESSION_SECONDS):
        self.per_token = max(per_token, 1)
        self.lifetime = lifetime
        self._by_id: dict[str, Session] = {}
        self._by_token: dict[str, OrderedDict[str, None]] = {}
        self._lock = threading.Lock()

    def start(self, token_hash: str) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        session = Session(token_hash, secrets.token_urlsafe(24), time.time())
        with self._lock:
            own = self._by_token.setdefault(token_hash, OrderedDict())
            while len(own) >= self.per_token:
                self._by_id.pop(own.popitem(last=False)[0], None)
            own[sid] = None
            self._by_id[sid] = session
        return sid, session

    def get(self, sid: str) -> Session | None:
        with self._lock:
            session = self._by_id.get(sid)
        if session is not None and time.time() - session.started > self.lifetime:
            self.end(sid)
            return None
        return session

    def end(self, sid: str) -> None:
        with self._lock:
            session = self._by_id.pop(sid, None)
            if session is not None:
                self._by_token.get(session.token_hash, {}).pop(sid, None)

    def end_token(self, token_hash: str) -> None:
        """Every session of a token that no longer authenticates (revoked, lender suspended)."""
        with self._lock:
            for sid in self._by_token.pop(token_hash, {}):
                self._by_id.pop(sid, None)


def sessions_from_env() -> Sessions:
    return Sessions(int(os.environ.get("EXCHANGE_PORTAL_SESSIONS_PER_TOKEN", "5")))


def login_limiters_from_env() -> tuple[RateLimiter, RateLimiter]:
    """(per token, per client address) log-in attempts a minute."""
    return (RateLimiter(float(os.environ.get("EXCHANGE_PORTAL_LOGINS_PER_TOKEN", "10"))),
            RateLimiter(float(os.environ.get("EXCHANGE_PORTAL_LOGINS_PER_ADDRESS", "60"))))


def _state(request: Request):
    return request.app.state.exchange


async def resolve_session(request: Request) -> tuple[access.Caller, str] | None:
    """(caller, csrf) of the request's session while its token still authenticates; called by the
    request guard before the route, which then finds it on request.state.portal_session."""
    sid = request.cookies.get(SESSION_COOKIE)
    session = _state(request).sessions.get(sid) if sid else None
    found = None
    if session is not None:
        who = await _state(request).caller_for_hash(session.token_hash)
        if who is None:
            _state(request).sessions.end_token(session.token_hash)
        else:
            found = (who, session.csrf)
    request.state.portal_session = found
    return found


def _session(request: Request) -> tuple[access.Caller, str] | None:
    return request.state.portal_session


def _lang(request: Request) -> str:
    return "en" if request.cookies.get("lang") == "en" or request.query_params.get("lang") == "en" else "zh"


def _render(request: Request, name: str, status: int = 200, headers: dict[str, str] | None = None,
            **ctx: Any) -> HTMLResponse:
    lang = _lang(request)

    def t(zh: str, en: str) -> str:
        return en if lang == "en" else zh

    html = templates.get_template(name).render(t=t, lang=lang, **ctx)
    response = HTMLResponse(html, status_code=status, headers=headers)
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie("lang", request.query_params["lang"], samesite="strict", httponly=True)
    return response


def _csrf_ok(session: tuple[access.Caller, str] | None, token: str) -> bool:
    return session is not None and secrets.compare_digest(session[1], token or "")


@router.get("", response_class=HTMLResponse)
def home(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _render(request, "login.html")
    who, csrf = session
    if who.is_association:
        return association_page(request, who, csrf)
    return lender_page(request, who, csrf)


@router.post("/login")
async def login(request: Request, token: str = Form(default="", max_length=200)) -> Response:
    st = _state(request)
    token = token.strip()
    per_token, per_address = st.login_limits
    address = request.client.host if request.client else "?"
    if not per_address.allow(address) or (access.well_formed(token) and not per_token.allow(access.hash_token(token))):
        return _render(request, "login.html", status=429, limited=True, headers={"Retry-After": "60"})
    who = await st.caller_async(token)
    if who is None:
        return _render(request, "login.html", status=401, error=True)
    sid, _ = st.sessions.start(access.hash_token(token))
    response = RedirectResponse("/portal", status_code=303)
    response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="strict", max_age=SESSION_SECONDS,
                        secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form(default="")) -> Response:
    sid = request.cookies.get(SESSION_COOKIE)
    if sid and _csrf_ok(_session(request), csrf):
        _state(request).sessions.end(sid)
    response = RedirectResponse("/portal", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def lender_page(request: Request, who: access.Caller, csrf: str, **extra: Any) -> HTMLResponse:
    st = _state(request)
    with st.pool.connection() as conn:
        subs = portal_data.submissions(conn, who)
        exports = portal_data.export_files(conn, st.settings.home, who)
        name = conn.execute("select name from control.lenders where lender_code = %s", (who.lender_code,)).fetchone()
    return _render(request, "lender.html", who=who, lender_name=name[0] if name else "", csrf=csrf,
                   submissions=subs, exports=exports, purposes=lk.PURPOSES, id_types=lk.ID_TYPES, **extra)


def association_page(request: Request, who: access.Caller, csrf: str) -> HTMLResponse:
    from exchange.access import disputes

    st = _state(request)
    with st.pool.connection() as conn:
        ctx = {
            "quality": portal_data.submission_quality(conn),
            "versions": portal_data.feed_versions(conn),
            "disputes": disputes.list_disputes(conn, who),
            "findings": portal_data.under_classification(conn),
            "exports": portal_data.export_files(conn, st.settings.home, who),
        }
    return _render(request, "association.html", who=who, csrf=csrf, **ctx)


@router.post("/upload", response_class=HTMLResponse)
def upload(request: Request, file: UploadFile, csrf: str = Form(default="")) -> Response:
    from exchange.core.errors import FileRejected
    from exchange.core.spec import VALIDATION_CODES
    from exchange.intake.ingest import ingest_path, submit
    from exchange.intake.readers import parse_file_name

    session = _session(request)
    if session is None or session[0].lender_code is None:
        return RedirectResponse("/portal", status_code=303)
    if not _csrf_ok(session, csrf):
        return Response("CSRF", status_code=403)
    who = session[0]
    st = _state(request)
    name = file.filename or ""
    result: dict[str, Any] = {"file": Path(name.replace("\\", "/")).name or "?"}
    try:
        parse_file_name(name)  # a path, a control character or a bad pattern is refused before anything is written
    except FileRejected as exc:
        r = VALIDATION_CODES.get(exc.code)
        result.update(ok=False, code=exc.code, message=f"{r.zh if r else ''} / {exc.message}")
        return lender_page(request, who, session[1], upload=result)
    scratch = Path(tempfile.mkdtemp(prefix="upload-", dir=_scratch_root(st)))
    try:
        target = scratch / name
        written = 0
        with target.open("wb") as out:
            while chunk := file.file.read(1 << 20):
                written += len(chunk)
                if written > st.settings.max_file_bytes:
                    break
                out.write(chunk)
        if written > st.settings.max_file_bytes:
            result.update(ok=False, code="F_SIZE", message=f"{VALIDATION_CODES['F_SIZE'].zh} / file exceeds the size limit")
            return lender_page(request, who, session[1], upload=result)
        outcome = submit(who.lender_code, [target], st.settings)[0]
        result.update(ok=outcome.accepted_for_processing, code=outcome.code, message=outcome.message)
        if outcome.accepted_for_processing and outcome.landing_path:
            ingested = ingest_path(st.settings.home / outcome.landing_path, st.settings)
            result.update(submission_id=ingested.submission_id, verdict=ingested.verdict,
                          reason=ingested.reason_code, rows_accepted=ingested.rows_accepted,
                          rows_rejected=ingested.rows_rejected)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return lender_page(request, who, session[1], upload=result)


def _scratch_root(st) -> Path:
    root = st.settings.state_dir / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    return root


@router.post("/lookup", response_class=HTMLResponse)
def lookup_form(request: Request, id_type: str = Form(default="", max_length=20),
                id_number: str = Form(default="", max_length=64), purpose: str = Form(default="", max_length=64),
                consent_ref: str = Form(default="", max_length=200), csrf: str = Form(default="")) -> Response:
    from exchange.web.app import run_lookup

    session = _session(request)
    if session is None or session[0].lender_code is None:
        return RedirectResponse("/portal", status_code=303)
    if not _csrf_ok(session, csrf):
        return Response("CSRF", status_code=403)
    if any(has_control_characters(v) for v in (id_type, id_number, purpose, consent_ref)):
        return lender_page(request, session[0], session[1], status=400, lookup_error=CONTROL_CHARACTER_ERROR)
    result = run_lookup(_state(request), session[0], lk.LookupRequest(id_type, id_number, purpose or None,
                                                                      consent_ref or None), "portal")
    if isinstance(result, lk.LookupRefused):
        return lender_page(request, session[0], session[1], lookup_error=result.as_dict())
    return lender_page(request, session[0], session[1], answer=result)


@router.get("/feedback/{submission_id}/{which}")
def feedback(request: Request, submission_id: int, which: str) -> Response:
    session = _session(request)
    if session is None or which not in ("csv", "summary"):
        return Response(status_code=404)
    st = _state(request)
    with st.pool.connection() as conn:
        path = portal_data.feedback_file(conn, session[0], submission_id, st.settings.home, which)
    if path is None:
        return Response(status_code=404)
    return FileResponse(path, filename=path.name)


@router.get("/exports/{version}/{name}")
def export(request: Request, version: int, name: str) -> Response:
    session = _session(request)
    if session is None:
        return Response(status_code=404)
    st = _state(request)
    with st.pool.connection() as conn:
        path = portal_data.export_file(conn, st.settings.home, version, name, session[0])
    if path is None:
        return Response(status_code=404)
    return FileResponse(path, filename=path.name)
