"""Who is asking: decided once per request, by the request guard, from headers and cookies alone,
before any body is read; routes receive the answer through one dependency each for the API
(`ApiCaller`) and the portal (`PortalSession`).

The API wants `Authorization: Bearer <token>`; the portal a live session, whose token must
still authenticate (a revoked token or a suspended lender ends its sessions at once).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import Response
from starlette.types import Scope

from exchange.access.tokens import Caller
from exchange.web.guard import error_response
from exchange.web.sessions import SESSION_COOKIE
from exchange.web.state import State

PUBLIC_API_PATHS = frozenset({"/v1/health"})
BEARER = HTTPBearer(auto_error=False)


async def authenticate(scope: Scope) -> Response | None:
    """The request guard's hook: /v1 wants a token (the caller lands on request.state.caller), the
    portal's POSTs a live session (else back to the log-in page; the session lands on
    request.state.portal_session); everything else passes."""
    path = scope["path"]
    st: State = scope["app"].state.exchange
    if path.startswith("/v1/") and path not in PUBLIC_API_PATHS:
        who = await st.caller_for_token(_bearer(scope))
        if who is None:
            return error_response(401, "Q_UNAUTHORIZED", "缺少或无效的令牌", "missing or invalid token",
                                  headers={"WWW-Authenticate": "Bearer"})
        if who.is_analyst:  # an analyst reads the marts' dashboards in the portal; the API is for members
            return error_response(403, "Q_FORBIDDEN", "分析人员令牌只能登录门户查看图表和文档",
                                  "an analyst token opens the portal's dashboards and docs only")
        scope.setdefault("state", {})["caller"] = who
    elif path == "/portal" or path.startswith("/portal/"):
        found = await _portal_session(st, Request(scope))
        scope.setdefault("state", {})["portal_session"] = found
        if found is None and scope["method"] == "POST" and path != "/portal/login":
            return RedirectResponse("/portal", status_code=303)
    return None


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            text = value.decode("latin-1")
            return text[7:].strip() if text.startswith("Bearer ") else None
    return None


async def _portal_session(st: State, request: Request) -> tuple[Caller, str] | None:
    """(caller, csrf) of the request's session while its token still authenticates."""
    sid = request.cookies.get(SESSION_COOKIE)
    session = st.sessions.get(sid) if sid else None
    if session is None:
        return None
    who = await st.caller_for_hash(session.token_hash)
    if who is None:
        st.sessions.end_token(session.token_hash)
        return None
    return who, session.csrf


def api_caller(request: Request) -> Caller:
    """The caller the guard authenticated for this /v1 request."""
    return request.state.caller


async def _api_caller(request: Request,
                      _: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]) -> Caller:
    """api_caller as a dependency; the Security parameter puts the bearer scheme in the OpenAPI
    document of every route that depends on this."""
    return api_caller(request)


async def _portal_session_of(request: Request) -> tuple[Caller, str] | None:
    return request.state.portal_session


API_CALLER = Depends(_api_caller)
ApiCaller = Annotated[Caller, API_CALLER]
PortalSession = Annotated[tuple[Caller, str] | None, Depends(_portal_session_of)]
"""(caller, csrf) of a live portal session, or None."""
