"""The collection_actions kind (催收记录) through the real ingest: timestamps must carry a zone,
loans must be known, promises need a date and an amount; good rows load by COPY."""

from __future__ import annotations

import pytest
from builders import csv_text, land, loan_row

from exchange.intake import lenders
from exchange.intake.ingest import ingest_path


def action_row(n: int, **overrides: str) -> dict[str, str]:
    row = {"loan_id": f"L{n:06d}", "action_time": "2025-02-10T10:30:00+08:00", "channel": "call",
           "actor": "in_house", "contacted_party": "borrower", "outcome": "contacted", "promise_date": "",
           "promise_amount": ""}
    return row | overrides


def actions_csv(rows: list[dict[str, str]], chinese: bool = False) -> str:
    return csv_text(rows, "collection_actions", chinese)


@pytest.fixture
def lender(exchange_home, conn):
    conn.execute("truncate raw.collection_actions")
    lenders.add(conn, "XD01", "测试小额贷款有限公司", "microloan_company")
    out = ingest_path(land(exchange_home, "XD01", "XD01_loans_20250131.csv",
                           csv_text([loan_row(i) for i in range(1, 6)])))
    assert out.verdict == "accepted"
    return "XD01"


def _problems(conn, submission_id):
    return conn.execute("select line, field, code from control.row_problems where submission_id = %s order by 1, 3",
                        (submission_id,)).fetchall()


BAD = [
    # (value, reason): naive times and unknown zones are R_TIMEZONE, broken times R_TIMESTAMP
    ("2025-02-10 10:30:00", "R_TIMEZONE"),
    ("2025-02-10T10:30:00", "R_TIMEZONE"),
    ("2025-02-10T10:30:00 CST", "R_TIMEZONE"),
    ("2025-02-10T10:30:00Asia/Shanghai", "R_TIMEZONE"),
    ("2025-02-10T10:30:00+25:00", "R_TIMEZONE"),
    ("2025-02-10T10:30:00+08:75", "R_TIMEZONE"),
    ("2025-02-10T10:30:00+8", "R_TIMEZONE"),
    ("2025-02-30T10:30:00+08:00", "R_TIMESTAMP"),
    ("2025-02-10T24:30:00+08:00", "R_TIMESTAMP"),
    ("2025-02-10T10:61:00+08:00", "R_TIMESTAMP"),
    ("2025/02/10 10:30+08:00", "R_TIMESTAMP"),
    ("10:30 2025-02-10", "R_TIMESTAMP"),
    ("2025-02-10", "R_TIMESTAMP"),
]


@pytest.mark.parametrize(("value", "code"), BAD)
def test_bad_timestamps_and_time_zones_are_rejected_with_their_reason(exchange_home, lender, conn, value, code):
    rows = [action_row(1 + i % 5) for i in range(40)] + [action_row(2, action_time=value)]
    out = ingest_path(land(exchange_home, lender, "XD01_collection_actions_20250228.csv", actions_csv(rows)))
    assert (out.verdict, out.rows_accepted, out.rows_rejected) == ("accepted_with_errors", 40, 1)
    assert _problems(conn, out.submission_id) == [(42, "action_time", code)]


def test_zoned_spellings_load_as_the_same_instant(exchange_home, lender, conn):
    spellings = ["2025-02-10T10:30:00+08:00", "2025-02-10 10:30:00+0800", "2025-02-10T02:30:00Z",
                 "2025-02-10T10:30+08", "2025-02-09T21:30:00.000-05:00", "2025-02-10T10:30:00.5+08:00"]
    rows = [action_row(1, action_time=s) for s in spellings]
    out = ingest_path(land(exchange_home, lender, "XD01_collection_actions_20250228.csv", actions_csv(rows)))
    assert out.verdict == "accepted"
    instants = conn.execute("select distinct date_trunc('second', action_time) from raw.collection_actions").fetchall()
    assert len(instants) == 1


def test_other_row_rules(exchange_home, lender, conn):
    rows = [action_row(1 + i % 5) for i in range(100)] + [
        action_row(99),  # never reported in a loans file
        action_row(1, outcome="promise_to_pay", promise_amount="500.00"),  # no promise_date
        action_row(1, outcome="promise_to_pay", promise_date="2025-03-05"),  # no promise_amount
        action_row(1, action_time="2025-03-01T00:30:00+08:00"),  # after the file's date (Shanghai time)
        action_row(1, channel="wechat"),
    ]
    rows.append(action_row(1, action_time="2025-02-28T23:30:00+08:00", outcome="promise_to_pay",
                           promise_date="2025-03-05", promise_amount="500.00"))  # fine: still the 28th in Shanghai
    out = ingest_path(land(exchange_home, lender, "XD01_collection_actions_20250228.csv", actions_csv(rows)))
    assert (out.verdict, out.rows_accepted, out.rows_rejected) == ("accepted_with_errors", 101, 5)
    assert _problems(conn, out.submission_id) == [
        (102, "loan_id", "R_UNKNOWN_LOAN"), (103, "promise_date", "R_PROMISE_MISSING"),
        (104, "promise_amount", "R_PROMISE_MISSING"), (105, "action_time", "R_FUTURE_DATE"), (106, "channel", "R_ENUM")]


def test_chinese_headers_and_labels_load(exchange_home, lender, conn):
    rows = [action_row(i, channel="电话", contacted_party="紧急联系人", outcome="未接通") for i in range(1, 6)]
    out = ingest_path(land(exchange_home, lender, "XD01_collection_actions_20250228.csv",
                           actions_csv(rows, chinese=True), "gb18030"))
    assert (out.verdict, out.rows_accepted) == ("accepted", 5)
    assert conn.execute("select distinct channel, contacted_party, outcome from raw.collection_actions").fetchall() == [
        ("call", "emergency_contact", "no_answer")]
