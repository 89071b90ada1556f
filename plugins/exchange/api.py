"""The exchange's web application: the HTTP API (/v1/...) and the portal (/portal/...).

One FastAPI app serves both; `exchange serve` runs it under uvicorn. Callers prove who
they are with a token (`exchange tokens issue`): the API takes it as `Authorization:
Bearer <token>`, the portal once at login (it then keeps a server-side session in a
cookie). Lender-facing messages are in Chinese with English beside. No clear ID leaves
the request it came in: the server turns it into the borrower key at once, and
validation errors never echo submitted values.
"""


import json
import os
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any, Literal

import asyncpg
import psycopg
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from psycopg.conninfo import conninfo_to_dict
from pydantic import BaseModel, Field, ValidationError
from starlette.routing import Route

from . import access
from . import lookup as lk
from .errors import ExchangeError
from .identifiers import load_pseudonymizer
from .settings import get_settings

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
        return self._idle.get(timeout=30)

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
    """What the app keeps per process: the pool, the secret, token cache, gatekeeper."""

    def __init__(self) -> None:
        from . import db

        self.settings = get_settings()
        url = db.database_url()
        self.pool = Pool(url, int(os.environ.get("EXCHANGE_API_POOL", "8")))
        self.url = url
        self.apool: asyncpg.Pool | None = None  # the look-up path: asyncpg on the event loop, opened by start()
        self.pseudonymizer = load_pseudonymizer(self.settings.state_dir)
        self.gate = lk.Gatekeeper()
        self.token_ttl = float(os.environ.get("EXCHANGE_TOKEN_CACHE_SECONDS", "10"))
        self._tokens: dict[str, tuple[float, access.Caller | None]] = {}

    def cached(self, token: str | None) -> tuple[bool, str, access.Caller | None]:
        """(known, hash, caller) from the cache; unknown when absent or older than EXCHANGE_TOKEN_CACHE_SECONDS."""
        if not access.well_formed(token):
            return True, "", None
        hashed = access.hash_token(token)  # cached by hash: no clear token kept around
        hit = self._tokens.get(hashed)
        if hit and time.monotonic() - hit[0] < self.token_ttl:
            return True, hashed, hit[1]
        return False, hashed, None

    def remember(self, hashed: str, found: access.Caller | None) -> access.Caller | None:
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[hashed] = (time.monotonic(), found)
        return found

    def caller(self, token: str | None) -> access.Caller | None:
        """The token's holder (revocation takes effect within EXCHANGE_TOKEN_CACHE_SECONDS)."""
        known, hashed, found = self.cached(token)
        if known:
            return found
        with self.pool.connection() as conn:
            return self.remember(hashed, access.caller_from_row(conn.execute(access.AUTH_SQL, (hashed,)).fetchone()))

    async def caller_async(self, token: str | None) -> access.Caller | None:
        known, hashed, found = self.cached(token)
        if known:
            return found
        row = await self.apool.fetchrow(_AUTH_PG, hashed)
        return self.remember(hashed, access.caller_from_row(None if row is None else tuple(row)))

    async def start(self) -> None:
        """Open the asyncpg pool. EXCHANGE_AUDIT_COMMIT=off trades the audit rows of the last fraction
        of a second before a database crash for not waiting on the disk flush per look-up."""
        params = conninfo_to_dict(self.url)
        commit = "off" if os.environ.get("EXCHANGE_AUDIT_COMMIT", "on") == "off" else "on"
        self.apool = await asyncpg.create_pool(
            host=params.get("host"), port=int(params.get("port") or 5432), user=params.get("user"),
            password=params.get("password"), database=params.get("dbname"),
            min_size=1, max_size=int(os.environ.get("EXCHANGE_API_ASYNC_POOL", "8")),
            server_settings={"synchronous_commit": commit, "application_name": "exchange-api"},
            reset=_no_reset)

    def forget_tokens(self) -> None:
        self._tokens.clear()


class LookupBody(BaseModel):
    """A look-up. The ID is used to compute the borrower key and then dropped."""

    id_type: Literal["RESIDENT_ID", "USCC", "PASSPORT"] = Field(description="证件类型 RESIDENT_ID / USCC / PASSPORT")
    id_number: str = Field(max_length=lk.MAX_ID_CHARS, description="证件号码 (never stored)")
    purpose: str | None = Field(default=None, max_length=40, description="查询目的: " + ", ".join(lk.PURPOSES))
    consent_ref: str | None = Field(default=None, max_length=lk.MAX_CONSENT_CHARS,
                                    description="信息主体查询授权书编号 the applicant's consent reference")


class ReportBody(BaseModel):
    id_type: Literal["RESIDENT_ID", "USCC", "PASSPORT"]
    id_number: str = Field(max_length=lk.MAX_ID_CHARS)
    format: Literal["json", "html"] = "json"


class DisputeBody(BaseModel):
    id_type: Literal["RESIDENT_ID", "USCC", "PASSPORT"]
    id_number: str = Field(max_length=lk.MAX_ID_CHARS)
    record: str = Field(max_length=80, description="blacklist, or the loan reference of a default episode")
    reason: str = Field(min_length=1, max_length=1000)


class ResolveBody(BaseModel):
    outcome: Literal["upheld", "rejected"]
    reason: str = Field(min_length=1, max_length=1000)


def _error(status: int, code: str, zh: str, en: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message_zh": zh, "message_en": en}}, status_code=status)


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
                              "Authenticate with `Authorization: Bearer <token>` (exchange tokens issue).")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # name the fields, never echo the values: they may be identities
        fields = sorted({".".join(str(p) for p in e.get("loc", ()) if p != "body") for e in exc.errors()})
        return _error(422, "Q_INVALID", "请求字段无效：" + ", ".join(fields), "invalid request fields: " + ", ".join(fields))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc.detail, dict):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return _error(exc.status_code, "Q_HTTP", str(exc.detail), str(exc.detail))

    def state(request: Request) -> State:
        return request.app.state.exchange

    async def caller(request: Request, authorization: str | None = Header(default=None)) -> access.Caller:
        token = None
        if authorization and authorization.startswith("Bearer "):
            token = authorization[7:].strip()
        found = await state(request).caller_async(token)
        if found is None:
            raise HTTPException(401, {"code": "Q_UNAUTHORIZED", "message_zh": "缺少或无效的令牌",
                                      "message_en": "missing or invalid token"},
                                headers={"WWW-Authenticate": "Bearer"})
        return found

    Authenticated = Annotated[access.Caller, Depends(caller)]

    async def association_only(who: Authenticated) -> access.Caller:
        if not who.is_association:
            raise HTTPException(403, {"code": "Q_FORBIDDEN", "message_zh": "仅限行业协会",
                                      "message_en": "for the association only"})
        return who

    Association = Annotated[access.Caller, Depends(association_only)]

    @app.get("/v1/health", tags=["meta"])
    def health(request: Request) -> dict:
        with state(request).pool.connection() as conn:
            conn.execute("select 1")
        return {"status": "ok"}

    lookup_schema = LookupBody.model_json_schema(ref_template="#/components/schemas/{model}")
    unauthorized = {"error": {"code": "Q_UNAUTHORIZED", "message_zh": "缺少或无效的令牌",
                              "message_en": "missing or invalid token"}}

    @app.post("/v1/lookup", tags=["look-up"], summary="查询 Look up an applicant", openapi_extra={
        "security": [{"bearer": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": lookup_schema}}},
        "responses": {"200": {"description": "the answer: blacklist, default_episodes, pending_notice, summary"},
                      "400": {"description": "refused: Q_PURPOSE, Q_CONSENT, Q_ID, Q_ID_TYPE, Q_INVALID"},
                      "401": {"description": "Q_UNAUTHORIZED"},
                      "403": {"description": "Q_GIVE_TO_GET, Q_GIVE_TO_GET_COVERAGE"},
                      "429": {"description": "Q_RATE_LIMIT"}}})
    async def post_lookup(request: Request) -> Any:
        """Blacklist status with reasons and dispute mark, default episodes (other lenders as their
        category) and a summary. Audited. Refused without purpose or consent, for a lender
        that has not reported recently (give-to-get) and above the rate limit.

        The hot path of the exchange: authentication and body validation are done here rather than
        through FastAPI's dependency machinery, which costs more than the database work."""
        st = state(request)
        authorization = request.headers.get("authorization", "")
        who = await st.caller_async(authorization[7:].strip() if authorization.startswith("Bearer ") else None)
        if who is None:
            return JSONResponse(unauthorized, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        try:
            body = LookupBody.model_validate_json(await request.body())
        except ValidationError as exc:
            fields = sorted({".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()})
            return _error(422, "Q_INVALID", "请求字段无效：" + ", ".join(fields), "invalid request fields: " + ", ".join(fields))
        result = await run_lookup_async(st, who, lk.LookupRequest(body.id_type, body.id_number, body.purpose,
                                                                  body.consent_ref), "api")
        if isinstance(result, lk.LookupRefused):
            return JSONResponse({"error": result.as_dict()}, status_code=result.status)
        return JSONResponse(result)  # JSON-ready already: skip the generic encoder

    # Served by a bare Starlette route in front of the documented FastAPI one: same function, same
    # answers, without FastAPI's per-request parameter machinery (about half the CPU of a look-up).
    app.router.routes.insert(0, Route("/v1/lookup", post_lookup, methods=["POST"]))

    @app.get("/v1/submissions", tags=["submissions"], summary="本机构报送记录 Own submissions")
    def get_submissions(request: Request, who: Authenticated) -> list[dict]:
        from . import portal_data

        with state(request).pool.connection() as conn:
            return portal_data.submissions(conn, who)

    @app.post("/v1/reports", tags=["reports"], summary="本人信用报告 Data-subject report (association only)")
    def post_report(body: ReportBody, request: Request, who: Association) -> Any:
        from . import report

        st = state(request)
        key = _key_or_refuse(st, body.id_type, body.id_number)
        with st.pool.connection() as conn:
            data = report.build(conn, key, body.id_type)
        if body.format == "html":
            return HTMLResponse(report.render_html(data))
        return data

    @app.post("/v1/disputes", tags=["disputes"], summary="提出异议 Open a dispute")
    def post_dispute(body: DisputeBody, request: Request, who: Authenticated) -> Any:
        from . import disputes

        st = state(request)
        key = _key_or_refuse(st, body.id_type, body.id_number)
        with st.pool.connection() as conn:
            try:
                return disputes.open_dispute(conn, who, key, body.record, body.reason, st.pseudonymizer)
            except ExchangeError as exc:
                return _error(400, exc.code, exc.message, exc.message)

    @app.get("/v1/disputes", tags=["disputes"], summary="异议列表 Disputes")
    def get_disputes(request: Request, who: Authenticated) -> list[dict]:
        from . import disputes

        with state(request).pool.connection() as conn:
            return disputes.list_disputes(conn, who)

    @app.post("/v1/disputes/{dispute_id}/resolve", tags=["disputes"], summary="处理异议 Resolve (association)")
    def resolve_dispute(dispute_id: int, body: ResolveBody, request: Request,
                        who: Association) -> Any:
        from . import disputes

        with state(request).pool.connection() as conn:
            try:
                return disputes.resolve(conn, who, dispute_id, body.outcome, body.reason)
            except ExchangeError as exc:
                return _error(400, exc.code, exc.message, exc.message)

    from .portal import router as portal_router

    app.include_router(portal_router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/portal", status_code=303)

    return app


def _key_or_refuse(st: State, id_type: str, id_number: str) -> str:
    from .identifiers import check_id, normalise

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


async def run_lookup_async(st: State, who: access.Caller, req: lk.LookupRequest,
                           channel: str) -> dict | lk.LookupRefused:
    """run_lookup on the event loop (asyncpg): one statement answers and audits."""
    checked = None
    try:
        counted = st.gate.take(who)
        if counted is not None:
            await st.apool.execute(_REFUSAL_PG, *lk.refusal_params(who, channel, counted))
        checked = lk.check_request(req, st.pseudonymizer)
        if who.lender_code is not None:
            await st.gate.check_give_to_get_async(st.apool, who.lender_code)
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
            counted = st.gate.take(who)
            if counted is not None:
                lk.audit_refusal(conn, who, channel, counted)
            checked = lk.check_request(req, st.pseudonymizer)
            if who.lender_code is not None:
                st.gate.check_give_to_get(conn, who.lender_code)
            return lk.lookup(conn, who, checked, channel)
        except lk.LookupRefused as refusal:
            lk.audit_refusal(conn, who, channel, refusal, checked, req)
            return refusal


app = None
"""`uvicorn exchange.api:app` style use goes through `exchange serve`, which calls create_app()."""


def serve(host: str, port: int, *, log_level: str = "warning") -> None:
    import uvicorn

    uvicorn.run(create_app(), host=host, port=port, log_level=log_level, access_log=False)
