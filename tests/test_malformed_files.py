"""A corpus of malformed files goes through a real Airflow run of exchange_ingest: each one is
rejected with its reason while the good files of the same run load."""

from __future__ import annotations

import io
import zipfile

import pytest
from builders import csv_text, land, loan_row, status_row
from rich.console import Console
from rich.table import Table

from exchange.intake import lenders
from exchange.pipeline.run import run_pipeline

GOOD_LOANS = csv_text([loan_row(i) for i in range(1, 31)])
LOAN_HEADER = GOOD_LOANS.splitlines()[0]


def _row(**overrides) -> str:
    return csv_text([loan_row(1, **overrides)]).splitlines()[1]


def _corrupt_xlsx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
    return buf.getvalue()[:-10]


# (landing folder, file name, content, expected code)
CORPUS: list[tuple[str, str, bytes, str]] = [
    ("XD02", "XD02_loans_20250131.csv", "借款,合同\n".encode("latin-1", "replace") + bytes([0xE9, 0x2C, 0x41, 0x0A]) * 5,
     "F_ENCODING"),
    ("XD02", "XD02_loans_20250201.csv", GOOD_LOANS.encode("utf-16"), "F_ENCODING"),
    ("XD02", "XD02_loans_20250202.csv", b"\x00\x01\x02binary\x00" * 100, "F_ENCODING"),
    ("XD02", "XD02_loans_20250203.csv", "\n".join(GOOD_LOANS.splitlines()[1:]).encode(), "F_HEADER"),
    ("XD02", "XD02_loans_20250204.csv", GOOD_LOANS.replace(",", ";").encode(), "F_DELIMITER"),
    ("XD02", "XD02_loans_20250205.csv", b"", "F_EMPTY"),
    ("XD02", "XD02_loans_20250206.csv", (GOOD_LOANS + _row()[:40]).encode(), "R_COLUMNS"),
    ("XD02", "XD02_loans_20250207.csv", (LOAN_HEADER + "\n" + _row(consent_ref="X" * 50_000_000) + "\n").encode(),
     "F_LINE_TOO_LONG"),
    ("XD02", "XD02_loans_20250221.csv", (LOAN_HEADER + "\n" + _row(consent_ref="X" * 5000) + "\n").encode(),
     "F_FIELD_TOO_LARGE"),
    ("XD02", "XD02_loans_20250208.csv",
     (LOAN_HEADER + "\n" + "\n".join(_row(loan_id=f"F{i}", consent_ref="=cmd|' /C calc'!A0") for i in range(5))
      + "\n").encode(), "R_FORMULA"),
    ("XD02", "..\\..\\XD02_loans_20250209.csv", GOOD_LOANS.encode(), "F_PATH"),
    ("XD02", "XD02_loans_20250210..csv", GOOD_LOANS.encode(), "F_PATH"),
    ("XD02", "XD01_loans_20250211.csv", GOOD_LOANS.encode(), "F_LENDER_MISMATCH"),
    ("ZZ99", "ZZ99_loans_20250212.csv", GOOD_LOANS.encode(), "F_LENDER_UNKNOWN"),
    ("XD03", "XD03_loans_20250213.csv", GOOD_LOANS.encode(), "F_LENDER_SUSPENDED"),
    ("XD02", "loans_january.csv", GOOD_LOANS.encode(), "F_NAME"),
    ("XD02", "XD02_loans_20251332.csv", GOOD_LOANS.encode(), "F_DATE"),
    ("XD02", "XD02_loans_20991231.csv", GOOD_LOANS.encode(), "F_DATE"),
    ("XD02", "XD02_loans_20250214.csv", (LOAN_HEADER + "\n").encode(), "F_NO_ROWS"),
    ("XD02", "XD02_loans_20250215.csv", GOOD_LOANS.replace("consent_ref", "remark").encode(), "F_HEADER"),
    ("XD02", "XD02_loans_20250216.csv", GOOD_LOANS.replace("currency", "principal").encode(), "F_HEADER"),
    ("XD02", "XD02_loans_20250217.xlsx", csv_text([loan_row(7)]).encode(), "F_FORMAT"),
    ("XD02", "XD02_loans_20250218.xlsx", _corrupt_xlsx(), "F_FORMAT"),
    ("XD02", "XD02_loans_20250219.csv", (GOOD_LOANS + 'L9,"unterminated\n').encode(), "F_FORMAT"),
    ("XD02", "XD02_loans_20250220.csv",
     csv_text([loan_row(i, region_code="000000" if i % 2 else "110105") for i in range(1, 21)]).encode(), "F_ERROR_RATE"),
    ("XD01", "XD01_loans_20250131_1.csv", GOOD_LOANS.encode(), "F_DUPLICATE"),
]


@pytest.fixture
def registered(exchange_home, conn):
    lenders.add(conn, "XD01", "甲小额贷款有限公司", "microloan_company")
    lenders.add(conn, "XD02", "乙网络小额贷款有限公司", "online_microloan_company")
    lenders.add(conn, "XD03", "丙融资担保有限公司", "financing_guarantee_company")
    lenders.set_status(conn, "XD03", "suspended", "membership lapsed")


@pytest.mark.slow
def test_each_malformed_file_is_rejected_with_its_reason_while_good_files_load(exchange_home, registered, conn):
    land(exchange_home, "XD01", "XD01_loans_20250131.csv", GOOD_LOANS)
    land(exchange_home, "XD01", "XD01_loan_status_20250131.csv",
         csv_text([status_row(i) for i in range(1, 31)], "loan_status"))
    for folder, name, content, _ in CORPUS:
        land(exchange_home, folder, name, content)

    result = run_pipeline(only=("exchange_ingest",))

    (run,) = result.runs
    assert run.state == "success"
    # one mapped task per lender folder, each taking its folder's files in order
    lender_folders = {folder for folder, *_ in CORPUS} | {"XD01"}
    assert sum(1 for t in run.task_states if t.startswith("ingest_lender[")) == len(lender_folders)
    table = Table("file", "expected", "verdict", "codes found")
    for folder, name, _, expected in CORPUS:
        verdict, codes = conn.execute(
            "select s.verdict, array_agg(distinct p.code) from control.submissions s"
            " left join control.row_problems p using (submission_id)"
            " where s.lender_code = %s and s.file_name = %s group by s.verdict", (folder, name)).fetchone()
        table.add_row(f"{folder}/{name}"[:48], expected, verdict, ",".join(codes))
        assert expected in codes, f"{name}: {codes}"
        assert verdict in ("rejected", "duplicate", "accepted_with_errors")
        assert (verdict == "accepted_with_errors") == (expected in ("R_COLUMNS",))
    Console(width=140).print(table)
    good = dict(conn.execute("select file_name, verdict from control.submissions where lender_code = 'XD01'"
                             " and file_name in ('XD01_loans_20250131.csv', 'XD01_loan_status_20250131.csv')"))
    assert set(good.values()) == {"accepted"}
    assert conn.execute("select count(*) from raw.loans where lender_code = 'XD01'").fetchone()[0] == 30
    assert conn.execute("select count(*) from raw.loan_status").fetchone()[0] == 30
    assert not list((exchange_home / "landing").rglob("*.csv")), "every landed file was processed"
