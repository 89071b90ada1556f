"""The exchange's web application: the HTTP API (/v1/...) and the portal (/portal/...).

One FastAPI app serves both; `exchange serve` runs it under uvicorn. Callers prove who
they are with a token (`exchange tokens issue`): the API takes it as `Authorization:
Bearer <token>`, the portal once at login (it then keeps a server-side session in a
cookie). Lender-facing messages are in Chinese with English beside. No clear ID leaves
the request it came in: the server turns it into the borrower key at once, and
validation errors never echo submitted values.
"""


import datetime as dt
import json
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any, Literal

import asyncpg
import psycopg
from fastapi import Depends, FastAPI, HTTPException, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg.conninfo import conninfo_to_dict
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from exchange.access import lookup as lk
from exchange.access import tokens as access
from exchange.core.errors import ExchangeError
from exchange.core.identifiers import load_pseudonymizer
from exchange.core.settings import get_settings
from exchange.web import portal
from exchange.web.cache import MISSING, ExpiringCache
from exchange.web.guard import (
    CONTROL_CHARACTER_ERROR,
    DB_UNAVAILABLE,
    RequestGuard,
    error_response,
    has_control_characters,
    log,
)
from exchange.web.render import report_html

API_TITLE = "小额贷款信息共享平台 API · Credit-information exchange API"


class Pool:
    """A small pool of autocommit connections for the worker threads (LIFO keeps them warm)."""

    def __init__(self, url: str, size: int):
        self._url = url
        self._size = size
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._created = 0
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        conn = self._get()
        try:
            yield conn
        except BaseException:
            self._discard_or_return(conn, failed=True)
            raise
        self._discard_or_return(conn, failed=False)

    def _get(self) -> psycopg.Connection:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            create = self._created < self._size
            if create:
                self._created += 1
        if create:
            try:
                return psycopg.connect(self._url, autocommit=True, application_name="exchange-api")
            except BaseException:
                with self._lock:
                    self._created -= 1
                raise
        try:
            return self._idle.get(timeout=30)
        except queue.Empty:
            raise TimeoutError("no free database connection within 30 s") from None  # answered 503

    def _discard_or_return(self, conn: psycopg.Connection, failed: bool) -> None:
        if not conn.closed and failed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            try:
                conn.rollback()
            except psycopg.Error:
                conn.close()
        if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.close()
            with self._lock:
                self._created -= 1
            return
        self._idle.put(conn)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


class State:
    """What the app keeps per process: the pool, the secret, caches, look-up quota, portal sessions."""

    def __init__(self) -> None:
        from exchange.core import db

        self.settings = get_settings()
        url = db.database_url()
        self.pool = Pool(url, int(os.environ.get("EXCHANGE_API_POOL", "8")))
        self.url = url
        self.apool: asyncpg.Pool | None = None  # the look-up path: asyncpg on the event loop, opened by start()
        self.pseudonymizer = load_pseudonymizer(self.settings.state_dir)
        self.quota = lk.LookupQuota()
        self.give_to_get = lk.GiveToGet.from_env()
        self.give_to_get_rows = ExpiringCache(float(os.environ.get("EXCHANGE_GIVE_TO_GET_CACHE_SECONDS", "60")))
        """lender -> its G2G_SQL row: a lender's new submission counts within this time."""
        self.tokens = ExpiringCache(float(os.environ.get("EXCHANGE_TOKEN_CACHE_SECONDS", "10")))
        """token hash -> Caller or None (no clear token kept around)."""
        self.sessions = portal.sessions_from_env()
        self.login_limits = portal.login_limiters_from_env()

    async def caller_async(self, token: str | None) -> access.Caller | None:
        """The token's holder, or None for a malformed, unknown or revoked token or a lender no longer active."""
        if not access.well_formed(token):
            return None
        return await self.caller_for_hash(access.hash_token(token))

    async def caller_for_hash(self, hashed: str) -> access.Caller | None:
        """The one authentication path of the API and the portal's sessions, cached by token hash:
        revocation and suspension take effect within EXCHANGE_TOKEN_CACHE_SECONDS."""
        found = self.tokens.get(hashed)
        if found is MISSING:
            row = await self.apool.fetchrow(_AUTH_PG, hashed)
            found = access.caller_from_row(None if row is None else tuple(row))
            self.tokens.put(hashed, found)
        return found

    async def start(self) -> None:
        """Open the asyncpg pool. EXCHANGE_AUDIT_COMMIT=off trades the audit rows of the last fraction
        of a second before a database crash for not waiting on the disk flush per look-up.

        The pool connects lazily (min_size 0) and one warm-up query is tried: a server started while
        the database is away (crash recovery, a restart) comes up and answers 503 until it is back."""
        params = conninfo_to_dict(self.url)
        commit = "off" if os.environ.get("EXCHANGE_AUDIT_COMMIT", "on") == "off" else "on"
        self.apool = await asyncpg.create_pool(
            host=params.get("host"), port=int(params.get("port") or 5432), user=params.get("user"),
            password=params.get("password"), database=params.get("dbname"),
            min_size=0, max_size=int(os.environ.get("EXCHANGE_API_ASYNC_POOL", "8")),
            server_settings={"synchronous_commit": commit, "application_name": "exchange-api"},
            reset=_no_reset)
        try:
            await self.apool.execute("select 1")
        except DB_UNAVAILABLE as exc:
            log.warning("database unavailable at start (%s): answering 503 until it is back", type(exc).__name__)


def _no_control_characters(*, free_text: bool) -> AfterValidator:
    """A field check answered 400 Q_CONTROL_CHAR (see _invalid_request), never a database error."""

    def check(value: str) -> str:
        if has_control_characters(value, free_text=free_text):
            raise PydanticCustomError("control_character", "control characters are not allowed")
        return value

    return AfterValidator(check)


PlainText = Annotated[str, _no_control_characters(free_text=False)]
FreeText = Annotated[str, _no_control_characters(free_text=True)]
"""Free text (a reason) may keep tab and line breaks; every other field no control character at all."""
IdType = Literal["RESIDENT_ID", "USCC", "PASSPORT"]


class LookupBody(BaseModel):
    """A look-up, as documented: every field is required. The ID is used to compute the borrower key
    and then dropped."""

    id_type: IdType = Field(description="证件类型 RESIDENT_ID / USCC / PASSPORT")
    id_number: str = Field(max_length=lk.MAX_ID_CHARS, description="证件号码 (never stored)")
    purpose: str = Field(max_length=40, description="查询目的: " + ", ".join(lk.PURPOSES))
    consent_ref: str = Field(max_length=lk.MAX_CONSENT_CHARS,
                             description="信息主体查询授权书编号 the applicant's consent reference")


class LookupInput(LookupBody):
    """What the look-up parses: purpose and consent may be missing here so that lookup.check_request
    refuses them (400 Q_PURPOSE / Q_CONSENT) and the refusal is audited, as the exchange's rules ask.
    Field values, control characters included, are judged there too (and never stored when refused)."""

    id_type: str = Field(max_length=20)
    purpose: str | None = Field(default=None, max_length=40)
    consent_ref: str | None = Field(default=None, max_length=lk.MAX_CONSENT_CHARS)


class ReportBody(BaseModel):
    id_type: IdType
    id_number: PlainText = Field(max_length=lk.MAX_ID_CHARS)
    format: Literal["json", "html"] = "json"


class DisputeBody(BaseModel):
    id_type: IdType
    id_number: PlainText = Field(max_length=lk.MAX_ID_CHARS)
    record: PlainText = Field(max_length=80, description="listing, or the loan reference of a default episode")
    reason_code: str | None = Field(default=None, pattern=r"^B[0-9]{1,3}$",
                                    description="a listing dispute on one reason only (B1, B2, ...)")
    reason: FreeText = Field(min_length=1, max_length=1000)


class ResolveBody(BaseModel):
    outcome: Literal["upheld", "rejected", "withdrawn"]
    reason: FreeText = Field(min_length=1, max_length=1000)


class ErrorDetail(BaseModel):
    code: str
    message_zh: str
    message_en: str


class ErrorResponse(BaseModel):
    """The exchange's one error format, for every status from 400 to 503."""

    error: ErrorDetail


class LookupAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")
    lookup_id: int
    feed_version: int | None
    looked_up_at: str
    hit: bool
    blacklist: dict[str, Any]
    default_episodes: list[dict[str, Any]]
    held_records: list[dict[str, Any]]
    summary: dict[str, Any]


class Dispute(BaseModel):
    model_config = ConfigDict(extra="allow")
    dispute_id: int
    record_kind: str
    lender_code: str | None
    loan_ref: str | None
    opened_at: dt.datetime
    deadline: dt.date
    status: str
    status_zh: str
    days_left: int | None
    overdue: bool


class Submission(BaseModel):
    model_config = ConfigDict(extra="allow")
    submission_id: int
    lender_code: str
    file_name: str
    kind: str


class Report(BaseModel):
    """The data-subject report (see report.build): its sections as objects."""

    model_config = ConfigDict(extra="allow")


class Health(BaseModel):
    status: Literal["ok"]


_STATUS_TEXT = {
    400: "refused: a field failed the exchange's checks (Q_ID, Q_CONTROL_CHAR, Q_MALFORMED, D_...)",
    401: "Q_UNAUTHORIZED: missing, unknown or revoked token, or a lender no longer active",
    403: "Q_FORBIDDEN (association only) or Q_GIVE_TO_GET",
    413: "Q_TOO_LARGE: the body exceeds EXCHANGE_MAX_BODY_KB",
    422: "Q_INVALID: a field is missing or has the wrong type or length (named, never echoed)",
    429: "Q_RATE_LIMIT",
    503: "Q_UNAVAILABLE: the database is unavailable; retry after Retry-After seconds",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of a route; 503 is possible on every route."""
    out: dict[int | str, dict[str, Any]] = {s: {"model": ErrorResponse, "description": _STATUS_TEXT[s]}
                                            for s in (*statuses, 503)}
    out[503]["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    return out


def _invalid_request(errors: list[dict[str, Any]]) -> JSONResponse:
    """A body that failed parsing: malformed JSON and control characters are 400, the rest 422.
    Fields are named, never echoed: they may be identities."""
    kinds = {e.get("type") for e in errors}
    if "json_invalid" in kinds:
        return error_response(400, "Q_MALFORMED", "请求体不是有效的 JSON", "the request body is not valid JSON")
    if "control_character" in kinds:
        return JSONResponse({"error": CONTROL_CHARACTER_ERROR}, status_code=400)
    fields = sorted({".".join(str(p) for p in e.get("loc", ()) if p != "body") for e in errors})
    return error_response(422, "Q_INVALID", "请求字段无效：" + ", ".join(fields), "invalid request fields: " + ", ".join(fields))


BEARER = HTTPBearer(auto_error=False)
PUBLIC_API_PATHS = frozenset({"/v1/health"})
UPLOAD_OVERHEAD = 1 << 20
"""Room for the multipart envelope and the form's other fields around an upload of max_file_bytes."""


def _unauthorized() -> JSONResponse:
    return error_response(401, "Q_UNAUTHORIZED", "缺少或无效的令牌", "missing or invalid token",
                          headers={"WWW-Authenticate": "Bearer"})


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            text = value.decode("latin-1")
            return text[7:].strip() if text.startswith("Bearer ") else None
    return None


async def _authenticate(scope: Scope) -> Response | None:
    """Who is asking, from headers and cookies alone, before any body is read: /v1 wants a token
    (the caller lands on request.state.caller), the portal's POSTs a live session (else back to
    the log-in page); everything else passes."""
    path = scope["path"]
    if path.startswith("/v1/") and path not in PUBLIC_API_PATHS:
        who = await scope["app"].state.exchange.caller_async(_bearer(scope))
        if who is None:
            return _unauthorized()
        scope.setdefault("state", {})["caller"] = who
    elif path == "/portal" or path.startswith("/portal/"):
        found = await portal.resolve_session(Request(scope))
        if found is None and scope["method"] == "POST" and path != "/portal/login":
            return RedirectResponse("/portal", status_code=303)
    return None


def create_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.exchange = State()
        await app.state.exchange.start()
        yield
        app.state.exchange.pool.close()
        await app.state.exchange.apool.close()

    app = FastAPI(title=API_TITLE, version="1", lifespan=lifespan,
                  description="Look-ups, submissions, disputes and data-subject reports. "
                              "Authenticate with `Authorization: Bearer <token>` (exchange tokens issue). "
                              "Every error answers {\"error\": {\"code\", \"message_zh\", \"message_en\"}}.")
    upload_limit = get_settings().max_file_bytes + UPLOAD_OVERHEAD
    body_limit = int(float(os.environ.get("EXCHANGE_MAX_BODY_KB", "64")) * 1024)  # JSON and the portal's forms
    app.add_middleware(RequestGuard, authenticate=_authenticate,
                       limit_for=lambda path: upload_limit if path == "/portal/upload" else body_limit)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _invalid_request(list(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.detail, dict):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return error_response(exc.status_code, "Q_HTTP", str(exc.detail), str(exc.detail), headers=exc.headers)

    def state(request: Request) -> State:
        return request.app.state.exchange

    async def caller(request: Request,
                     _: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]) -> access.Caller:
        """Authenticated by the request guard already (before the body was read); the Security
        parameter puts the bearer scheme in the OpenAPI document."""
        return request.state.caller

    Authenticated = Annotated[access.Caller, Depends(caller)]

    async def association_only(who: Authenticated) -> access.Caller:
        if not who.is_association:
            raise HTTPException(403, {"code": "Q_FORBIDDEN", "message_zh": "仅限行业协会",
                                      "message_en": "for the association only"})
        return who

    Association = Annotated[access.Caller, Depends(association_only)]

    @app.get("/v1/health", tags=["meta"], response_model=Health, responses=_errors())
    def health(request: Request) -> dict:
        with state(request).pool.connection() as conn:
            conn.execute("select 1")
        return {"status": "ok"}

    lookup_schema = LookupBody.model_json_schema(ref_template="#/components/schemas/{model}")

    @app.post("/v1/lookup", tags=["look-up"], summary="查询 Look up an applicant", response_model=None,
              responses={200: {"model": LookupAnswer, "description": "blacklist, default_episodes, held_records,"
                                                                      " summary"},
                         **_errors(400, 401, 403, 413, 422, 429)},
              openapi_extra={"security": [{"HTTPBearer": []}], "requestBody": {
                  "required": True, "content": {"application/json": {"schema": lookup_schema}}}})
    async def post_lookup(request: Request) -> Any:
        """Blacklist status with reasons and dispute mark, default episodes (other lenders as their
        category) and a summary. Audited. Refused without purpose or consent, for a lender
        that has not reported recently (give-to-get) and above the rate limit.

        The hot path of the exchange: body validation is done here rather than through FastAPI's
        dependency machinery, which costs more than the database work; the request guard has
        authenticated the caller already."""
        st = state(request)
        who = request.state.caller
        try:
            body = LookupInput.model_validate_json(await request.body())
        except ValidationError as exc:
            return _invalid_request(list(exc.errors()))
        result = await run_lookup_async(st, who, lk.LookupRequest(body.id_type, body.id_number, body.purpose,
                                                                  body.consent_ref), "api")
        if isinstance(result, lk.LookupRefused):
            return JSONResponse({"error": result.as_dict()}, status_code=result.status)
        return JSONResponse(result)  # JSON-ready already: skip the generic encoder

    # Served by a bare Starlette route in front of the documented FastAPI one: same function, same
    # answers, without FastAPI's per-request parameter machinery (about half the CPU of a look-up).
    app.router.routes.insert(0, Route("/v1/lookup", post_lookup, methods=["POST"]))

    @app.get("/v1/submissions", tags=["submissions"], summary="本机构报送记录 Own submissions",
             response_model=None, responses={200: {"model": list[Submission]}, **_errors(401)})
    def get_submissions(request: Request, who: Authenticated) -> list[dict]:
        from exchange.web import portal_data

        with state(request).pool.connection() as conn:
            return portal_data.submissions(conn, who)

    @app.post("/v1/reports", tags=["reports"], summary="本人信用报告 Data-subject report (association only)",
              response_model=None,
              responses={200: {"model": Report, "content": {"text/html": {"schema": {"type": "string"}}}},
                         **_errors(400, 401, 403, 413, 422)})
    def post_report(body: ReportBody, request: Request, who: Association) -> Any:
        from exchange.access import report

        st = state(request)
        key = _key_or_refuse(st, body.id_type, body.id_number)
        with st.pool.connection() as conn:
            data = report.build(conn, key, body.id_type)
        if body.format == "html":
            return HTMLResponse(report_html(data))
        return data

    @app.post("/v1/disputes", tags=["disputes"], summary="提出异议 Open a dispute", response_model=None,
              responses={200: {"model": Dispute}, **_errors(400, 401, 413, 422)})
    def post_dispute(body: DisputeBody, request: Request, who: Authenticated) -> Any:
        from exchange.access import disputes

        st = state(request)
        key = _key_or_refuse(st, body.id_type, body.id_number)
        with st.pool.connection() as conn:
            try:
                return disputes.open_dispute(conn, who, key, body.record, body.reason, st.pseudonymizer,
                                             reason_code=body.reason_code)
            except ExchangeError as exc:
                return error_response(400, exc.code, exc.message, exc.message)

    @app.get("/v1/disputes", tags=["disputes"], summary="异议列表 Disputes", response_model=None,
             responses={200: {"model": list[Dispute]}, **_errors(401)})
    def get_disputes(request: Request, who: Authenticated) -> list[dict]:
        from exchange.access import disputes

        with state(request).pool.connection() as conn:
            return disputes.list_disputes(conn, who)

    @app.post("/v1/disputes/{dispute_id}/resolve", tags=["disputes"], summary="处理异议 Resolve (association)",
              response_model=None, responses={200: {"model": Dispute}, **_errors(400, 401, 403, 413, 422)})
    def resolve_dispute(dispute_id: int, body: ResolveBody, request: Request,
                        who: Association) -> Any:
        from exchange.access import disputes

        with state(request).pool.connection() as conn:
            try:
                return disputes.resolve(conn, who, dispute_id, body.outcome, body.reason)
            except ExchangeError as exc:
                return error_response(400, exc.code, exc.message, exc.message)

    app.include_router(portal.router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/portal", status_code=303)

    return app


def _key_or_refuse(st: State, id_type: str, id_number: str) -> str:
    from exchange.core.identifiers import check_id, normalise

    value = normalise(id_type, id_number)
    if check_id(id_type, value) is not None:
        raise HTTPException(400, {"code": "Q_ID", "message_zh": "证件号码无效", "message_en": "the ID number is not valid"})
    return st.pseudonymizer.borrower_key(id_type, value)


async def _no_reset(conn: asyncpg.Connection) -> None:
    """The look-up path leaves no session state (no SET, no LISTEN, no open transaction), so the
    pool's default reset, a whole extra round trip per look-up, is skipped."""


_AUTH_PG = lk.dollar_params(access.AUTH_SQL)[0]
_LOOKUP_PG, _LOOKUP_NAMES = lk.dollar_params(lk.LOOKUP_SQL)
_REFUSAL_PG = lk.dollar_params(lk.REFUSAL_SQL)[0]
_G2G_PG = lk.dollar_params(lk.G2G_SQL)[0]


async def run_lookup_async(st: State, who: access.Caller, req: lk.LookupRequest,
                           channel: str) -> dict | lk.LookupRefused:
    """run_lookup on the event loop (asyncpg): one statement answers and audits."""
    checked = None
    try:
        counted = st.quota.take(who)
        if counted is not None:
            await st.apool.execute(_REFUSAL_PG, *lk.refusal_params(who, channel, counted))
        checked = lk.check_request(req, st.pseudonymizer)
        if who.lender_code is not None:
            row = st.give_to_get_rows.get(who.lender_code)
            if row is MISSING:
                found = await st.apool.fetchrow(_G2G_PG, who.lender_code)
                row = None if found is None else tuple(found)
                st.give_to_get_rows.put(who.lender_code, row)
            st.give_to_get.check(row)
        params = lk.lookup_params(who, checked, channel)
        row = await st.apool.fetchrow(_LOOKUP_PG, *[params[n] for n in _LOOKUP_NAMES])
        return lk.build_answer(row[0], row[1], row[2], *(None if v is None else json.loads(v) for v in row[3:]))
    except lk.LookupRefused as refusal:
        if refusal.attempts:
            await st.apool.execute(_REFUSAL_PG, *lk.refusal_params(who, channel, refusal, checked, req))
        return refusal


def run_lookup(st: State, who: access.Caller, req: lk.LookupRequest, channel: str) -> dict | lk.LookupRefused:
    """Rate limit (every request, valid or not, the association's too), checks, give-to-get, answer
    and audit of one look-up; returns the answer or the refusal."""
    checked = None
    with st.pool.connection() as conn:
        try:
            counted = st.quota.take(who)
            if counted is not None:
                lk.audit_refusal(conn, who, channel, counted)
            checked = lk.check_request(req, st.pseudonymizer)
            if who.lender_code is not None:
                st.give_to_get.check(conn.execute(lk.G2G_SQL, (who.lender_code,)).fetchone())
            return lk.lookup(conn, who, checked, channel)
        except lk.LookupRefused as refusal:
            lk.audit_refusal(conn, who, channel, refusal, checked, req)
            return refusal


app = None
"""`uvicorn exchange.web.app:app` style use goes through `exchange serve`, which calls create_app()."""


def serve(host: str, port: int, *, log_level: str = "warning") -> None:
    import uvicorn

    uvicorn.run(create_app(), host=host, port=port, log_level=log_level, access_log=False)
