"""What stands in front of every web route: authentication before the body, body-size limits,
503 while the database is away.

An attacker without a token must not be able to make the server read, parse or store a large
body: FastAPI reads a request body whole before any dependency runs, so authentication and the
size limit live in an ASGI middleware that runs before the route and counts the bytes as they
stream in. Every refusal here speaks the exchange's one error format,
{"error": {"code", "message_zh", "message_en"}}.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import asyncpg
import psycopg
from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("exchange.web.app")

RETRY_AFTER_SECONDS = 5
DB_UNAVAILABLE: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,  # refused, reset, "the database system is in recovery mode", shutdown
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # 57P01-57P03: shutdown, crash, cannot connect now
    ConnectionError,  # asyncpg's connect to a closed port
    TimeoutError,  # no free pooled connection in time (both pools)
)
"""Failures that mean "the database is not there right now", answered 503 with Retry-After."""


def error_response(status: int, code: str, zh: str, en: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The exchange's error body; every refusal of the web layer is built here."""
    return JSONResponse({"error": {"code": code, "message_zh": zh, "message_en": en}}, status_code=status,
                        headers=headers)


class BodyTooLarge(HTTPException):
    """Raised from the counting receive(): an HTTPException so FastAPI's body parsing re-raises it
    as it is (any other exception there becomes a generic 400)."""

    def __init__(self, limit: int):
        super().__init__(413, {"code": "Q_TOO_LARGE", "message_zh": f"请求体超过上限（{limit} 字节）",
                               "message_en": f"the request body exceeds the limit of {limit} bytes"})


def unavailable() -> JSONResponse:
    return error_response(503, "Q_UNAVAILABLE", "数据库暂不可用，请稍后重试", "the database is unavailable; retry shortly",
                          headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


Authenticate = Callable[[Scope], Awaitable[Response | None]]
"""Looks at the request's headers and cookies only; returns the refusal to send, or None to go on."""


class RequestGuard:
    """ASGI middleware: the size limit by Content-Length, then authentication, then the route with
    a receive() that stops the body at the limit; database outages become 503."""

    def __init__(self, app: ASGIApp, *, authenticate: Authenticate, limit_for: Callable[[str], int]):
        self.app = app
        self.authenticate = authenticate
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            declared = _content_length(scope)
            if declared is not None and declared > limit:
                await _answer(BodyTooLarge(limit), scope, receive, send)
                return
            refusal = await self.authenticate(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            await self.app(scope, _counting(receive, limit), tracked_send)
        except BodyTooLarge as exc:  # raised outside FastAPI's handlers (a route that streams the body itself)
            if started:
                raise
            await _answer(exc, scope, receive, send)
        except DB_UNAVAILABLE as exc:
            if started:
                raise
            log.warning("database unavailable (%s): answered 503", type(exc).__name__)
            await unavailable()(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _counting(receive: Receive, limit: int) -> Receive:
    """receive() that raises BodyTooLarge as soon as more than `limit` body bytes have arrived
    (a chunked body has no Content-Length to check up front)."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return counted


async def _answer(exc: HTTPException, scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"error": exc.detail}, status_code=exc.status_code)(scope, receive, send)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_FREE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


CONTROL_CHARACTER_ERROR = {"code": "Q_CONTROL_CHAR", "message_zh": "请求字段含有控制字符（如 NUL）",
                           "message_en": "a request field contains a control character (such as NUL)"}


def has_control_characters(value: str, *, free_text: bool = False) -> bool:
    """NUL and the other C0/C1 control characters; free text may keep tab and line breaks.
    PostgreSQL refuses NUL in text, and no field of the exchange has a use for the others."""
    return (_CONTROL_IN_FREE_TEXT if free_text else _CONTROL).search(value) is not None
