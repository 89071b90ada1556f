"""Crafted raw-zone data for the publication tests: one borrower per blacklist rule and edge.

Built with the helpers of tests/dbt_scenario.py (same lenders XD01, WD02, DB03). Four month ends
of 2025 (January to April) plus an old episode in 2019:

- P1  XD01 K1  overdue since 2024-10-01, no payment: DPD over 90 -> B1.
- P2  XD01 K2  legal status enforcement (执行) from March -> B2.
- P3  WD02 K3  fraud flag (欺诈) in April -> B3.
- P4  XD01 K4 and WD02 K5, judgment at both from March (judgment alone is no reason) -> B4.
- P5  DB03 K6  DPD over 90 but the lender never gave notice -> pending_notice, never published.
- P6  XD01 K7  DPD over 90 with notice, and an open dispute -> B1 with the disputed mark.
- P7  XD01 K8  DPD over 90 but repaid 30 days before the last report -> in default, no B1.
- P8  XD01 K9  defaulted in 2019, settled 2019-06-30: purge date 2024-06-30 has passed -> purged.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import psycopg
from dbt_scenario import LENDERS, SHANGHAI, Loan, Submission, insert_delivery, key, status

MONTHS = [date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30)]
OLD_MONTHS = [date(2019, 3, 31), date(2019, 6, 30)]
AS_OF = MONTHS[-1]

LOANS = [
    Loan("XD01", "K1", "P1", "individual", "consumer_loan", "110105", 10000, date(2024, 6, 1), date(2025, 6, 1)),
    Loan("XD01", "K2", "P2", "individual", "consumer_loan", "110105", 20000, date(2024, 6, 1), date(2026, 6, 1)),
    Loan("WD02", "K3", "P3", "individual", "online_microloan", "310101", 3000, date(2024, 9, 1), date(2025, 9, 1)),
    Loan("XD01", "K4", "P4", "individual", "business_loan", "310101", 50000, date(2024, 3, 1), date(2026, 3, 1)),
    Loan("WD02", "K5", "P4", "individual", "online_microloan", "310101", 4000, date(2024, 8, 1), date(2025, 8, 1)),
    Loan("DB03", "K6", "P5", "enterprise", "guaranteed_microloan", "330106", 300000, date(2024, 1, 1),
         date(2026, 1, 1), guarantee="guarantee"),
    Loan("XD01", "K7", "P6", "individual", "consumer_loan", "440103", 8000, date(2024, 5, 1), date(2025, 5, 1)),
    Loan("XD01", "K8", "P7", "individual", "consumer_loan", "440103", 9000, date(2024, 5, 1), date(2025, 11, 1)),
]
OLD_LOAN = Loan("XD01", "K9", "P8", "individual", "consumer_loan", "110105", 7000, date(2018, 6, 1), date(2019, 12, 1))

BORROWER = {label: key(label) for label in ("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8")}


def _noticed(row: dict, when: date) -> dict:
    row["notice_date"] = when
    return row


def _statuses(m: date, month: int) -> dict[str, list[dict]]:
    xd, wd, db = [], [], []
    xd.append(status("K1", m, "overdue", 9000, overdue_since=date(2024, 10, 1), lender_class=3))
    legal = "enforcement" if month >= 3 else "none"
    k2 = status("K2", m, "normal", 18000, legal=legal)
    xd.append(_noticed(k2, MONTHS[2]) if month >= 3 else k2)
    k3 = status("K3", m, "normal", 2500, fraud=month == 4)
    wd.append(_noticed(k3, m) if month == 4 else k3)
    judgment = "judgment" if month >= 3 else "none"
    k4 = status("K4", m, "normal", 40000, legal=judgment)
    k5 = status("K5", m, "normal", 3500, legal=judgment)
    xd.append(_noticed(k4, MONTHS[2]) if month >= 3 else k4)
    wd.append(_noticed(k5, MONTHS[2]) if month >= 3 else k5)
    k6 = status("K6", m, "overdue", 280000, overdue_since=date(2024, 10, 15), lender_class=3)
    k6["notice_date"] = None  # the lender never told the borrower
    db.append(k6)
    xd.append(status("K7", m, "overdue", 7000, overdue_since=date(2024, 11, 1), lender_class=3))
    xd.append(status("K8", m, "overdue", 8000, overdue_since=date(2024, 11, 20), lender_class=3,
                     last_payment=(date(2025, 3, 31), 500) if month == 4 else None))
    return {"XD01": xd, "WD02": wd, "DB03": db}


def _received(m: date) -> datetime:
    return datetime(m.year, m.month, m.day, 10, tzinfo=SHANGHAI) + timedelta(days=5)


def deliveries() -> list[list[Submission]]:
    ids = iter(range(1, 1000))
    out: list[list[Submission]] = []
    # the old episode: a loans file and two status files of 2019
    old = [Submission(next(ids), "XD01", "loans", OLD_MONTHS[0], _received(OLD_MONTHS[0]), [OLD_LOAN.row()]),
           Submission(next(ids), "XD01", "loan_status", OLD_MONTHS[0], _received(OLD_MONTHS[0]),
                      [status("K9", OLD_MONTHS[0], "overdue", 6000, overdue_since=date(2018, 12, 1), lender_class=3)]),
           Submission(next(ids), "XD01", "loan_status", OLD_MONTHS[1], _received(OLD_MONTHS[1]),
                      [status("K9", OLD_MONTHS[1], "settled", 0, last_payment=(date(2019, 6, 30), 6600))])]
    out.append(old)
    for month, m in enumerate(MONTHS, start=1):
        batch = []
        if month == 1:
            for lender, _, _ in LENDERS:
                rows = [loan.row() for loan in LOANS if loan.lender == lender]
                batch.append(Submission(next(ids), lender, "loans", m, _received(m), rows))
        for lender, rows in _statuses(m, month).items():
            batch.append(Submission(next(ids), lender, "loan_status", m, _received(m), rows))
        out.append(batch)
    return out


def load(conn: psycopg.Connection) -> None:
    from dbt_scenario import insert_lenders

    with conn.transaction():
        insert_lenders(conn)
        for batch in deliveries():
            insert_delivery(conn, batch)
        # P6 disputes the listing (异议): published with the mark until resolved
        conn.execute("insert into control.disputes (borrower_key, record_kind) values (%s, 'listing')",
                     (BORROWER["P6"],))
