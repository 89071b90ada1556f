"""The web portal (门户): pages for lenders and the association, served by the API's app.

A lender logs in with its token; its tabs: upload files (the same checks as `exchange submit`,
then ingested at once so the verdict shows), look up applicants and download feed exports; its
alerts; its records held back from other members with what to send to release each; its
disputes and their deadlines; its reporting months (received, validated, late, not yet due); its
submissions with feedback. Everything a lender sees is read under its own database role.

The association's console: disputes (resolve; those near their deadline highlighted), feed
versions (approve a failed one, the diff between two), lenders (suspend, reinstate), tokens
(issue, shown once; revoke), submission quality. Every action calls the domain's own function
(disputes.resolve, publish.approve, lenders.set_status, tokens.issue_token / revoke_token), which
writes control.audit_log; every action is a POST with the session's CSRF token, from the
association's session only. Chinese by default, English one click away; codes, numbers and
times through exchange.web.labels, lists 25 rows a page (exchange.web.paging).

Sessions (exchange.web.sessions) live in this process's memory; every form carries the
session's CSRF token. A session is only as good as its token: every request re-checks the
token and its lender through the token cache (exchange.web.auth), so revoking the token or
suspending the lender ends its sessions within EXCHANGE_TOKEN_CACHE_SECONDS.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from exchange.access import disputes
from exchange.access import lookup as lk
from exchange.access import tokens as access
from exchange.core.clock import local_today
from exchange.core.errors import ExchangeError
from exchange.core.spec import VALIDATION_CODES
from exchange.feed import publish
from exchange.intake import lenders
from exchange.web import portal_data, uploads, version_diff
from exchange.web.auth import PortalSession
from exchange.web.guard import CONTROL_CHARACTER_ERROR, error_response, has_control_characters
from exchange.web.lookups import run_lookup
from exchange.web.paging import Page, page_of
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


LENDER_TABS = ("home", "alerts", "held", "disputes", "periods", "submissions")
ASSOCIATION_TABS = ("disputes", "versions", "lenders", "tokens", "quality")
NEAR_DEADLINE_DAYS = 5
"""An open dispute with this many days or fewer left is highlighted on the association's console."""


@router.get("", response_class=HTMLResponse)
async def home(request: Request, session: PortalSession) -> Response:
    if session is None:
        return _render(request, "login.html")
    return await _tab(request, session, "")


@router.get("/{tab}", response_class=HTMLResponse)
async def tab_page(request: Request, session: PortalSession, tab: str) -> Response:
    if session is None:
        return RedirectResponse("/portal", status_code=303)
    return await _tab(request, session, tab)


async def _tab(request: Request, session: tuple[access.Caller, str], tab: str) -> Response:
    who, csrf = session
    if who.is_analyst:  # the dashboards and the model docs are an analyst's whole portal
        return RedirectResponse("/portal/dashboards", status_code=303) if tab == "" else Response(status_code=404)
    if who.is_association:
        if tab not in ("", *ASSOCIATION_TABS):
            return Response(status_code=404)
        return await association_page(request, who, csrf, tab or ASSOCIATION_TABS[0])
    if tab not in ("", *LENDER_TABS):
        return Response(status_code=404)
    return await lender_page(request, who, csrf, tab=tab or LENDER_TABS[0])
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


async def lender_page(request: Request, who: access.Caller, csrf: str, status: int = 200, tab: str = "home",
                      **extra: Any) -> HTMLResponse:
    """One tab of the lender's portal; every list read under the lender's own role (portal_data)."""
    st = _state(request)
    ctx: dict[str, Any] = {}
    if tab == "home":
        ctx.update(exports=await portal_data.export_files(st.pool, who), purposes=lk.PURPOSES, id_types=lk.ID_TYPES,
                   submissions=_page(request, await portal_data.submissions(st.pool, who, limit=5)))
    elif tab == "alerts":
        ctx["rows"] = _page(request, await portal_data.lender_alerts(st.pool, who, st.pseudonymizer.loan_ref))
    elif tab == "held":
        ctx["rows"] = _page(request, await portal_data.held_records(st.pool, who))
    elif tab == "disputes":
        ctx["rows"] = _page(request, await st.call_with_connection(disputes.list_disputes, who))
    elif tab == "periods":
        ctx["rows"] = _page(request, await portal_data.submission_periods(st.pool, who, local_today()))
    else:
        ctx["rows"] = _page(request, await portal_data.submissions(st.pool, who, limit=2000))
    name = await st.pool.fetchval("select name from control.lenders where lender_code = $1", who.lender_code)
    return _render(request, f"lender_{tab}.html", status=status, who=who, lender_name=name or "", csrf=csrf,
                   tab=tab, tabs=LENDER_TABS, **ctx, **extra)


async def association_page(request: Request, who: access.Caller, csrf: str, tab: str = "disputes", status: int = 200,
                           **extra: Any) -> HTMLResponse:
    """One tab of the association's console."""
    st = _state(request)
    ctx: dict[str, Any] = {}
    if tab == "disputes":
        rows = await st.call_with_connection(disputes.list_disputes, who)
        ctx.update(rows=_page(request, rows), near_days=NEAR_DEADLINE_DAYS,
                   near=[d for d in rows if d["status"] == "open" and d["days_left"] <= NEAR_DEADLINE_DAYS])
    elif tab == "versions":
        versions = await portal_data.feed_versions(st.pool)
        ctx.update(rows=_page(request, versions), exports=await portal_data.export_files(st.pool, who))
        pair = _diff_pair(request, versions)
        if pair is not None:
            ctx.update(diff_pair=pair, diff=await version_diff.diff(st.pool, *pair))
    elif tab == "lenders":
        ctx["rows"] = _page(request, await st.call_with_connection(lenders.list_all))
    elif tab == "tokens":
        ctx.update(rows=_page(request, list(reversed(await st.call_with_connection(access.list_tokens)))),
                   lender_codes=[x.code for x in await st.call_with_connection(lenders.list_all)])
    else:
        ctx.update(rows=_page(request, await portal_data.submission_quality(st.pool)),
                   findings=_page(request, await portal_data.under_classification(st.pool), "fp"))
    return _render(request, f"association_{tab}.html", status=status, who=who, csrf=csrf, tab=tab,
                   tabs=ASSOCIATION_TABS, **ctx, **extra)


def _page(request: Request, rows: list[Any], param: str = "p") -> Page:
    """A page of `rows`; its number comes from the address (?p=, or `param` for a second list)."""
    return page_of(rows, request.query_params.get(param))


def _diff_pair(request: Request, versions: list[dict[str, Any]]) -> tuple[int, int] | None:
    """The two versions to compare (?old=&new=), or the two newest; None with fewer than two."""
    try:
        old, new = int(request.query_params["old"]), int(request.query_params["new"])
    except (KeyError, ValueError):
        if len(versions) < 2:
            return None
        return versions[1]["version"], versions[0]["version"]
    return old, new


# ---- the association's actions: each the domain's own function, which writes control.audit_log ----

async def _association_action(session: PortalSession, csrf: str = Form(default="")) -> tuple[access.Caller, str]:
    """The association's session of an action (its caller and CSRF token), or the refusal: no
    session (back to the log-in page), a bad CSRF token or a lender's session (403)."""
    if session is None:
        raise HTTPException(303, "log in", headers={"Location": "/portal"})
    if not _csrf_ok(session, csrf):
        raise HTTPException(403, {"code": "Q_CSRF", "message_zh": "表单已失效，请刷新页面",
                                  "message_en": "the form's CSRF token is missing or wrong"})
    if not session[0].is_association:
        raise HTTPException(403, {"code": "Q_FORBIDDEN", "message_zh": "仅限行业协会",
                                  "message_en": "for the association only"})
    return session


AssociationAction = Annotated[tuple[access.Caller, str], Depends(_association_action)]


async def _after_action(request: Request, who: access.Caller, csrf: str, tab: str,
                        call: Callable[[], Awaitable[Any]], done: tuple[str, str], **extra: Any) -> Response:
    """Run the action; the tab again with what happened (or the domain's refusal, status 400)."""
    try:
        result = await call()
    except ExchangeError as exc:
        return await association_page(request, who, csrf, tab, status=400, action_error=f"{exc.code}: {exc.message}")
    return await association_page(request, who, csrf, tab, action_done=done, action_result=result, **extra)


@router.post("/disputes/{dispute_id}/resolve", response_class=HTMLResponse)
async def resolve_dispute(request: Request, console: AssociationAction, dispute_id: int,
                          outcome: str = Form(default="", max_length=20),
                          note: str = Form(default="", max_length=1000)) -> Response:
    who, csrf = console
    if has_control_characters(note, free_text=True) or outcome not in ("upheld", "rejected"):
        return await association_page(request, who, csrf, "disputes", status=400,
                                      action_error="D_OUTCOME: 处理结果须为 upheld 或 rejected，理由不含控制字符"
                                                   " / outcome upheld or rejected, a note without control characters")
    st = _state(request)
    return await _after_action(
        request, who, csrf, "disputes",
        lambda: st.call_with_connection(disputes.resolve, who, dispute_id, outcome, note),
        ("异议已处理：结果将在下一次数据处理（exchange pipeline）后的发布中生效",
         "dispute resolved: the outcome applies at the next publication after the next pipeline run "
         "(exchange pipeline)"))


@router.post("/versions/{version}/approve", response_class=HTMLResponse)
async def approve_version(request: Request, console: AssociationAction, version: int,
                          reason: str = Form(default="", max_length=1000)) -> Response:
    who, csrf = console
    if has_control_characters(reason, free_text=True):
        return await association_page(request, who, csrf, "versions", status=400,
                                      action_error=CONTROL_CHARACTER_ERROR["message_en"])
    st = _state(request)
    by = f"association:portal:token{who.token_id}"
    return await _after_action(
        request, who, csrf, "versions",
        lambda: run_in_threadpool(publish.approve, version, reason, by=by, settings=st.settings),
        ("版本已批准并发布", "version approved and published"))


@router.post("/lenders/{code}/status", response_class=HTMLResponse)
async def lender_status(request: Request, console: AssociationAction, code: str,
                        action: str = Form(default="", max_length=20),
                        reason: str = Form(default="", max_length=1000)) -> Response:
    """Suspend or reinstate (lenders.set_status): a suspended lender's files are rejected and its
    tokens stop working within EXCHANGE_TOKEN_CACHE_SECONDS."""
    who, csrf = console
    status = {"suspend": "suspended", "reinstate": "active"}.get(action)
    if status is None or not reason.strip() or has_control_characters(reason, free_text=True):
        return await association_page(request, who, csrf, "lenders", status=400,
                                      action_error="L_STATUS: 须选择暂停或恢复并填写理由 / choose suspend or reinstate"
                                                   " and give a reason")
    st = _state(request)
    return await _after_action(
        request, who, csrf, "lenders", lambda: st.call_with_connection(lenders.set_status, code, status, reason.strip()),
        (f"{code}：{'已暂停' if status == 'suspended' else '已恢复'}",
         f"{code}: {'suspended' if status == 'suspended' else 'reinstated'}"))


@router.post("/tokens/issue", response_class=HTMLResponse)
async def issue_token(request: Request, console: AssociationAction,
                      lender_code: str = Form(default="", max_length=16),
                      label: str = Form(default="", max_length=200)) -> Response:
    """A new token, shown on this answer only (the exchange keeps its hash)."""
    who, csrf = console
    if has_control_characters(label) or has_control_characters(lender_code):
        return await association_page(request, who, csrf, "tokens", status=400,
                                      action_error=CONTROL_CHARACTER_ERROR["message_en"])
    st = _state(request)
    try:
        token_id, token = await st.call_with_connection(access.issue_token, lender_code=lender_code or None,
                                                        label=label.strip())
    except ExchangeError as exc:
        return await association_page(request, who, csrf, "tokens", status=400, action_error=f"{exc.code}: {exc.message}")
    return await association_page(request, who, csrf, "tokens", new_token={"token_id": token_id, "token": token,
                                                                            "lender_code": lender_code or None},
                                  headers={"Cache-Control": "no-store"})


@router.post("/tokens/{token_id}/revoke", response_class=HTMLResponse)
async def revoke_token(request: Request, console: AssociationAction, token_id: int,
                       reason: str = Form(default="", max_length=1000)) -> Response:
    who, csrf = console
    if not reason.strip() or has_control_characters(reason, free_text=True):
        return await association_page(request, who, csrf, "tokens", status=400,
                                      action_error="K_REASON: 须填写理由 / a reason is required")
    st = _state(request)
    return await _after_action(
        request, who, csrf, "tokens", lambda: st.call_with_connection(access.revoke_token, token_id, reason.strip()),
        (f"令牌 {token_id} 已吊销", f"token {token_id} revoked"))


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
    if session is None or which not in portal_data.FEEDBACK_FILES:
        return Response(status_code=404)
    st = _state(request)
    path = await portal_data.feedback_file(st.pool, session[0], submission_id, st.settings.home, which)
    if path is None:
        return Response(status_code=404)
    # the report is read in the browser (its values are escaped; it runs no script), the rest downloaded
    return FileResponse(path, filename=path.name, content_disposition_type="inline" if which == "report" else "attachment")


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
