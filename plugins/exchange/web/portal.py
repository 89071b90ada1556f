"""The web portal (门户): pages for lenders and the association, served by the API's app.

A lender logs in with its token and then uploads files (the same checks as
`exchange submit`, then ingested at once so the verdict shows), sees its submissions
with verdicts, downloads feedback and feed exports, and looks up applicants. The
association sees submission quality across lenders, feed versions, disputes with their
deadlines and under-classification findings. Chinese by default, English one click away.

Sessions (exchange.web.sessions) live in this process's memory; every form carries the
session's CSRF token. A session is only as good as its token: every request re-checks the
token and its lender through the token cache (exchange.web.auth), so revoking the token or
suspending the lender ends its sessions within EXCHANGE_TOKEN_CACHE_SECONDS.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from exchange.access import disputes
from exchange.access import lookup as lk
from exchange.access import tokens as access
from exchange.core.errors import ExchangeError
from exchange.core.spec import VALIDATION_CODES
from exchange.web import portal_data, uploads
from exchange.web.auth import PortalSession
from exchange.web.guard import CONTROL_CHARACTER_ERROR, error_response, has_control_characters
from exchange.web.lookups import run_lookup
from exchange.web.render import templates
from exchange.web.sessions import SESSION_COOKIE, SESSION_SECONDS
from exchange.web.state import State

router = APIRouter(prefix="/portal", include_in_schema=False)


def _state(request: Request) -> State:
    return request.app.state.exchange


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
async def home(request: Request, session: PortalSession) -> Response:
    if session is None:
        return _render(request, "login.html")
    who, csrf = session
    if who.is_association:
        return await association_page(request, who, csrf)
    return await lender_page(request, who, csrf)


@router.post("/login")
async def login(request: Request, token: str = Form(default="", max_length=200)) -> Response:
    st = _state(request)
    token = token.strip()
    per_token, per_address = st.login_limits
    address = request.client.host if request.client else "?"
    if not per_address.allow(address) or (access.well_formed(token) and not per_token.allow(access.hash_token(token))):
        return _render(request, "login.html", status=429, limited=True, headers={"Retry-After": "60"})
    who = await st.caller_for_token(token)
    if who is None:
        return _render(request, "login.html", status=401, error=True)
    sid, _ = st.sessions.start(access.hash_token(token))
    response = RedirectResponse("/portal", status_code=303)
    response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="strict", max_age=SESSION_SECONDS,
                        secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(request: Request, session: PortalSession, csrf: str = Form(default="")) -> Response:
    sid = request.cookies.get(SESSION_COOKIE)
    if sid and _csrf_ok(session, csrf):
        _state(request).sessions.end(sid)
    response = RedirectResponse("/portal", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


async def lender_page(request: Request, who: access.Caller, csrf: str, status: int = 200,
                      **extra: Any) -> HTMLResponse:
    st = _state(request)
    subs = await portal_data.submissions(st.pool, who)
    exports = await portal_data.export_files(st.pool, who)
    name = await st.pool.fetchval("select name from control.lenders where lender_code = $1", who.lender_code)
    return _render(request, "lender.html", status=status, who=who, lender_name=name or "", csrf=csrf,
                   submissions=subs, exports=exports, purposes=lk.PURPOSES, id_types=lk.ID_TYPES, **extra)


async def association_page(request: Request, who: access.Caller, csrf: str) -> HTMLResponse:
    st = _state(request)
    ctx = {
        "quality": await portal_data.submission_quality(st.pool),
        "versions": await portal_data.feed_versions(st.pool),
        "disputes": await st.call_with_connection(disputes.list_disputes, who),
        "findings": await portal_data.under_classification(st.pool),
        "exports": await portal_data.export_files(st.pool, who),
    }
    return _render(request, "association.html", who=who, csrf=csrf, **ctx)


@router.post("/upload", response_class=HTMLResponse)
async def upload(request: Request, session: PortalSession) -> Response:
    """The file, read as it streams in (exchange.web.uploads): the CSRF token and the file's name
    are checked before any of the file is kept."""
    if session is None or session[0].lender_code is None:
        return RedirectResponse("/portal", status_code=303)
    who, csrf = session
    st = _state(request)
    scratch = Path(tempfile.mkdtemp(prefix="upload-", dir=_scratch_root(st)))
    try:
        try:
            got = await uploads.receive(request, csrf, scratch, st.settings.max_file_bytes, _check_file_name)
        except ExchangeError as exc:
            return error_response(400, "Q_HTTP", exc.message, exc.message)
        if not got.file_sent:
            return error_response(422, "Q_INVALID", "请求字段无效：file", "invalid request fields: file")
        if not got.csrf_ok:
            return Response("CSRF", status_code=403)
        result: dict[str, Any] = {"file": Path(got.name.replace("\\", "/")).name or "?"}
        if got.rejected is not None:
            r = VALIDATION_CODES.get(got.rejected.code)
            result.update(ok=False, code=got.rejected.code, message=f"{r.zh if r else ''} / {got.rejected.message}")
        elif got.too_large:
            result.update(ok=False, code="F_SIZE", message=f"{VALIDATION_CODES['F_SIZE'].zh} / file exceeds the size limit")
        else:
            result.update(await run_in_threadpool(_submit_and_ingest, st, who.lender_code, got.path))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return await lender_page(request, who, csrf, upload=result)


def _check_file_name(name: str) -> None:
    """Raises FileRejected for a path, a control character or a name off the pattern, before anything is written."""
    from exchange.intake.readers import parse_file_name  # loads pandas and pyarrow: not until a file comes

    parse_file_name(name)


def _submit_and_ingest(st: State, lender_code: str, path: Path) -> dict[str, Any]:
    """The upload as `exchange submit` takes a file, then ingested at once; what the page shows of it."""
    from exchange.intake.ingest import ingest_path, submit  # loads pandas and pyarrow: not until a file comes

    outcome = submit(lender_code, [path], st.settings)[0]
    result = {"ok": outcome.accepted_for_processing, "code": outcome.code, "message": outcome.message}
    if outcome.accepted_for_processing and outcome.landing_path:
        ingested = ingest_path(st.settings.home / outcome.landing_path, st.settings)
        result.update(submission_id=ingested.submission_id, verdict=ingested.verdict,
                      reason=ingested.reason_code, rows_accepted=ingested.rows_accepted,
                      rows_rejected=ingested.rows_rejected)
    return result


def _scratch_root(st: State) -> Path:
    root = st.settings.state_dir / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    return root


@router.post("/lookup", response_class=HTMLResponse)
async def lookup_form(request: Request, session: PortalSession, id_type: str = Form(default="", max_length=20),
                      id_number: str = Form(default="", max_length=64), purpose: str = Form(default="", max_length=64),
                      consent_ref: str = Form(default="", max_length=200), csrf: str = Form(default="")) -> Response:
    if session is None or session[0].lender_code is None:
        return RedirectResponse("/portal", status_code=303)
    if not _csrf_ok(session, csrf):
        return Response("CSRF", status_code=403)
    who, csrf = session
    if any(has_control_characters(v) for v in (id_type, id_number, purpose, consent_ref)):
        return await lender_page(request, who, csrf, status=400, lookup_error=CONTROL_CHARACTER_ERROR)
    result = await run_lookup(_state(request), who, lk.LookupRequest(id_type, id_number, purpose or None,
                                                                    consent_ref or None), "portal")
    if isinstance(result, lk.LookupRefused):
        return await lender_page(request, who, csrf, lookup_error=result.as_dict())
    return await lender_page(request, who, csrf, answer=result)


@router.get("/feedback/{submission_id}/{which}")
async def feedback(request: Request, session: PortalSession, submission_id: int, which: str) -> Response:
    if session is None or which not in ("csv", "summary"):
        return Response(status_code=404)
    st = _state(request)
    path = await portal_data.feedback_file(st.pool, session[0], submission_id, st.settings.home, which)
    if path is None:
        return Response(status_code=404)
    return FileResponse(path, filename=path.name)


@router.get("/exports/{version}/{name}")
async def export(request: Request, session: PortalSession, version: int, name: str) -> Response:
    st = _state(request)
    if session is None or not portal_data.safe_name(name):
        return Response(status_code=404)
    directory = await portal_data.export_dir(st.pool, version)
    if directory is None:
        path = None
    elif session[0].lender_code is not None:
        path = await st.call_with_connection(portal_data.member_export, st.settings.home, version, name,
                                             session[0].lender_code)
    else:
        path = portal_data.association_export(st.settings.home, directory, name)
    if path is None:
        return Response(status_code=404)
    return FileResponse(path, filename=path.name)
