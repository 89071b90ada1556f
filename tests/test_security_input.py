"""Standing security suite for lenders' files: what an attacker can make the exchange do with a file.

Decompression bombs and million-column headers are refused before they cost memory (measured in a
child process: its peak resident size), digits of other scripts never mint a second borrower key,
concurrent submits and first downloads each get a clean answer, and any bytes at all give rows or a
reason code (hypothesis, seeded from tests/corpus/readers/).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
from access_world import build, live_server
from builders import csv_text, loan_row, resident_id, status_row, write_xlsx
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from exchange.core.errors import ExchangeError
from exchange.core.identifiers import Pseudonymizer, check_id, normalise
from exchange.core.regions import load_regions
from exchange.core.settings import get_settings
from exchange.core.spec import KINDS, VALIDATION_CODES
from exchange.intake import lenders
from exchange.intake.ingest import ingest_path, landing_files, submit
from exchange.intake.readers import detect_encoding, open_rows, parse_file_name
from exchange.intake.validate import Context, Validator

PEAK_LIMIT_MB = 500
CORPUS = Path(__file__).with_name("corpus") / "readers"
BOMB_UNPACKED = 320 << 20
"""Without the directory check, openpyxl turns this sharedStrings.xml into about 700 MB of strings."""


@pytest.fixture
def lender(exchange_home, conn):
    lenders.add(conn, "XD01", "测试小额贷款有限公司", "microloan_company")
    return "XD01"


def _peak(script: str, *args: str) -> tuple[dict, float]:
    """Run `script` in a fresh interpreter (this test session's environment); its printed JSON and
    its peak resident memory in MB.

    The peak is the kernel's high-water mark of the child's own address space (VmHWM): ru_maxrss
    would not do, as Linux carries the parent's high-water mark over a fork and exec, so a large
    pytest process would be measured instead of the work.
    """
    probe = script + "\nimport json, re\nRSS = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read())\n" \
                     "print(json.dumps({'result': RESULT, 'peak_mb': int(RSS.group(1)) / 1024}))\n"
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=600,
                          env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return out["result"], out["peak_mb"]


_SUBMIT_AND_INGEST = """
import sys
from pathlib import Path
from exchange.intake.ingest import ingest_path, submit
src = Path(sys.argv[1])
at_door = submit("XD01", [src])[0]
landed = Path(sys.argv[2])
landed.parent.mkdir(parents=True, exist_ok=True)
landed.write_bytes(src.read_bytes())
ingested = ingest_path(landed)
RESULT = {"door": at_door.code, "verdict": ingested.verdict, "reason": ingested.reason_code}
"""


def _submitted_and_ingested(home: Path, src: Path) -> tuple[dict, float]:
    """The door's answer and the ingest's verdict for one file, and the peak memory of both."""
    return _peak(_SUBMIT_AND_INGEST, str(src), str(home / "landing" / "XD01" / src.name))


# ---- bounded work: decompression bombs and wide headers ------------------------------------


def _shared_strings_bomb(path: Path, unpacked: int) -> None:
    """A real workbook (xlsxwriter) whose sharedStrings.xml is replaced by `unpacked` bytes of
    repeated strings: a few hundred kilobytes packed, declared honestly in the zip directory."""
    plain = path.with_suffix(".plain.xlsx")
    write_xlsx(plain, [loan_row(1)])
    item = b"<si><t>borrower name padding</t></si>"
    head = b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/' \
           b'spreadsheetml/2006/main">'
    block = item * ((1 << 20) // len(item))
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for info in src.infolist():
            if info.filename != "xl/sharedStrings.xml":
                out.writestr(info, src.read(info))
                continue
            with out.open("xl/sharedStrings.xml", "w") as part:
                part.write(head)
                for _ in range(unpacked // len(block)):
                    part.write(block)
                part.write(b"</sst>")
    plain.unlink()


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "XD01_loans_20250131.xlsx"
    _shared_strings_bomb(path, BOMB_UNPACKED)
    return path


def test_xlsx_bomb_is_refused_from_its_zip_directory_within_bounded_memory(exchange_home, lender, bomb, tmp_path):
    assert bomb.stat().st_size < 2 << 20
    result, peak_mb = _submitted_and_ingested(exchange_home, bomb)
    assert peak_mb < PEAK_LIMIT_MB, f"peak memory {peak_mb:.0f} MB ({result})"
    assert result == {"door": "F_COMPRESSION_RATIO", "verdict": "rejected", "reason": "F_COMPRESSION_RATIO"}


def test_xlsx_whose_directory_understates_a_part_is_refused_as_damaged(exchange_home, lender, bomb, tmp_path):
    """The directory's sizes are what the check trusts: a part declared small that unpacks huge
    is cut at its declared size by zipfile and fails its CRC, so it cannot slip a bomb through."""
    liar = tmp_path / bomb.name
    data = bytearray(bomb.read_bytes())
    name = b"xl/sharedStrings.xml"
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, directory record
        at = data.find(signature)
        while data[at + (30 if signature == b"PK\x03\x04" else 46):][:len(name)] != name:
            at = data.find(signature, at + 4)
        struct.pack_into("<L", data, at + size_at, 4096)
    liar.write_bytes(bytes(data))
    result, peak_mb = _submitted_and_ingested(exchange_home, liar)
    assert result == {"door": "F_FORMAT", "verdict": "rejected", "reason": "F_FORMAT"}
    assert peak_mb < PEAK_LIMIT_MB, f"peak memory {peak_mb:.0f} MB ({result})"


@pytest.mark.parametrize(("variable", "value", "code"), [
    ("EXCHANGE_MAX_UNPACKED_MB", "0.01", "F_UNPACKED_SIZE"),
    ("EXCHANGE_MAX_ARCHIVE_ENTRIES", "3", "F_ARCHIVE_ENTRIES"),
    ("EXCHANGE_MAX_COMPRESSION_RATIO", "1.5", None),  # small parts are exempt from the ratio
])
def test_workbook_limits_come_from_the_settings(exchange_home, lender, tmp_path, monkeypatch, variable, value, code):
    src = tmp_path / "XD01_loans_20250131.xlsx"
    write_xlsx(src, [loan_row(i) for i in range(1, 4)])
    monkeypatch.setenv(variable, value)
    (result,) = submit(lender, [src])
    assert result.code == code
    assert result.accepted_for_processing is (code is None)


def test_million_column_header_is_refused_without_reading_the_line(exchange_home, lender, tmp_path):
    src = tmp_path / "XD01_loans_20250131.csv"
    with src.open("wb") as fh:
        fh.write(b"loan_id")
        fh.write(b",c" * 15_000_000)
        fh.write(b"\n" + csv_text([loan_row(1)]).splitlines()[1].encode() + b"\n")
    result, peak_mb = _submitted_and_ingested(exchange_home, src)
    assert peak_mb < PEAK_LIMIT_MB, f"peak memory {peak_mb:.0f} MB ({result})"
    assert result == {"door": "F_HEADER_TOO_LARGE", "verdict": "rejected", "reason": "F_HEADER_TOO_LARGE"}


def test_million_column_data_line_is_refused_at_its_line_without_reading_it_whole(exchange_home, lender, conn,
                                                                                   tmp_path):
    src = tmp_path / "XD01_loans_20250131.csv"
    good = csv_text([loan_row(i) for i in range(1, 4)])
    with src.open("wb") as fh:
        fh.write(good.encode())
        fh.write(b"L9" + b",c" * 15_000_000 + b"\n")
    result, peak_mb = _submitted_and_ingested(exchange_home, src)
    assert peak_mb < PEAK_LIMIT_MB, f"peak memory {peak_mb:.0f} MB ({result})"
    assert result == {"door": None, "verdict": "rejected", "reason": "F_LINE_TOO_LONG"}
    assert conn.execute("select line from control.row_problems where code = 'F_LINE_TOO_LONG'").fetchone() == (5,)


def test_a_quoted_record_running_on_over_millions_of_lines_is_refused(exchange_home, lender, tmp_path):
    path = tmp_path / "landing" / lender / "XD01_loans_20250131.csv"
    path.parent.mkdir(parents=True)
    with path.open("wb") as fh:
        fh.write(csv_text([loan_row(i) for i in range(1, 4)]).encode())
        fh.write(b'L9,"x' + b'\n","x' * 3_000_000 + b'"\n')
    out = ingest_path(path)
    assert (out.verdict, out.reason_code) == ("rejected", "F_LINE_TOO_LONG")


def test_header_with_more_columns_than_the_limit_is_refused_at_line_1(exchange_home, lender, conn, tmp_path):
    header, row = csv_text([loan_row(1)]).splitlines()
    wide = ",".join([header, *(f"extra{i}" for i in range(300))]) + "\n" + row + "," * 300 + "\n"
    path = tmp_path / "landing" / lender / "XD01_loans_20250131.csv"
    path.parent.mkdir(parents=True)
    path.write_text(wide, encoding="utf-8")
    out = ingest_path(path)
    assert (out.verdict, out.reason_code) == ("rejected", "F_TOO_MANY_COLUMNS")
    assert conn.execute("select line, code from control.row_problems").fetchall() == [(1, "F_TOO_MANY_COLUMNS")]


def test_header_after_the_header_byte_limit_is_refused_but_one_within_it_loads(exchange_home, lender, tmp_path,
                                                                             monkeypatch):
    monkeypatch.setenv("EXCHANGE_MAX_HEADER_BYTES", "1024")
    content = csv_text([loan_row(i) for i in range(1, 4)])
    late = tmp_path / "XD01_loans_20250131.csv"
    late.write_text("\n" * 1100 + content, encoding="utf-8")
    early = tmp_path / "XD01_loans_20250201.csv"
    early.write_text("\n" * 10 + content, encoding="utf-8")
    assert submit(lender, [late])[0].code == "F_HEADER_TOO_LARGE"
    assert submit(lender, [early])[0].accepted_for_processing
    out = ingest_path(landing_files()[0])
    assert (out.verdict, out.rows_accepted) == ("accepted", 3)


# ---- ASCII digits only -------------------------------------------------------------------------

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize("name", ["XD01_loans_２０２５０１３１.csv", "XD01_loans_20250131_٢.csv",
                                  "XD01_loans_٢٠٢٥٠١٣١.csv"])
def test_file_names_with_non_ascii_digits_are_refused(name):
    with pytest.raises(ExchangeError) as refused:
        parse_file_name(name)
    assert refused.value.code == "F_NAME"


def test_another_scripts_digits_never_make_a_second_borrower_key():
    ascii_id = resident_id(7)
    pz = Pseudonymizer(b"0123456789abcdef0123")
    for foreign in (ascii_id.translate(ARABIC_INDIC), ascii_id[:6] + ascii_id[6:].translate(ARABIC_INDIC)):
        assert check_id("RESIDENT_ID", normalise("RESIDENT_ID", foreign)) == "R_ID_FORMAT"
        with pytest.raises(ExchangeError):
            pz.borrower_key("RESIDENT_ID", normalise("RESIDENT_ID", foreign))
    folded = normalise("RESIDENT_ID", ascii_id.translate(FULL_WIDTH))
    assert pz.borrower_key("RESIDENT_ID", folded) == pz.borrower_key("RESIDENT_ID", ascii_id)


def test_non_ascii_digits_reject_the_row_naming_the_field_and_full_width_ones_fold(exchange_home, lender, conn):
    rows = [loan_row(i) for i in range(1, 121)]
    rows[0] |= {"id_number": rows[0]["id_number"].translate(FULL_WIDTH), "phone": rows[0]["phone"].translate(FULL_WIDTH),
                "region_code": "１１０１０５", "issue_date": "２０２５-01-10", "principal": "５０００.00"}
    rows[1] |= {"id_number": resident_id(1).translate(ARABIC_INDIC)}  # the same person as row 1, other digits
    rows[2] |= {"phone": rows[2]["phone"].translate(ARABIC_INDIC)}
    rows[3] |= {"region_code": "110105".translate(ARABIC_INDIC)}
    rows[4] |= {"issue_date": "2025-01-10".translate(ARABIC_INDIC)}
    rows[5] |= {"installments": "١٢"}
    out = ingest_path(_land(exchange_home, lender, "XD01_loans_20250131.csv", csv_text(rows)))
    assert (out.verdict, out.rows_accepted, out.rows_rejected) == ("accepted_with_errors", 115, 5)
    assert conn.execute("select line, field, code from control.row_problems order by line").fetchall() == [
        (3, "id_number", "R_ID_FORMAT"), (4, "phone", "R_PHONE"), (5, "region_code", "R_REGION"),
        (6, "issue_date", "R_DATE"), (7, "installments", "R_INTEGER")]
    first = conn.execute("select borrower_key, phone_hash, region_code, issue_date, principal from raw.loans"
                         " where loan_id = 'L000001'").fetchone()
    pz = Pseudonymizer(os.environ["EXCHANGE_PSEUDONYM_KEY"].encode())
    assert first == (pz.borrower_key("RESIDENT_ID", resident_id(1)), pz.phone_hash(loan_row(1)["phone"]), "110105",
                     dt.date(2025, 1, 10), 5000)
    assert conn.execute("select count(distinct borrower_key) from raw.loans").fetchone()[0] == 115


def test_non_ascii_digits_in_status_dates_and_amounts_reject_the_row(exchange_home, lender, conn):
    ingest_path(_land(exchange_home, lender, "XD01_loans_20250131.csv", csv_text([loan_row(i) for i in range(1, 41)])))
    rows = [status_row(i) for i in range(1, 41)]
    rows[0] |= {"as_of_date": "2025-01-31".translate(ARABIC_INDIC)}
    rows[1] |= {"outstanding_principal": "4600.00".translate(ARABIC_INDIC)}
    out = ingest_path(_land(exchange_home, lender, "XD01_loan_status_20250131.csv", csv_text(rows, "loan_status")))
    assert out.rows_rejected == 2
    assert conn.execute("select line, field, code from control.row_problems where submission_id = %s order by line",
                        (out.submission_id,)).fetchall() == [(2, "as_of_date", "R_DATE"),
                                                             (3, "outstanding_principal", "R_NUMBER")]


def _land(home: Path, lender: str, name: str, content: str) -> Path:
    path = home / "landing" / lender / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


# ---- concurrency ----------------------------------------------------------------------------


def test_concurrent_submits_of_one_file_each_get_a_clean_answer_and_it_loads_once(exchange_home, lender, conn,
                                                                                 tmp_path):
    src = tmp_path / "XD01_loans_20250131.csv"
    src.write_text(csv_text([loan_row(i) for i in range(1, 20_001)]), encoding="utf-8")
    start = threading.Barrier(6)

    def door_then_ingest(_: int):
        start.wait()
        (at_door,) = submit(lender, [src])
        if not at_door.accepted_for_processing:
            return at_door.code, None
        outcome = ingest_path(exchange_home / at_door.landing_path)
        return None, (outcome.submission_id, outcome.verdict)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(door_then_ingest, range(6)))  # re-raises any exception of a thread
    loaded = conn.execute("select submission_id from control.submissions where verdict = 'accepted'").fetchall()
    assert len(loaded) == 1
    for refused, outcome in answers:
        assert refused == "F_DUPLICATE" or outcome[1] == "duplicate" or outcome == (loaded[0][0], "accepted")
    assert conn.execute("select count(*) from raw.loans").fetchone()[0] == 20_000
    assert not [p for p in (exchange_home / "landing" / lender).iterdir()], "no temporary file is left behind"


def test_concurrent_first_downloads_of_a_member_copy_all_get_the_whole_file(pg_url, tmp_path):
    portal_home = tmp_path / "portal"
    world = build(pg_url)
    full = portal_home / "exports" / "1"
    full.mkdir(parents=True)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("update shared.feed_versions set export_dir = %s, export_checksums = '{}' where version = 1",
                     (str(full),))
    with live_server(pg_url, str(portal_home)) as base:
        clients = []
        for _ in range(5):  # one token keeps at most 5 portal sessions (EXCHANGE_PORTAL_SESSIONS_PER_TOKEN)
            client = httpx.Client(base_url=base, timeout=60)
            assert client.post("/portal/login", data={"token": world.tokens["AA01"]}).status_code in (200, 303)
            clients.append(client)
        start = threading.Barrier(len(clients))

        def download(client: httpx.Client) -> tuple[int, bytes, bytes]:
            start.wait()
            data = client.get("/portal/exports/1/blacklist.parquet")
            manifest = client.get("/portal/exports/1/manifest.json")
            return data.status_code, data.content, manifest.content

        with ThreadPoolExecutor(len(clients)) as pool:
            answers = list(pool.map(download, clients))
    assert {status for status, _, _ in answers} == {200}
    listed = json.loads(answers[0][2])["files"]["blacklist.parquet"]
    for _, data, _ in answers:
        assert (len(data), hashlib.sha256(data).hexdigest()) == (listed["bytes"], listed["sha256"])
    member_copies = portal_home / ".exchange" / "member-exports" / "1"
    assert sorted(p.name for p in member_copies.iterdir() if not p.name.endswith(".lock")) == ["AA01"]


# ---- any bytes: rows or a reason code (property-based) ---------------------------------------


def _read_everything(path: Path) -> int:
    """What the ingest does with a file short of the database: name, encoding, header, every chunk
    read and validated. Returns the rows read; raises ExchangeError for a refusal."""
    name = parse_file_name(path.name)
    kind = KINDS[name.kind]
    encoding = None if name.ext == "xlsx" else detect_encoding(path)
    _, chunks = open_rows(path, name.ext, encoding, kind, get_settings())
    validator = Validator(Context(kind=kind, file_date=name.as_of, pseudonymizer=Pseudonymizer(b"fuzz-secret-0123456"),
                                  regions=frozenset(load_regions())))
    rows = 0
    for chunk in chunks:
        validator.validate(chunk)
        rows += len(chunk.lines) + len(chunk.bad_width)
    return rows


SEEDS = sorted(CORPUS.iterdir())


@st.composite
def _mutated(draw) -> tuple[str, bytes]:
    """A corpus file with a few bytes replaced, inserted or cut (or, now and then, bytes from nowhere)."""
    seed = draw(st.sampled_from(SEEDS))
    data = bytearray(seed.read_bytes())
    if draw(st.integers(0, 9)) == 0:
        data = bytearray(draw(st.binary(max_size=2048)))
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(("replace", "insert", "cut")))
        chunk = draw(st.binary(min_size=1, max_size=8) | st.sampled_from([b",", b'"', b"\n", b"\r", b"\x00", b"\xff",
                                                                             "٣".encode(), "３".encode()]))
        if action == "replace":
            data[at:at + len(chunk)] = chunk
        elif action == "insert":
            data[at:at] = chunk
        else:
            del data[at:at + len(chunk)]
    kind = "loan_status" if "status" in seed.name else "loans"
    return f"XD01_{kind}_20250131{seed.suffix}", bytes(data)


@hypothesis_settings(max_examples=1500, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_mutated())
@example(("XD01_loans_20250131.csv", b""))
@example(("XD01_loans_20250131.xlsx", b"PK\x05\x06" + b"\xff" * 18))
def test_any_bytes_give_rows_or_a_reason_code(case: tuple[str, bytes]):
    name, data = case
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        path = folder / name
        path.write_bytes(data)
        try:
            assert _read_everything(path) >= 0
        except ExchangeError as exc:
            assert exc.code in VALIDATION_CODES, exc
    finally:
        shutil.rmtree(folder)


def test_every_corpus_seed_is_read_without_a_refusal(tmp_path):
    """The seeds themselves are good files, so the fuzz starts from what the readers accept."""
    for seed in SEEDS:
        kind = "loan_status" if "status" in seed.name else "loans"
        path = tmp_path / f"XD01_{kind}_20250131{seed.suffix}"
        shutil.copyfile(seed, path)
        assert _read_everything(path) >= 1, seed.name
