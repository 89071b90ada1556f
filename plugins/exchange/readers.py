"""Reading lenders' files: name, encoding, header and rows with their physical line numbers.

Everything here is about the file as bytes; what the values mean is `validate`'s job.
Structural problems raise `FileRejected` with the spec's file-level code, naming the
line where one applies, so the lender can find it.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import FileRejected
from .spec import ENCODINGS, FILE_NAME_RE, KINDS, Kind, header_key, header_map

CHUNK_ROWS = 50_000
_UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f]|\.\.")
_OTHER_DELIMITERS = (";", "\t", "|")


@dataclass(frozen=True)
class FileName:
    lender_code: str
    kind: str
    as_of: dt.date
    seq: int
    ext: str


def parse_file_name(name: str, *, today: dt.date | None = None) -> FileName:
    """Check `{lender}_{kind}_{YYYYMMDD}[_{seq}].{csv|xlsx}`; raise F_PATH / F_NAME / F_DATE."""
    if _UNSAFE_NAME.search(name) or name.startswith("."):
        raise FileRejected("F_PATH", "file name contains a path or control characters")
    m = FILE_NAME_RE.match(name)
    if not m or m.group("kind") not in KINDS:
        raise FileRejected("F_NAME", f"file name {name!r} does not follow the pattern")
    try:
        as_of = dt.datetime.strptime(m.group("date"), "%Y%m%d").date()
    except ValueError:
        raise FileRejected("F_DATE", f"{m.group('date')} is not a calendar date") from None
    if as_of > (today or dt.date.today()):
        raise FileRejected("F_DATE", f"reporting date {as_of} is in the future")
    return FileName(m.group("lender"), m.group("kind"), as_of, int(m.group("seq") or 1), m.group("ext"))


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def detect_encoding(path: Path) -> str:
    """Decide between UTF-8 (with or without BOM) and GB18030 by decoding the whole file strictly.

    A strict decode is the real test for the three encodings the spec accepts; a
    statistical detector (charset-normalizer) only names what a refused file looks like.
    """
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRejected("F_ENCODING", "file is UTF-16; save it as UTF-8 or GBK", line=1)
    for encoding in ("utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        try:
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    if b"\x00" in block:
                        raise FileRejected("F_ENCODING", "file contains NUL bytes (binary data)")
                    decoder.decode(block)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise FileRejected("F_ENCODING", f"not UTF-8 or GB18030 (looks like {_guess(path)})")


def _guess(path: Path) -> str:
    from charset_normalizer import from_path

    best = from_path(path, steps=3, chunk_size=4096).best()
    return best.encoding if best else "binary data"


@dataclass(frozen=True)
class Header:
    """Where each spec field sits in the file, and which columns were ignored."""

    positions: dict[str, int]
    width: int
    ignored: tuple[str, ...]


def map_header(cells: list[str], kind: Kind) -> Header:
    """Match header cells to spec fields (canonical or Chinese names); raise F_HEADER / F_DELIMITER."""
    cells = [c.strip() for c in cells]
    if len(cells) == 1 and any(d in cells[0] for d in _OTHER_DELIMITERS):
        raise FileRejected("F_DELIMITER", "the header is not comma separated", line=1)
    known = header_map(kind)
    positions: dict[str, int] = {}
    ignored: list[str] = []
    for i, cell in enumerate(cells):
        name = known.get(header_key(cell))
        if name is None:
            ignored.append(cell[:40])
        elif name in positions:
            raise FileRejected("F_HEADER", f"column {name} appears twice", line=1, field=name)
        else:
            positions[name] = i
    if not positions:
        raise FileRejected("F_HEADER", "no header row: the first line names no field of the spec", line=1)
    missing = [f.name for f in kind.required if f.name not in positions]
    if missing:
        raise FileRejected("F_HEADER", "required columns missing: " + ", ".join(missing), line=1, field=missing[0])
    return Header(positions, len(cells), tuple(ignored))


@dataclass
class Chunk:
    """Up to CHUNK_ROWS data rows: their line numbers and their cells by field."""

    lines: list[int]
    columns: dict[str, list[str]]
    bad_width: list[int]  # lines whose field count differs from the header (R_COLUMNS)


def iter_csv(path: Path, encoding: str, kind: Kind, max_field: int) -> tuple[Header, Iterator[Chunk]]:
    """Read the header now (so structure errors surface before any load) and stream the rest."""
    csv.field_size_limit(max_field)
    fh = io.TextIOWrapper(path.open("rb"), encoding=encoding, newline="")
    reader = csv.reader(fh, strict=True)
    try:
        first = next(_records(reader), None)
    except FileRejected:
        fh.close()
        raise
    if first is None:
        fh.close()
        raise FileRejected("F_EMPTY", "the file has no content")
    header = map_header(first[1], kind)
    return header, _chunks(_records(reader), header, fh)


def _records(reader) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, cells) per non-blank record; csv errors become file rejections."""
    last = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num
            if "field larger than field limit" in str(exc):
                raise FileRejected("F_FIELD_TOO_LARGE", "a field is larger than the limit", line=line) from None
            if "NUL" in str(exc):
                raise FileRejected("F_ENCODING", "binary data (NUL byte)", line=line) from None
            raise FileRejected("F_FORMAT", f"CSV structure broken: {exc}", line=line) from None
        start, last = last + 1, reader.line_num
        if row and any(cell.strip() for cell in row):
            yield start, row


def _chunks(records: Iterator[tuple[int, list[str]]], header: Header, closer) -> Iterator[Chunk]:
    try:
        yield from _group(records, header)
    finally:
        closer.close()


def _group(records: Iterator[tuple[int, list[str]]], header: Header) -> Iterator[Chunk]:
    """Batch records and transpose each batch into columns (zip(*rows) runs in C)."""
    width = header.width
    lines: list[int] = []
    rows: list[list[str]] = []
    bad: list[int] = []
    for line, row in records:
        if len(row) == width:
            lines.append(line)
            rows.append(row)
        else:
            bad.append(line)
        if len(rows) + len(bad) >= CHUNK_ROWS:
            yield _columns(lines, rows, bad, header)
            lines, rows, bad = [], [], []
    if rows or bad:
        yield _columns(lines, rows, bad, header)


def _columns(lines: list[int], rows: list[list[str]], bad: list[int], header: Header) -> Chunk:
    cols = list(zip(*rows, strict=True)) if rows else [()] * header.width
    return Chunk(lines, {name: list(cols[pos]) for name, pos in header.positions.items()}, bad)


def iter_xlsx(path: Path, kind: Kind, max_field: int) -> tuple[Header, Iterator[Chunk]]:
    """The first sheet; line numbers are sheet row numbers. Formulas surface as '=...' text."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=False)
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        first = next(rows, None)
    except FileRejected:
        raise
    except Exception as exc:  # openpyxl raises zipfile, XML and key errors for damaged files
        raise FileRejected("F_FORMAT", f"not a readable xlsx workbook ({type(exc).__name__})") from None
    if first is None or not any(c is not None for c in first):
        wb.close()
        raise FileRejected("F_EMPTY", "the first sheet is empty")
    header = map_header([_cell(c) for c in first], kind)

    def records() -> Iterator[tuple[int, list[str]]]:
        try:
            for line, values in enumerate(rows, start=2):
                cells = [_cell(c) for c in values]
                if any(len(c) > max_field for c in cells):
                    raise FileRejected("F_FIELD_TOO_LARGE", "a cell is larger than the limit", line=line)
                while len(cells) > header.width and cells[-1] == "":
                    cells.pop()
                cells += [""] * (header.width - len(cells))
                if any(c.strip() for c in cells):
                    yield line, cells
        except FileRejected:
            raise
        except Exception as exc:
            raise FileRejected("F_FORMAT", f"xlsx content unreadable ({type(exc).__name__})") from None

    return header, _chunks(records(), header, wb)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def open_rows(path: Path, fmt: str, encoding: str | None, kind: Kind, max_field: int) -> tuple[Header, Iterator[Chunk]]:
    if fmt == "xlsx":
        return iter_xlsx(path, kind, max_field)
    assert encoding in ENCODINGS
    return iter_csv(path, encoding, kind, max_field)
