"""Crafted raw-zone data for the dbt tests: three lenders, fifteen loans, eight month ends.

Test data only: rows go in with plain INSERTs (the real ingest uses COPY). The data is a list of
deliveries, one per dbt run in the incremental test: each holds the files that arrived before that
run (the month's loans and loan_status files, plus any correction, rejected or duplicate file).
Inserting every delivery at once gives the state a full refresh sees; inserting them one by one
with a build after each gives the incremental sequence.

The cases it contains (month k is the k-th month end of 2025):
- XD01 A1 clean; its month-2 status file is corrected in delivery 4 (the first file said DPD 10).
- XD01 A2 rolls M1 -> M5, defaults at month 5 (DPD 112), written off at month 7.
- XD01 A3 defaults at month 2 (DPD 95), clean from month 3: six reports by month 8, but only five
  months elapsed, so still in default (a cure needs six calendar months).
- XD01 A4 defaults at month 3 (DPD 100), clean from month 4: five clean months, still in default.
- XD01 A5 bullet loan: nothing due (*) until maturity, settled at month 7.
- XD01 A6 re-aged at month 2 (DPD 40 -> 3 while overdue, no payment; a wrong dpd_reported), current
  with arrears at month 3.
- XD01 A7 stops being reported after month 4 without a terminal status.
- XD01 A8 enterprise loan to Q1, who also borrows at DB03.
- WD02 B1 balance grows at month 4; a loans file at month 5 moves it to another region.
- WD02 B2 restructured at month 2, fraud flag at month 5 (default, never cured by month 8).
- WD02 B3 settled at month 2, reported normal again at month 3.
- WD02 B4 in default from month 1, settled at month 3.
- WD02 B5's month-5 row is rejected by the exchange (quarantined); it is back at month 6.
- WD02 B6 is absent from the month-5 file (the one that rejected B5's row), back at month 6.
- WD02 B7's month-6 row is rejected by the exchange (it may have settled B7); B7 is absent from
  month 7 on.
- WD02 B8, B9, B10 reach DPD 120 at month 4 (default); at month 5 B8 is reported normal at DPD 0
  with no payment and the same balance (re-aged), B9 the same with a last_payment_date in the
  month, B10 restructured.
- DB03 E1 (non_retail) defaults at month 4 with the lender's class 4, compensated at month 6.
- DB03 E2 judgment at month 1 (default), clean from month 2: cured at month 8 (six months elapsed).
- DB03 E3 dishonest at month 2 with the lender's class 2 (under-classified), clean from month 3: still in
  default at month 8.
- XD01's month-1 loans file is corrected (seq 2) in delivery 2; WD02's month-1 status file arrives
  twice (duplicate); DB03's month-3 status file is rejected once, then accepted; DB03's month-6
  file is late; XD01's month-6 file is accepted with errors, and so are WD02's month-5 and month-6
  files (the quarantined rows above, recorded in control.row_problems).
"""

from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg

SHANGHAI = timezone(timedelta(hours=8))
MONTHS = [date(2025, m, calendar.monthrange(2025, m)[1]) for m in range(1, 9)]
"""The eight reporting dates (month ends of 2025-01 .. 2025-08)."""

LENDERS = [
    ("XD01", "Xiangda Microloan", "microloan_company"),
    ("WD02", "Wangda Online Microloan", "online_microloan_company"),
    ("DB03", "Dongbao Financing Guarantee", "financing_guarantee_company"),
]


def key(label: str) -> str:
    """A 64-hex stand-in for a borrower key (the real one is an HMAC)."""
    return hashlib.sha256(label.encode()).hexdigest()


@dataclass(frozen=True)
class Loan:
    lender: str
    loan_id: str
    borrower: str
    borrower_type: str
    product: str
    region: str
    principal: int
    issue: date
    maturity: date
    method: str = "equal_installment"
    guarantee: str = "credit"

    def row(self, **changes: Any) -> dict[str, Any]:
        row = {
            "loan_id": self.loan_id,
            "borrower_type": self.borrower_type,
            "id_type": "RESIDENT_ID" if self.borrower_type == "individual" else "USCC",
            "borrower_key": key(self.borrower),
            "name_hash": key("name:" + self.borrower),
            # P3 gives P2's phone (a household): the phone-sharing signals and clusters have a link
            "phone_hash": key("phone:" + ("P2" if self.borrower == "P3" else self.borrower)),
            "region_code": self.region,
            "product_type": self.product,
            "guarantee_type": self.guarantee,
            "guarantor_key": key("guarantor") if self.guarantee == "guarantee" else None,
            "principal": Decimal(self.principal),
            "currency": "CNY",
            "annual_rate": Decimal("0.18"),
            "issue_date": self.issue,
            "maturity_date": self.maturity,
            "repayment_method": self.method,
            "installments": 12,
            "consent_ref": "AUTH-" + self.loan_id,
        }
        row.update(changes)
        return row


LOANS = {
    loan.loan_id: loan
    for loan in [
        Loan("XD01", "A1", "P1", "individual", "consumer_loan", "110105", 10000, date(2024, 12, 10), date(2025, 12, 10)),
        Loan("XD01", "A2", "P2", "individual", "consumer_loan", "110105", 20000, date(2025, 1, 5), date(2026, 1, 5)),
        Loan("XD01", "A3", "P3", "individual", "business_loan", "310101", 50000, date(2024, 10, 1), date(2026, 10, 1)),
        Loan("XD01", "A4", "P4", "individual", "consumer_loan", "310101", 8000, date(2024, 11, 15), date(2025, 11, 15)),
        Loan("XD01", "A5", "P1", "individual", "consumer_loan", "110105", 5000, date(2025, 2, 1), date(2025, 7, 31),
             method="bullet"),
        Loan("XD01", "A6", "P5", "individual", "consumer_loan", "440103", 12000, date(2024, 9, 1), date(2025, 9, 1)),
        Loan("XD01", "A7", "P6", "individual", "consumer_loan", "440103", 6000, date(2024, 12, 1), date(2025, 12, 1)),
        Loan("XD01", "A8", "Q1", "enterprise", "business_loan", "330106", 100000, date(2025, 3, 1), date(2026, 3, 1)),
        Loan("WD02", "B1", "P1", "individual", "online_microloan", "110105", 3000, date(2025, 1, 20), date(2025, 12, 20)),
        Loan("WD02", "B2", "P2", "individual", "online_microloan", "110105", 4000, date(2024, 12, 1), date(2025, 12, 1)),
        Loan("WD02", "B3", "P7", "individual", "online_microloan", "440103", 2000, date(2024, 6, 1), date(2025, 6, 1)),
        Loan("WD02", "B4", "P8", "individual", "online_microloan", "440103", 5000, date(2024, 8, 1), date(2025, 8, 1)),
        Loan("WD02", "B5", "P9", "individual", "online_microloan", "440103", 3000, date(2024, 11, 1), date(2025, 11, 1)),
        Loan("WD02", "B6", "P10", "individual", "online_microloan", "440103", 3000, date(2024, 11, 1), date(2025, 11, 1)),
        Loan("WD02", "B7", "P11", "individual", "online_microloan", "440103", 3000, date(2024, 11, 1), date(2025, 11, 1)),
        Loan("WD02", "B8", "P12", "individual", "online_microloan", "110105", 5000, date(2024, 9, 1), date(2025, 9, 1)),
        Loan("WD02", "B9", "P13", "individual", "online_microloan", "110105", 5000, date(2024, 9, 1), date(2025, 9, 1)),
        Loan("WD02", "B10", "P14", "individual", "online_microloan", "110105", 5000, date(2024, 9, 1), date(2025, 9, 1)),
        Loan("DB03", "E1", "Q1", "enterprise", "guaranteed_microloan", "330106", 500000, date(2024, 6, 30),
             date(2026, 6, 30), guarantee="guarantee"),
        Loan("DB03", "E2", "Q2", "enterprise", "business_loan", "330106", 300000, date(2024, 3, 1), date(2026, 3, 1)),
        Loan("DB03", "E3", "Q3", "enterprise", "business_loan", "330106", 200000, date(2024, 5, 1), date(2026, 5, 1)),
    ]
}


def status(
    loan_id: str,
    as_of: date,
    account_status: str,
    outstanding: int,
    *,
    overdue_since: date | None = None,
    overdue_principal: int = 0,
    overdue_interest: int = 0,
    dpd_reported: int | None = None,
    lender_class: int | None = 1,
    legal: str = "none",
    fraud: bool = False,
    last_payment: tuple[date, int] | None = None,
    noticed: bool = True,
) -> dict[str, Any]:
    """One loan_status row; overdue_principal defaults to a tenth of the balance when overdue_since is set,
    and an overdue row carries a notice dated its own day unless not `noticed`."""
    if overdue_since is not None and not overdue_principal and not overdue_interest:
        overdue_principal = max(outstanding // 10, 100)
    return {
        "loan_id": loan_id,
        "as_of_date": as_of,
        "account_status": account_status,
        "outstanding_principal": Decimal(outstanding),
        "overdue_principal": Decimal(overdue_principal),
        "overdue_interest": Decimal(overdue_interest),
        "overdue_since": overdue_since,
        "dpd_reported": dpd_reported,
        "last_payment_date": last_payment[0] if last_payment else None,
        "last_payment_amount": Decimal(last_payment[1]) if last_payment else None,
        "lender_risk_class": lender_class,
        "notice_date": as_of if overdue_since is not None and noticed else None,
        "legal_status": legal,
        "fraud_flag": fraud,
    }


def status_rows(month: int) -> dict[str, list[dict[str, Any]]]:
    """The loan_status rows of month `month` (1..8) per lender, as finally in force."""
    m = MONTHS[month - 1]
    rows: dict[str, list[dict[str, Any]]] = {"XD01": [], "WD02": [], "DB03": []}
    xd, wd, db = rows["XD01"], rows["WD02"], rows["DB03"]

    xd.append(status("A1", m, "normal", 9800 - 800 * month))
    # A2: overdue since 2025-02-08 -> DPD 20, 51, 81, 112, 142; written off at 173, 204. Notices
    # only in the reports of months 2 and 5: the latest of the delinquency is carried to later months
    if month == 1:
        xd.append(status("A2", m, "normal", 20000))
    elif month <= 6:
        xd.append(status("A2", m, "overdue", 19000, overdue_since=date(2025, 2, 8),
                         lender_class={2: 2, 3: 2, 4: 2, 5: 3, 6: 4}[month], noticed=month in (2, 5)))
    else:
        xd.append(status("A2", m, "written_off", 19000, overdue_since=date(2025, 2, 8), lender_class=5,
                         noticed=False))
    # A3: DPD 95 at month 2, arrears repaid in month 3, clean from then on (not cured by month 8)
    if month == 2:
        xd.append(status("A3", m, "overdue", 44000, overdue_since=date(2024, 11, 25), overdue_principal=3000,
                         lender_class=3))
    else:
        xd.append(status("A3", m, "normal", {1: 45000, 3: 40000, 4: 38000, 5: 36000, 6: 34000, 7: 32000,
                                              8: 30000}[month],
                         last_payment=(date(2025, 3, 20), 5000) if month == 3 else None))
    # A4: overdue since 2024-12-21 -> DPD 41, 69, 100; repaid in month 4, five clean months
    if month <= 3:
        xd.append(status("A4", m, "overdue", 7000, overdue_since=date(2024, 12, 21), lender_class=2))
    else:
        xd.append(status("A4", m, "normal", 7000 - 500 * (month - 3),
                         last_payment=(date(2025, 4, 10), 1200) if month == 4 else None))
    # A5: bullet loan issued in month 2, matures 2025-07-31 and is settled that day
    if 2 <= month <= 6:
        xd.append(status("A5", m, "normal", 5000))
    elif month == 7:
        xd.append(status("A5", m, "settled", 0, last_payment=(date(2025, 7, 31), 5000)))
    # A6: re-aged at month 2 (overdue_since moves so far later without a payment that DPD falls from
    # 40 to 3, more than the 28 days elapsed; dpd_reported wrong), reported normal with arrears at month 3
    if month == 1:
        xd.append(status("A6", m, "overdue", 11000, overdue_since=date(2024, 12, 22), dpd_reported=40))
    elif month == 2:
        xd.append(status("A6", m, "overdue", 11000, overdue_since=date(2025, 2, 25), dpd_reported=30))
    elif month == 3:
        xd.append(status("A6", m, "normal", 11000, overdue_since=date(2025, 2, 25), overdue_principal=500))
    else:
        xd.append(status("A6", m, "normal", 11000 - 1000 * (month - 3)))
    # A7: reported through month 4, then never again
    if month <= 4:
        xd.append(status("A7", m, "normal", 6000 - 400 * month))
    # A8: enterprise loan from month 3
    if month >= 3:
        xd.append(status("A8", m, "normal", 100000 - 5000 * (month - 3)))

    # B1: balance grows at month 4
    wd.append(status("B1", m, "normal", {1: 3000, 2: 2700, 3: 2400, 4: 2600, 5: 2300, 6: 2000, 7: 1700,
                                         8: 1400}[month]))
    # B2: restructured at month 2, fraud flag at month 5
    if month == 2:
        wd.append(status("B2", m, "restructured", 3700, lender_class=2))
    else:
        wd.append(status("B2", m, "normal", {1: 3700, 3: 3400, 4: 3100, 5: 2800, 6: 2500, 7: 2200, 8: 1900}[month],
                         fraud=month == 5, lender_class=3 if month == 5 else 1))
    # B3: settled at month 2, normal again at month 3, settled at month 4
    if month in (1, 3):
        wd.append(status("B3", m, "normal", 500))
    elif month in (2, 4):
        wd.append(status("B3", m, "settled", 0))
    # B4: DPD 100 at month 1, 128 at month 2, settled at month 3
    if month <= 2:
        wd.append(status("B4", m, "overdue", 4000, overdue_since=date(2024, 10, 23), lender_class=3))
    elif month == 3:
        wd.append(status("B4", m, "settled", 0, last_payment=(date(2025, 3, 15), 4400)))
    # B5: its month-5 row is quarantined (quarantined_loans); B6: left out of the month-5 file;
    # B7: its month-6 row is quarantined, then it is left out
    if month != 5:
        wd.append(status("B5", m, "normal", 2500))
    if month != 5:
        wd.append(status("B6", m, "normal", 2500))
    if month <= 5:
        wd.append(status("B7", m, "normal", 2500))
    # B8, B9, B10: overdue since 2024-12-31 -> DPD 31, 59, 90, 120; at month 5 DPD 0 with the same
    # balance: B8 reported normal without a payment, B9 with one, B10 restructured
    for loan_id in ("B8", "B9", "B10"):
        if month <= 4:
            wd.append(status(loan_id, m, "overdue", 5000, overdue_since=date(2024, 12, 31), lender_class=2))
        elif month == 5 and loan_id == "B9":
            wd.append(status(loan_id, m, "normal", 5000, last_payment=(date(2025, 5, 20), 600)))
        elif month == 5 and loan_id == "B10":
            wd.append(status(loan_id, m, "restructured", 5000, lender_class=2))
        else:
            wd.append(status(loan_id, m, "normal", 5000))

    # E1: overdue since 2025-01-24 -> DPD 35, 66, 96 (default; lender class 4), 127; compensated at month 6
    if month == 1:
        db.append(status("E1", m, "normal", 400000))
    elif month <= 5:
        db.append(status("E1", m, "overdue", 390000, overdue_since=date(2025, 1, 24),
                         lender_class={2: 2, 3: 2, 4: 4, 5: 3}[month]))
    elif month == 6:
        db.append(status("E1", m, "compensated", 0, last_payment=(date(2025, 6, 20), 400000), lender_class=None))
    # E2: judgment at month 1, clean from month 2: cured at month 7
    db.append(status("E2", m, "normal", 280000 - 10000 * month, legal="judgment" if month == 1 else "none",
                     lender_class=3 if month == 1 else 1))
    # E3: dishonest at month 2 with the lender's class 2, clean from month 3: cured at month 8
    db.append(status("E3", m, "normal", 190000 - 5000 * month, legal="dishonest" if month == 2 else "none",
                     lender_class=2 if month == 2 else None))
    return rows


def quarantined_loans(month: int) -> dict[str, list[str]]:
    """Loans whose row in month `month`'s loan_status file (1..8) fails validation, per lender."""
    return {"WD02": {5: ["B5"], 6: ["B7"]}.get(month, [])}


@dataclass
class Submission:
    submission_id: int
    lender: str
    kind: str
    as_of: date
    received_at: datetime
    rows: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 1
    verdict: str = "accepted"
    reason_code: str | None = None
    rows_total: int | None = None
    rows_rejected: int = 0
    supersedes: int | None = None
    duplicate_of: int | None = None
    quarantined: list[str] = field(default_factory=list)
    """Loan ids of rows that failed validation: recorded in control.row_problems (after the
    loaded rows, by line), never loaded into the raw zone."""

    @property
    def file_name(self) -> str:
        suffix = f"_{self.seq}" if self.seq > 1 else ""
        return f"{self.lender}_{self.kind}_{self.as_of:%Y%m%d}{suffix}.csv"


def _received(month: int, day_after: int = 5, hour: int = 10) -> datetime:
    """A receipt time `day_after` days after month end `month`, Shanghai time."""
    end = MONTHS[month - 1]
    return datetime(end.year, end.month, end.day, hour, tzinfo=SHANGHAI) + timedelta(days=day_after)


def deliveries() -> list[list[Submission]]:
    """The files in the order they arrive, grouped by the dbt run that first sees them."""
    next_id = iter(range(1, 1000))
    out: list[list[Submission]] = []
    for month in range(1, 9):
        m = MONTHS[month - 1]
        batch: list[Submission] = []
        new_loans = {
            lender: [loan.row() for loan in LOANS.values() if loan.lender == lender
                     and (month == 1 and loan.issue <= m or month > 1 and MONTHS[month - 2] < loan.issue <= m)]
            for lender, _, _ in LENDERS
        }
        if month == 1:
            # XD01's first loans file reports A7 with a wrong principal; corrected in delivery 2
            new_loans["XD01"] = [r if r["loan_id"] != "A7" else LOANS["A7"].row(principal=Decimal(6500))
                                 for r in new_loans["XD01"]]
        if month == 5:
            # a later loans row for B1 moves it to another district
            new_loans["WD02"].append(LOANS["B1"].row(region_code="110108"))
        for lender, rows in new_loans.items():
            if rows:
                batch.append(Submission(next(next_id), lender, "loans", m, _received(month, 3), rows))
        statuses = status_rows(month)
        for lender, _, _ in LENDERS:
            rows = statuses[lender]
            if lender == "DB03" and month == 3:
                batch.append(Submission(next(next_id), lender, "loan_status", m, _received(month, 4), [],
                                        verdict="rejected", reason_code="F_ERROR_RATE", rows_total=len(rows),
                                        rows_rejected=2))
            if lender == "XD01" and month == 2:
                # the first month-2 file says A1 was 10 days past due; delivery 4 corrects it
                wrong = [r if r["loan_id"] != "A1" else
                         status("A1", m, "overdue", 8200, overdue_since=m - timedelta(days=10), dpd_reported=10)
                         for r in rows]
                batch.append(Submission(next(next_id), lender, "loan_status", m, _received(month), wrong))
                continue
            received = _received(month, 20) if lender == "DB03" and month == 6 else _received(month)
            sub = Submission(next(next_id), lender, "loan_status", m, received, rows)
            if lender == "XD01" and month == 6:
                sub.verdict, sub.rows_total, sub.rows_rejected = "accepted_with_errors", len(rows) + 1, 1
            if quarantined := quarantined_loans(month).get(lender):
                sub.verdict, sub.quarantined, sub.rows_rejected = "accepted_with_errors", quarantined, len(quarantined)
            batch.append(sub)
            if lender == "WD02" and month == 1:
                batch.append(Submission(next(next_id), lender, "loan_status", m, _received(month, 6), [],
                                        verdict="duplicate", reason_code="F_DUPLICATE", duplicate_of=sub.submission_id))
        if month == 2:
            first = next(s for s in out[0] if s.lender == "XD01" and s.kind == "loans")
            corrected = [LOANS[r["loan_id"]].row() for r in first.rows]
            batch.append(Submission(next(next_id), "XD01", "loans", MONTHS[0], _received(month, 1), corrected, seq=2,
                                    supersedes=first.submission_id))
        if month == 4:
            first = next(s for s in out[1] if s.lender == "XD01" and s.kind == "loan_status")
            batch.append(Submission(next(next_id), "XD01", "loan_status", MONTHS[1], _received(month, 2),
                                    status_rows(2)["XD01"], seq=2, supersedes=first.submission_id))
        out.append(batch)
    return out


_LOAN_COLUMNS = [
    "loan_id", "borrower_type", "id_type", "borrower_key", "name_hash", "phone_hash", "region_code",
    "product_type", "guarantee_type", "guarantor_key", "principal", "currency", "annual_rate", "issue_date",
    "maturity_date", "repayment_method", "installments", "consent_ref",
]
_STATUS_COLUMNS = [
    "as_of_date", "loan_id", "account_status", "outstanding_principal", "overdue_principal", "overdue_interest",
    "overdue_since", "dpd_reported", "last_payment_date", "last_payment_amount", "lender_risk_class", "notice_date",
    "legal_status", "fraud_flag",
]


def insert_lenders(conn: psycopg.Connection) -> None:
    conn.cursor().executemany(
        "insert into control.lenders (lender_code, name, category) values (%s, %s, %s)", LENDERS
    )


def insert_delivery(conn: psycopg.Connection, batch: list[Submission]) -> None:
    """Record the batch's submissions and load the rows of those accepted, as the ingest would."""
    cur = conn.cursor()
    for sub in batch:
        loaded = sub.verdict in ("accepted", "accepted_with_errors")
        total = sub.rows_total if sub.rows_total is not None else len(sub.rows) + len(sub.quarantined)
        cur.execute(
            "insert into control.submissions (submission_id, lender_code, kind, as_of_date, seq, file_name, sha256,"
            " size_bytes, file_format, encoding, arrival_key, received_at, processed_at, verdict, reason_code,"
            " rows_total, rows_accepted, rows_rejected, duplicate_of)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, 'csv', 'utf-8', %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (sub.submission_id, sub.lender, sub.kind, sub.as_of, sub.seq, sub.file_name,
             hashlib.sha256(f"{sub.submission_id}".encode()).hexdigest() if sub.verdict != "duplicate"
             else hashlib.sha256(f"{sub.duplicate_of}".encode()).hexdigest(),
             1000 + len(sub.rows), f"arrival-{sub.submission_id}", sub.received_at,
             sub.received_at + timedelta(minutes=1), sub.verdict, sub.reason_code, total,
             len(sub.rows) if loaded else 0, sub.rows_rejected, sub.duplicate_of),
        )
        if sub.supersedes is not None:
            cur.execute("update control.submissions set superseded_by = %s where submission_id = %s",
                        (sub.submission_id, sub.supersedes))
        if not loaded:
            continue
        cur.executemany(
            "insert into control.row_problems (submission_id, line, loan_id, field, code, severity)"
            " values (%s, %s, %s, 'account_status', 'R_ENUM', 'error')",
            [(sub.submission_id, line, loan_id) for line, loan_id in enumerate(sub.quarantined, start=len(sub.rows) + 2)],
        )
        if sub.kind == "loans":
            cur.executemany(
                f"insert into raw.loans (submission_id, line, lender_code, as_of_date, {', '.join(_LOAN_COLUMNS)})"
                f" values (%s, %s, %s, %s, {', '.join(['%s'] * len(_LOAN_COLUMNS))})",
                [(sub.submission_id, line, sub.lender, sub.as_of, *[r[c] for c in _LOAN_COLUMNS])
                 for line, r in enumerate(sub.rows, start=2)],
            )
        else:
            # the month partitions the ingest would have made (migration 0014)
            cur.execute("select raw.ensure_loan_status_partition(month) from unnest(%s::date[]) as month",
                        (sorted({r["as_of_date"] for r in sub.rows}),))
            cur.executemany(
                f"insert into raw.loan_status (submission_id, line, lender_code, {', '.join(_STATUS_COLUMNS)})"
                f" values (%s, %s, %s, {', '.join(['%s'] * len(_STATUS_COLUMNS))})",
                [(sub.submission_id, line, sub.lender, *[r[c] for c in _STATUS_COLUMNS])
                 for line, r in enumerate(sub.rows, start=2)],
            )


def status_file(lender: str, month: int) -> int:
    """Submission id of the loan_status file in force for `lender` at month `month` (1..8)."""
    files = [sub for batch in deliveries() for sub in batch
             if sub.lender == lender and sub.kind == "loan_status" and sub.as_of == MONTHS[month - 1]
             and sub.verdict in ("accepted", "accepted_with_errors")]
    return max(files, key=lambda sub: sub.seq).submission_id


def status_line(lender: str, loan_id: str, month: int) -> tuple[int, int]:
    """(submission id, line) of the loan's row in that file, as a lender finds it in its own file."""
    ids = [row["loan_id"] for row in status_rows(month)[lender]]
    return status_file(lender, month), ids.index(loan_id) + 2


def load_all(conn: psycopg.Connection) -> None:
    """Every delivery at once: the state a full refresh starts from."""
    with conn.transaction():
        insert_lenders(conn)
        for batch in deliveries():
            insert_delivery(conn, batch)
