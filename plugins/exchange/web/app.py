"""The exchange's web application: the HTTP API (/v1/...) and the portal (/portal/...).

One FastAPI app serves both; `exchange serve` runs it under uvicorn. Callers prove who
they are with a token (`exchange tokens issue`): the API takes it as `Authorization:
Bearer <token>`, the portal once at login (it then keeps a server-side session in a
cookie). Lender-facing messages are in Chinese with English beside. No clear ID leaves
the request it came in: the server turns it into the borrower key at once, and
validation errors never echo submitted values.
"""


import datetime as dt
import os
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import request_response

from exchange.access import disputes, report
from exchange.access import lookup as lk
from exchange.access import tokens as access
from exchange.core.errors import ExchangeError
from exchange.core.identifiers import check_id, normalise
from exchange.core.settings import get_settings
from exchange.web import dashboards, model_docs, portal, portal_data
from exchange.web.auth import API_CALLER, ApiCaller, api_caller, authenticate
from exchange.web.guard import CONTROL_CHARACTER_ERROR, RequestGuard, error_response, has_control_characters
from exchange.web.lookups import run_lookup
from exchange.web.render import report_html
from exchange.web.state import State

API_TITLE = "小额贷款信息共享平台 API · Credit-information exchange API"


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
    record: PlainText = Field(max_length=80, description="listing, phone_link (手机号关联: the phone one of your loans"
                                                         " reported for the person), or the loan reference of a default episode")
    reason_code: str | None = Field(default=None, pattern=r"^B[0-9]{1,3}$",
                                    description="a listing dispute on one reason only (B1, B2, ...)")
    loan_ref: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$",
                                 description="phone_link: the loan reference of your loan that reported the phone")
    phone: PlainText | None = Field(default=None, max_length=20,
                                    description="phone_link: the contested mobile number when that loan reported"
                                                " several (hashed at once, never stored)")
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


class SignalFlag(BaseModel):
    """A signal flag raised on the applicant's key (风险标识), with the rule that raised it."""

    code: Literal["phone_sharing", "identity_mismatch", "loan_stacking", "bust_out"]
    label_zh: str = Field(description="the flag in Chinese, e.g. 共用手机号")
    label_en: str = Field(description="the flag in English, e.g. phone sharing")
    rule_zh: str = Field(description="the rule that raised it, its window and threshold from the published rules")
    rule_en: str
    disputed: bool = Field(description="phone_sharing only: a phone link it counts is under an open dispute (异议标注)")


class SignalFigure(BaseModel):
    """One count of the key's published signals (计数), as of the signals' signal_date."""

    code: str = Field(description="phones_1m/3m/6m/12m (phone numbers reported per window), keys_per_phone_1m/3m/6m/"
                                  "12m (borrowers on its most shared phone, itself included), days_since_link_change,"
                                  " name_hashes (different names the lenders reported), stacking_lenders,"
                                  " stacking_new_principal, surge_lenders, first_payment_default_lenders,"
                                  " open_lenders (co-debt lenders), total_outstanding, overdue_lenders_6m")
    value: float = Field(description="a count, a number of days, or an amount in CNY (stacking_new_principal,"
                                     " total_outstanding)")
    label_zh: str
    label_en: str


class InquiryFigure(BaseModel):
    """Inquiry velocity (查询频次): distinct members whose look-ups of the key were answered within the
    window before this one, every purpose (purpose null) or one purpose. Never which members."""

    code: Literal["inquiry_members"]
    window_days: int = Field(description="the short or long inquiry window of the published rules (7 or 30 days)")
    purpose: str | None = Field(description="null: every purpose; else one of " + ", ".join(lk.PURPOSES))
    value: int = Field(ge=1, description="distinct members (the asking member's own earlier look-ups included)")
    label_zh: str
    label_en: str


class LookupSignals(BaseModel):
    """The signals section (风险信号): the key's fraud and multi-lending signals published with the live
    version, and inquiry velocity counted at look-up time. Empty lists: nothing to show."""

    signal_date: dt.date | None = Field(description="the month end the published signals are computed as of;"
                                                    " null when the key has no published signals")
    flags: list[SignalFlag]
    figures: list[SignalFigure]
    inquiries: list[InquiryFigure]
    phone_link_disputed: bool = Field(description="a phone link counted in the phone figures is under an open dispute"
                                                  " (异议处理中); an upheld one counts nowhere")
    message_zh: str
    message_en: str


class LookupAnswer(BaseModel):
    # lookup.build_answer's shape
    model_config = ConfigDict(extra="allow")
    lookup_id: int
    feed_version: int | None
    looked_up_at: str
    hit: bool
    blacklist: dict[str, Any]
    default_episodes: list[dict[str, Any]]
    held_records: list[dict[str, Any]]
    summary: dict[str, Any]
    signals: LookupSignals


IsoDateTime = Annotated[dt.datetime, PlainSerializer(dt.datetime.isoformat, return_type=str),
                        WithJsonSchema({"type": "string", "format": "date-time"})]
"""A time as datetime.isoformat() writes it (the database's offset, +00:00 rather than Z)."""


class Dispute(BaseModel):
    """A dispute with its deadline; the fields a call does not return are left out."""

    # disputes.open_dispute, resolve and list_disputes, in their order; response_model_exclude_unset
    # leaves out what a function does not return
    model_config = ConfigDict(extra="allow")
    dispute_id: int
    borrower_key: str | None = Field(default=None, description="the association only")
    record_kind: str
    lender_code: str | None
    loan_ref: str | None
    default_episode_no: int | None
    reason_code: str | None
    opened_at: IsoDateTime
    opened_party: str | None = None
    opened_reason: str | None = None
    deadline: dt.date
    status: str
    resolved_at: IsoDateTime | None = None
    resolution_reason: str | None = None
    status_zh: str
    days_left: int | None
    overdue: bool


class Submission(BaseModel):
    # portal_data.submissions (dates as ISO text)
    model_config = ConfigDict(extra="allow")
    submission_id: int
    lender_code: str
    file_name: str
    kind: str


class Report(BaseModel):
    """The data-subject report (see report.build): its sections as objects, `signals` among them (the
    fraud and multi-lending signals on the record at the latest signal date, bilingual, with figures)."""

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


UPLOAD_OVERHEAD = 1 << 20
"""Room for the multipart envelope and the form's other fields around an upload of max_file_bytes."""


class DirectRoute(APIRoute):
    """A route FastAPI documents from its own declaration (response model, responses, security)
    and serves as Starlette does: the endpoint takes the Request alone and returns a Response, so
    no dependency is solved, no body parsed and no answer validated again per request (on the
    look-up, FastAPI's machinery cost more CPU than the database work). Its declared
    dependencies only document: they must not be needed to serve it."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.app = request_response(endpoint)


def _state(request: Request) -> State:
    return request.app.state.exchange


def create_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.exchange = State()
        await app.state.exchange.start()
        yield
        await app.state.exchange.close()

    app = FastAPI(title=API_TITLE, version="1", lifespan=lifespan,
                  description="Look-ups, submissions, disputes and data-subject reports. "
                              "Authenticate with `Authorization: Bearer <token>` (exchange tokens issue). "
                              "Every error answers {\"error\": {\"code\", \"message_zh\", \"message_en\"}}.")
    upload_limit = get_settings().max_file_bytes + UPLOAD_OVERHEAD
    body_limit = int(float(os.environ.get("EXCHANGE_MAX_BODY_KB", "64")) * 1024)  # JSON and the portal's forms
    app.add_middleware(RequestGuard, authenticate=authenticate,
                       limit_for=lambda path: upload_limit if path == "/portal/upload" else body_limit)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _invalid_request(list(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.detail, dict):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return error_response(exc.status_code, "Q_HTTP", str(exc.detail), str(exc.detail), headers=exc.headers)

    async def association_only(who: ApiCaller) -> access.Caller:
        if not who.is_association:
            raise HTTPException(403, {"code": "Q_FORBIDDEN", "message_zh": "仅限行业协会",
                                      "message_en": "for the association only"})
        return who

    Association = Annotated[access.Caller, Depends(association_only)]

    @app.get("/v1/health", tags=["meta"], response_model=Health, responses=_errors())
    async def health(request: Request) -> dict:
        await _state(request).pool.execute("select 1")
        return {"status": "ok"}

    direct = APIRouter(route_class=DirectRoute)
    lookup_body = LookupBody.model_json_schema(ref_template="#/components/schemas/{model}")

    @direct.post("/v1/lookup", tags=["look-up"], summary="查询 Look up an applicant", response_model=LookupAnswer,
                 responses={200: {"description": "blacklist, default_episodes, held_records, summary, signals"},
                            **_errors(400, 401, 403, 413, 422, 429)},
                 dependencies=[API_CALLER],
                 openapi_extra={"requestBody": {"required": True,
                                                "content": {"application/json": {"schema": lookup_body}}}})
    async def post_lookup(request: Request) -> Response:
        """Blacklist status with reasons and dispute mark, default episodes (other lenders as their
        category), a summary and the signals section (fraud and multi-lending signals, inquiry
        velocity; counts and flags only, never which lender). Audited. Refused without purpose or consent, for a lender
        that has not reported recently (give-to-get) and above the rate limit."""
        # The hot path of the exchange, served as a DirectRoute. The body is parsed here
        # (LookupInput, documented as LookupBody) so that a missing purpose or consent is refused by
        # the exchange's checks and audited; build_answer makes the answer JSON-ready in
        # LookupAnswer's shape.
        who = api_caller(request)
        try:
            body = LookupInput.model_validate_json(await request.body())
        except ValidationError as exc:
            return _invalid_request(list(exc.errors()))
        result = await run_lookup(_state(request), who, lk.LookupRequest(body.id_type, body.id_number, body.purpose,
                                                                         body.consent_ref), "api")
        if isinstance(result, lk.LookupRefused):
            return JSONResponse({"error": result.as_dict()}, status_code=result.status)
        return JSONResponse(result)

    app.include_router(direct)

    @app.get("/v1/submissions", tags=["submissions"], summary="本机构报送记录 Own submissions",
             response_model=list[Submission], responses=_errors(401))
    async def get_submissions(request: Request, who: ApiCaller) -> list[dict]:
        return await portal_data.submissions(_state(request).pool, who)

    @app.post("/v1/reports", tags=["reports"], summary="本人信用报告 Data-subject report (association only)",
              response_model=Report,
              responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}},
                         **_errors(400, 401, 403, 413, 422)})
    async def post_report(body: ReportBody, request: Request, who: Association) -> Any:
        st = _state(request)
        data = await st.call_with_connection(report.build, _key_or_refuse(st, body.id_type, body.id_number),
                                             body.id_type)
        if body.format == "html":
            return HTMLResponse(report_html(data))
        return data

    @app.post("/v1/disputes", tags=["disputes"], summary="提出异议 Open a dispute", response_model=Dispute,
              response_model_exclude_unset=True, responses=_errors(400, 401, 413, 422))
    async def post_dispute(body: DisputeBody, request: Request, who: ApiCaller) -> Any:
        st = _state(request)
        key = _key_or_refuse(st, body.id_type, body.id_number)
        try:
            return await st.call_with_connection(disputes.open_dispute, who, key, body.record, body.reason,
                                                 st.pseudonymizer, reason_code=body.reason_code,
                                                 loan_ref=body.loan_ref, phone=body.phone)
        except ExchangeError as exc:
            return error_response(400, exc.code, exc.message, exc.message)

    @app.get("/v1/disputes", tags=["disputes"], summary="异议列表 Disputes", response_model=list[Dispute],
             response_model_exclude_unset=True, responses=_errors(401))
    async def get_disputes(request: Request, who: ApiCaller) -> list[dict]:
        return await _state(request).call_with_connection(disputes.list_disputes, who)

    @app.post("/v1/disputes/{dispute_id}/resolve", tags=["disputes"], summary="处理异议 Resolve (association)",
              response_model=Dispute, response_model_exclude_unset=True, responses=_errors(400, 401, 403, 413, 422))
    async def resolve_dispute(dispute_id: int, body: ResolveBody, request: Request, who: Association) -> Any:
        try:
            return await _state(request).call_with_connection(disputes.resolve, who, dispute_id, body.outcome,
                                                              body.reason)
        except ExchangeError as exc:
            return error_response(400, exc.code, exc.message, exc.message)

    # before the portal's own router: its /portal/{tab} would otherwise take /portal/dashboards and /portal/docs
    app.include_router(dashboards.router)
    app.include_router(model_docs.router)
    app.include_router(portal.router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/portal", status_code=303)

    return app


def _key_or_refuse(st: State, id_type: str, id_number: str) -> str:
    value = normalise(id_type, id_number)
    if check_id(id_type, value) is not None:
        raise HTTPException(400, {"code": "Q_ID", "message_zh": "证件号码无效", "message_en": "the ID number is not valid"})
    return st.pseudonymizer.borrower_key(id_type, value)


app = None
"""`uvicorn exchange.web.app:app` style use goes through `exchange serve`, which calls create_app()."""


def serve(host: str, port: int, *, log_level: str = "warning") -> None:
    import uvicorn  # the server itself: only `exchange serve` needs it

    uvicorn.run(create_app(), host=host, port=port, log_level=log_level, access_log=False)
