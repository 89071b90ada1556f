"""Reading lenders' files: name, encoding, header and rows with their physical line numbers.

Everything here is about the file as bytes; what the values mean is `validate`'s job.
Structural problems raise `FileRejected` with the spec's file-level code, naming the
line where one applies, so the lender can find it.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import hashlib
import io
import itertools
import re
import struct
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from exchange.core.clock import local_today
from exchange.core.errors import FileRejected
from exchange.core.settings import Settings
from exchange.core.spec import ENCODINGS, FILE_NAME_RE, KINDS, Kind, header_key, header_map

BLOCK_BYTES = 8 << 20
"""The CSV reader's unit (about 100k status rows): large enough that per-block costs stay small,
small enough that a 20 MB file already reaches the memory the largest one needs."""
_ASCII_BLANKS = (b" ", b"\t", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\x1f")
"""The ASCII characters str.strip() removes, besides the line breaks that end records."""
FIRST_BLOCK_BYTES = 1 << 20
"""A small first block, so the database starts loading rows a moment after the header is read."""
CHUNK_ROWS = 50_000  # rows per chunk from an xlsx sheet
_UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f]|\.\.")
_EOCD = struct.Struct("<4s4H2LH")
"""The zip end-of-central-directory record: signature, disks, entry counts, directory size and offset."""
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_EOCD64_LOCATOR_SIZE = 20
_DIRECTORY_BYTES_PER_ENTRY = 1024
"""A directory record is 46 bytes plus the part's name: 1 KiB per allowed entry is ample for any
real workbook and keeps what zipfile parses (it reads the whole directory) small."""
_RATIO_GRACE_BYTES = 1 << 20
"""Parts that unpack to less are exempt from the ratio limit: a short repetitive XML part may
compress beyond any ratio, and cannot cost much."""
_SAFE_PART_NAME = re.compile(r"^[A-Za-z0-9_./\[\]-]{1,80}$")
_OTHER_DELIMITERS = (";", "\t", "|")


@dataclass(frozen=True)
class FileName:
    lender_code: str
    kind: str
    as_of: dt.date
    seq: int
    ext: str


def parse_file_name(name: str, *, today: dt.date | None = None) -> FileName:
    """Check `{lender}_{kind}_{YYYYMMDD}[_{seq}].{csv|xlsx}`; raise F_PATH / F_NAME / F_DATE.

    The reporting date may be today in Beijing, whatever the server's own zone.
    """
    if _UNSAFE_NAME.search(name) or name.startswith("."):
        raise FileRejected("F_PATH", "file name contains a path or control characters")
    m = FILE_NAME_RE.match(name)
    if not m or m.group("kind") not in KINDS:
        raise FileRejected("F_NAME", f"file name {name!r} does not follow the pattern")
    try:
        as_of = dt.datetime.strptime(m.group("date"), "%Y%m%d").date()
    except ValueError:
        raise FileRejected("F_DATE", f"{m.group('date')} is not a calendar date") from None
    if as_of > (today or local_today()):
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


def map_header(cells: list[str], kind: Kind, max_columns: int) -> Header:
    """Match header cells to spec fields (canonical or Chinese names); raise F_TOO_MANY_COLUMNS /
    F_HEADER / F_DELIMITER."""
    if len(cells) > max_columns:
        raise FileRejected("F_TOO_MANY_COLUMNS", f"the header has {len(cells)} columns, more than the limit of"
                                                 f" {max_columns}", line=1)
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
    """Data rows of one stretch of the file: their physical line numbers and their cells by field.

    Cells are Arrow-backed pandas strings: views of the parser's Arrow arrays, so no Python
    string is made per cell, yet iterating a column still gives plain `str`.
    """

    lines: np.ndarray  # int64, one per data row
    columns: dict[str, pd.Series]
    bad_width: list[int]  # lines whose field count differs from the header (R_COLUMNS)
    trimmed: bool = False
    """True when no cell can have surrounding whitespace (an ASCII block without any), so
    validation may skip trimming."""
    bad_width_loan_ids: list[str] = field(default_factory=list)
    """Per bad_width line, its cell where the header puts loan_id ("" when the row is too short):
    only a candidate, since a missing or extra field may have shifted another field there."""


class _LongLine(Exception):
    """A physical line longer than any row of the header's width can be; _csv_chunks knows its line."""


class _Incomplete(Exception):
    """A quoted field runs past the end of the block; the exact parser needs the next block too."""

    def __init__(self, rejection: FileRejected):
        super().__init__(rejection.message)
        self.rejection = rejection  # what it means when there is no next block


def iter_csv(path: Path, encoding: str, kind: Kind, settings: Settings) -> tuple[Header, Iterator[Chunk]]:
    """Read the header now (so structure errors surface before any load) and stream the rest."""
    csv.field_size_limit(settings.max_field_bytes)
    fh = path.open("rb")
    try:
        if encoding == "utf-8-sig":
            fh.read(len(codecs.BOM_UTF8))
        cells, line, rest, pending = _header_record(fh, encoding, settings.max_header_bytes)
        if cells is None:
            raise FileRejected("F_EMPTY", "the file has no content")
        header = map_header(cells, kind, settings.max_columns)
    except BaseException:
        fh.close()
        raise
    blocks = itertools.chain([rest], _utf8_blocks(fh, encoding, pending, _longest(header, settings.max_field_bytes)))
    return header, _csv_chunks(blocks, line, header, settings.max_field_bytes, fh)


def _longest(header: Header, max_field: int) -> int:
    """The most bytes a row can take: every field at the limit, quoted, in 4-byte UTF-8 characters."""
    return header.width * (4 * max_field + 3)


def _utf8_blocks(fh: BinaryIO, encoding: str, pending: bytes, longest: int) -> Iterator[bytes]:
    """The file as UTF-8, in blocks of whole physical lines (only the last may lack its newline);
    `pending` is a start of line already read. A line that runs on past a read and is longer than
    `longest` bytes (more than any row of the header's width can be) raises _LongLine instead of
    being gathered whole: split into cells, a line of millions of commas costs gigabytes. A line
    within one block costs no more than the block.

    Blocks end just after a b"\n", which is never part of a multi-byte character in UTF-8 or
    GB18030, so a GB18030 block decodes on its own.
    """
    parts: list[memoryview] = [memoryview(pending)]
    for size in itertools.chain([FIRST_BLOCK_BYTES], itertools.repeat(BLOCK_BYTES)):
        data = fh.read(size)
        if not data:
            break
        view = memoryview(data)
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            parts.append(view)
            if sum(len(p) for p in parts) > longest:
                raise _LongLine
            continue
        yield _utf8(b"".join([*parts, view[:cut]]), encoding)
        parts = [memoryview(bytes(view[cut:]))]  # a copy of the rest, so the read buffer can go
    tail = b"".join(parts)
    if tail:
        yield _utf8(tail, encoding)


def _utf8(block: bytes, encoding: str) -> bytes:
    return block.decode("gb18030").encode("utf-8") if encoding == "gb18030" else block


def _header_record(fh: BinaryIO, encoding: str, limit: int) -> tuple[list[str] | None, int, bytes, bytes]:
    """The first non-blank record (quoted cells allowed), read from at most `limit` bytes.

    Returns its cells, the line after it, the rest of its whole lines as UTF-8, and the start of
    the line the read cut (in the file's encoding). A header that does not end within the limit
    is refused without reading further: one line of millions of cells would otherwise be read
    whole and split into as many strings.
    """
    raw = fh.read(limit)
    at_end = len(raw) < limit
    cut = len(raw) if at_end else raw.rfind(b"\n") + 1
    text = raw[:cut].decode("gb18030" if encoding == "gb18030" else "utf-8")
    used = [0]
    reader = csv.reader(_counted(io.StringIO(text, newline=""), used), strict=True)
    too_large = FileRejected("F_HEADER_TOO_LARGE", f"the header does not end within the first {limit} bytes",
                             line=1)
    try:
        for row in reader:
            if _nonblank(row):
                return row, reader.line_num + 1, text[used[0]:].encode("utf-8"), raw[cut:]
    except csv.Error as exc:
        problem = _csv_rejection(exc, reader.line_num)
        if isinstance(problem, _Incomplete):
            raise (problem.rejection if at_end else too_large) from None
        raise problem from None
    if not at_end:
        raise too_large
    return None, 1, b"", b""


def _counted(lines: Iterable[str], used: list[int]) -> Iterator[str]:
    """Pass lines on, adding their length to used[0] (csv.reader never reads ahead of its record)."""
    for line in lines:
        used[0] += len(line)
        yield line


def _csv_chunks(blocks: Iterator[bytes], line: int, header: Header, max_field: int,
                closer: BinaryIO) -> Iterator[Chunk]:
    """One chunk per block: Arrow's parser where the block is plain, the exact csv module where not."""
    try:
        for block in blocks:
            chunk, used = _parse_whole(block, blocks, line, header, max_field)
            del block  # only the chunk is needed while it is validated and loaded
            line += used
            if len(chunk.lines) or chunk.bad_width:
                yield chunk
    except _LongLine:
        raise _long_line(header, max_field, line) from None
    finally:
        closer.close()


def _long_line(header: Header, max_field: int, line: int) -> FileRejected:
    return FileRejected("F_LINE_TOO_LONG", f"the line (or a quoted record running past it) is longer than any row"
                                           f" of {header.width} fields of at most {max_field} characters can be",
                        line=line)


def _parse_whole(block: bytes, blocks: Iterator[bytes], line: int, header: Header,
                 max_field: int) -> tuple[Chunk, int]:
    """_parse_block, taking in the following blocks while a quoted field runs on past the end.

    A record still open after more than a row's bytes were added (a chain of short quoted fields
    with line breaks) is refused rather than taken in block after block to the end of the file.
    """
    added = 0
    while True:
        try:
            return _parse_block(block, line, header, max_field)
        except _Incomplete as exc:
            if added > _longest(header, max_field):
                raise _long_line(header, max_field, line + block.count(b"\n", 0, len(block) - added)) from None
            try:
                more = next(blocks, None)
            except _LongLine:
                raise _long_line(header, max_field, line + block.count(b"\n")) from None
            if more is None:
                raise exc.rejection from None
            block += more
            added += len(more)


def _parse_block(block: bytes, line: int, header: Header, max_field: int) -> tuple[Chunk, int]:
    """The block's chunk and its number of physical lines; `line` is the block's first line."""
    chunk = _plain_block(block, line, header, max_field)
    if chunk is not None:
        return chunk, block.count(b"\n") + (not block.endswith(b"\n"))
    return _exact_block(block, line, header)


def _plain_block(block: bytes, line: int, header: Header, max_field: int) -> Chunk | None:
    """Arrow's C++ parser, when the block has one record per physical line; else None.

    Without quote characters and lone carriage returns a newline always ends a record, and
    if every line has the header's field count (Arrow refuses the block otherwise; a blank
    line has one field) then row i is line `line + i`, which Arrow itself cannot tell us.
    """
    if b'"' in block or (b"\r" in block and block.count(b"\r") != block.count(b"\r\n")):
        return None
    names = [str(i) for i in range(header.width)]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(block),
            read_options=pacsv.ReadOptions(column_names=names, block_size=len(block) + 1, use_threads=False),
            parse_options=pacsv.ParseOptions(quote_char=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                 strings_can_be_null=False, check_utf8=False))
    except pa.ArrowInvalid:
        return None
    _check_field_sizes(table, line, max_field)
    rows = np.arange(line, line + table.num_rows, dtype=np.int64)
    blank = _blank_rows(table)
    if blank is not None:
        table, rows = table.filter(~blank), rows[~blank]
    columns = {name: _series(table.column(pos).combine_chunks()) for name, pos in header.positions.items()}
    return Chunk(rows, columns, [], trimmed=block.isascii() and not any(c in block for c in _ASCII_BLANKS))


def _check_field_sizes(table: pa.Table, line: int, max_field: int) -> None:
    """Raise F_FIELD_TOO_LARGE at the first cell longer than the csv module's limit (in characters)."""
    too_large = [pc.index(pc.greater(pc.utf8_length(col), max_field), True).as_py()
                 for col in table.columns if pc.max(pc.binary_length(col)).as_py() > max_field]
    first = min((row for row in too_large if row >= 0), default=None)
    if first is not None:
        raise FileRejected("F_FIELD_TOO_LARGE", "a field is larger than the limit", line=line + first)


def _blank_rows(table: pa.Table) -> np.ndarray | None:
    """Rows whose every cell is whitespace (skipped like blank lines), or None when there are none.

    A blank row is blank in its first column too, so the full test runs only when that one
    column has a candidate. Arrow's utf8_is_space is exactly Python's str.isspace.
    """
    if table.num_rows == 0 or not pc.any(_blank(table.column(0))).as_py():
        return None
    return functools.reduce(pc.and_, [_blank(col) for col in table.columns]).to_numpy(zero_copy_only=False)


def _blank(cells: pa.ChunkedArray) -> pa.ChunkedArray:
    """Cells that str.strip() empties."""
    return pc.or_(pc.equal(cells, ""), pc.utf8_is_space(cells))


def _exact_block(block: bytes, line: int, header: Header) -> tuple[Chunk, int]:
    """Python's csv module: quoted newlines, ragged rows and blank lines, each at its exact line."""
    reader = csv.reader(io.StringIO(block.decode("utf-8"), newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    last = 0
    try:
        for row in reader:
            start, last = last + 1, reader.line_num
            if _nonblank(row):
                records.append((line + start - 1, row))
    except csv.Error as exc:
        raise _csv_rejection(exc, line + reader.line_num - 1) from None
    return _chunk_of(records, header), reader.line_num


def _csv_rejection(exc: csv.Error, line: int) -> FileRejected | _Incomplete:
    """The file-level code for a csv error; _Incomplete when the data merely ended inside quotes."""
    if "field larger than field limit" in str(exc):
        return FileRejected("F_FIELD_TOO_LARGE", "a field is larger than the limit", line=line)
    if "NUL" in str(exc):
        return FileRejected("F_ENCODING", "binary data (NUL byte)", line=line)
    rejection = FileRejected("F_FORMAT", f"CSV structure broken: {exc}", line=line)
    return _Incomplete(rejection) if "unexpected end of data" in str(exc) else rejection


def _nonblank(row: list[str]) -> bool:
    return any(cell.strip() for cell in row)


def _chunk_of(records: list[tuple[int, list[str]]], header: Header) -> Chunk:
    """Records of the exact paths (csv module, xlsx) as a chunk; zip(*rows) transposes in C."""
    good = [(line, row) for line, row in records if len(row) == header.width]
    bad = [(line, row) for line, row in records if len(row) != header.width]
    cols = list(zip(*(row for _, row in good), strict=True)) if good else [()] * header.width
    loan_id_at = header.positions.get("loan_id", header.width)
    return Chunk(np.array([line for line, _ in good], dtype=np.int64),
                 {name: _series(pa.array(cols[pos], pa.string())) for name, pos in header.positions.items()},
                 [line for line, _ in bad],
                 bad_width_loan_ids=[row[loan_id_at].strip() if loan_id_at < len(row) else "" for _, row in bad])


def _series(cells: pa.Array) -> pd.Series:
    return cells.to_pandas(types_mapper=pd.ArrowDtype)


def check_workbook(path: Path, settings: Settings) -> None:
    """Refuse a workbook whose zip directory promises more work than the limits allow, before
    openpyxl opens it (even read-only, openpyxl reads its shared strings whole into memory).

    The sizes in the directory bound what zipfile will ever unpack: it stops reading a part at its
    declared size and fails the CRC when the data runs on, so a lying directory cannot smuggle a
    bomb past this check. What zipfile parses first, the directory itself, is bounded by the end
    record's declared directory size.
    """
    with path.open("rb") as fh:
        directory = _directory_bytes(fh)
    if directory is None:
        raise FileRejected("F_FORMAT", "the .xlsx file is not a workbook (no zip directory)")
    if directory > settings.max_archive_entries * _DIRECTORY_BYTES_PER_ENTRY:
        raise FileRejected("F_ARCHIVE_ENTRIES", f"the workbook's zip directory takes {directory} bytes, more than"
                                                f" {settings.max_archive_entries} parts need")
    try:
        with zipfile.ZipFile(path) as zf:
            parts = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, struct.error) as exc:
        raise FileRejected("F_FORMAT", f"not a readable xlsx workbook ({type(exc).__name__})") from None
    if len(parts) > settings.max_archive_entries:
        raise FileRejected("F_ARCHIVE_ENTRIES", f"the workbook holds {len(parts)} parts, more than the limit of"
                                                f" {settings.max_archive_entries}")
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > _RATIO_GRACE_BYTES and ratio > settings.max_compression_ratio:
            name = part.filename if _SAFE_PART_NAME.match(part.filename) else "a part"
            raise FileRejected("F_COMPRESSION_RATIO", f"{name} unpacks {ratio:.0f} times its packed size"
                                                      f" ({part.file_size} bytes), above the limit of"
                                                      f" {settings.max_compression_ratio:g}")
    total = sum(part.file_size for part in parts)
    if total > settings.max_unpacked_bytes:
        raise FileRejected("F_UNPACKED_SIZE", f"the workbook unpacks to {total} bytes, more than the limit of"
                                              f" {settings.max_unpacked_bytes}")


def _directory_bytes(fh: BinaryIO) -> int | None:
    """The central directory's size as the end records declare it, read the way zipfile reads
    them (the zip64 record when one sits before the classic one); None when there is no end record."""
    fh.seek(0, io.SEEK_END)
    size = fh.tell()
    fh.seek(max(0, size - _EOCD.size - 0xFFFF))  # the end record, then a comment of up to 64 KiB
    tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        return None
    directory = _EOCD.unpack_from(tail, at)[5]
    end = size - len(tail) + at
    if end >= _EOCD64_LOCATOR_SIZE + _EOCD64.size:
        fh.seek(end - _EOCD64_LOCATOR_SIZE)
        if fh.read(4) == b"PK\x06\x07":
            fh.seek(end - _EOCD64_LOCATOR_SIZE - _EOCD64.size)
            record = fh.read(_EOCD64.size)
            if record[:4] == b"PK\x06\x06":
                directory = _EOCD64.unpack(record)[8]
    return directory


def iter_xlsx(path: Path, kind: Kind, settings: Settings) -> tuple[Header, Iterator[Chunk]]:
    """The first sheet; line numbers are sheet row numbers. Formulas surface as '=...' text."""
    from openpyxl import load_workbook

    check_workbook(path, settings)
    max_field = settings.max_field_bytes
    try:
        wb = load_workbook(path, read_only=True, data_only=False)
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        first = next(rows, None)
    except FileRejected:
        raise
    except Exception as exc:  # openpyxl raises zipfile, XML and key errors for damaged files
        raise FileRejected("F_FORMAT", f"not a readable xlsx workbook ({type(exc).__name__})") from None
    cells = [_cell(c) for c in first or ()]
    while cells and cells[-1] == "":  # a sheet's declared dimension pads rows with empty cells
        cells.pop()
    try:
        if not cells:
            raise FileRejected("F_EMPTY", "the first sheet is empty")
        header = map_header(cells, kind, settings.max_columns)
    except FileRejected:
        wb.close()
        raise

    def records() -> Iterator[tuple[int, list[str]]]:
        try:
            for line, values in enumerate(rows, start=2):
                cells = [_cell(c) for c in values]
                if any(len(c) > max_field for c in cells):
                    raise FileRejected("F_FIELD_TOO_LARGE", "a cell is larger than the limit", line=line)
                while len(cells) > header.width and cells[-1] == "":
                    cells.pop()
                cells += [""] * (header.width - len(cells))
                if _nonblank(cells):
                    yield line, cells
        except FileRejected:
            raise
        except Exception as exc:
            raise FileRejected("F_FORMAT", f"xlsx content unreadable ({type(exc).__name__})") from None

    return header, _xlsx_chunks(records(), header, wb)


def _xlsx_chunks(records: Iterator[tuple[int, list[str]]], header: Header, closer) -> Iterator[Chunk]:
    try:
        while batch := list(itertools.islice(records, CHUNK_ROWS)):
            yield _chunk_of(batch, header)
    finally:
        closer.close()


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


def open_rows(path: Path, fmt: str, encoding: str | None, kind: Kind,
              settings: Settings) -> tuple[Header, Iterator[Chunk]]:
    """The header and the chunks of rows, within the settings' limits on the work a file may cost."""
    if fmt == "xlsx":
        return iter_xlsx(path, kind, settings)
    assert encoding in ENCODINGS
    return iter_csv(path, encoding, kind, settings)
