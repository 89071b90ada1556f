"""The portal's file upload, read as it streams in rather than parsed whole first.

The portal's form sends the session's CSRF token before the file. The token is checked when
the file's part begins and the file's name when its headers have arrived (the rules of
`exchange submit`); only then is the file written, straight to the scratch directory, and no
further than the size limit. The rest of a refused body is read and dropped, never kept (the
request guard still answers 413 past its own limit).
"""

from __future__ import annotations

import codecs
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from exchange.core.errors import ExchangeError, FileRejected

MAX_FIELD_BYTES = 1024
"""The form's other fields are short (the CSRF token); longer values are cut, and then fail."""


@dataclass
class Received:
    """What came: csrf_ok False refuses the whole upload; else the file, or why it was not kept."""

    csrf_ok: bool = False
    file_sent: bool = False
    name: str = ""
    rejected: FileRejected | None = None
    too_large: bool = False
    path: Path | None = None


async def receive(request: Request, csrf: str, directory: Path, max_bytes: int,
                  check_name: Callable[[str], None]) -> Received:
    """Read the multipart body of `request`, keeping at most one file (in `directory`).

    `check_name` raises FileRejected for a name the exchange refuses; it runs in a worker thread.
    Raises ExchangeError("Q_MALFORMED") for a body that is not multipart form data."""
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    charset = params.get(b"charset", b"utf-8").decode("latin-1")
    try:
        charset = codecs.lookup(charset).name
    except LookupError:
        charset = "latin-1"
    got = Received()
    if not boundary:
        return got
    events = _Events(charset)
    sent_csrf = ""
    out: BinaryIO | None = None
    written = 0
    parser = MultipartParser(boundary, events.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            for kind, value in events.take():
                if kind == "field" and value[0] == "csrf":
                    sent_csrf = value[1]
                elif kind == "file" and not got.file_sent:
                    got.file_sent, got.name = True, value
                    got.csrf_ok = secrets.compare_digest(sent_csrf, csrf)
                    if got.csrf_ok:
                        try:
                            await run_in_threadpool(check_name, value)
                            got.path = directory / value
                            out = await run_in_threadpool(got.path.open, "wb")
                        except FileRejected as exc:
                            got.rejected = exc
                elif kind == "data" and out is not None:
                    written += len(value)
                    if written > max_bytes:
                        got.too_large, got.path = True, None
                        await run_in_threadpool(out.close)
                        out = None
                    else:
                        await run_in_threadpool(out.write, value)
                elif kind == "file_end" and out is not None:
                    await run_in_threadpool(out.close)
                    out = None
        parser.finalize()
    except FormParserError as exc:
        raise ExchangeError("Q_MALFORMED", "There was an error parsing the body") from exc
    finally:
        if out is not None:
            out.close()
    if not got.file_sent:
        got.csrf_ok = secrets.compare_digest(sent_csrf, csrf)
    return got


class _Events:
    """python-multipart's callbacks, turned into a list of events the reader handles in order:
    ("field", (name, value)), ("file", name), ("data", bytes) of the file, ("file_end", None)."""

    def __init__(self, charset: str):
        self.charset = charset
        self._events: list[tuple[str, object]] = []
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._field: tuple[str, bytearray] | None = None
        self._in_file = False

    def callbacks(self) -> dict[str, Callable]:
        return {"on_part_begin": self._part_begin, "on_part_data": self._part_data, "on_part_end": self._part_end,
                "on_header_field": self._header_field, "on_header_value": self._header_value_part,
                "on_header_end": self._header_end, "on_headers_finished": self._headers_finished}

    def take(self) -> list[tuple[str, object]]:
        events, self._events = self._events, []
        return events

    def _decode(self, value: bytes) -> str:
        try:
            return value.decode(self.charset)
        except UnicodeDecodeError:
            return value.decode("latin-1")

    def _part_begin(self) -> None:
        self._disposition, self._field, self._in_file = b"", None, False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"filename" in options:
            self._in_file = True
            self._events.append(("file", self._decode(options[b"filename"])))
        else:
            self._field = (self._decode(options.get(b"name", b"")), bytearray())

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._events.append(("data", data[start:end]))
        elif self._field is not None and len(self._field[1]) <= MAX_FIELD_BYTES:
            self._field[1].extend(data[start:end])

    def _part_end(self) -> None:
        if self._in_file:
            self._events.append(("file_end", None))
        elif self._field is not None:
            self._events.append(("field", (self._field[0], self._decode(bytes(self._field[1])))))
