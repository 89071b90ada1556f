"""Crafted raw-zone data for the feed-rule tests: one borrower per rule of DOMAIN sections 4-5.

Five lenders (three microloan companies, so that category is shown in place of their codes; one
online microloan company and one guarantee company, each alone in its category and so shown as
会员机构 member). Eight month ends, 2024-12-31 to 2025-07-31; every lender reports every one of its
loans in every month unless a case says otherwise. Amounts: each defaulted loan has 10,000
outstanding and 1,000 overdue (a tenth, as tests/dbt_scenario.status makes it).

- S1  XD01 D1 defaults in 2024; a dispute on that episode was upheld in March 2025 (异议成立).
      WD02 D2 goes overdue in April 2025 and defaults on 2025-07-31 (DPD 121): a later record at
      another lender, published as usual. XD05 D3 is current (it gets the alerts).
- S2  XD01 F1 and DB03 F2 both over 90 days; DB03 never gave notice: no B4, one lender.
- S3  XD04 N1 overdue since 2025-02-01, but every notice_date is 2025-01-15 (before it): pending.
- S4  XD05 P1 over 90 days, no last_payment_date, but its balance fell in July: no B1.
- S5  XD01 R1 flagged as fraud March-May, flag cleared from June: no B3 (the default stays).
- S6  WD02 U1 over 90 days, missing from WD02's June and July files: unreported, held.
      XD04 U2 is current (it gets no alert about S6).
- S7  DB03 T1 over 90 days, transferred (转出) on 2025-07-31: the episode ends as transferred.
- S8  WD02 C1 defaulted on 2025-01-31, clean from 2025-02-28: five months elapsed, not cured.
      XD04 C2 defaulted on 2024-12-31, clean from 2025-01-31: six months elapsed, cured 2025-07-31.
- S9  XD04 M1 over 90 days; a listing dispute was rejected: no dispute mark.
- S10 XD05 M2 over 90 days; a listing dispute is open: marked (异议标注).
- S11 XD01 Q1 and WD02 Q2 both over 90 days with notice: B1 and B4 at two lenders.
- S12 XD05 E1 overdue since 2025-04-01, notice given once on its first overdue report (04-30),
      blank afterwards; default on 2025-07-31 (DPD 121): the notice counts for the episode too.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

import psycopg
from dbt_scenario import SHANGHAI, Loan, Submission, insert_delivery, key, status

from exchange.access.tokens import ensure_lender_role

MONTHS = [date(2024, 12, 31)] + [date(2025, m, calendar.monthrange(2025, m)[1]) for m in range(1, 8)]
AS_OF = MONTHS[-1]
LENDERS = [
    ("XD01", "Xiangda Microloan", "microloan_company"),
    ("XD04", "Xinda Microloan", "microloan_company"),
    ("XD05", "Xuri Microloan", "microloan_company"),
    ("WD02", "Wangda Online Microloan", "online_microloan_company"),
    ("DB03", "Dongbao Financing Guarantee", "financing_guarantee_company"),
]
_ISSUE, _MATURITY = date(2024, 6, 1), date(2026, 6, 1)


def _loan(lender: str, loan_id: str, borrower: str) -> Loan:
    return Loan(lender, loan_id, borrower, "individual", "consumer_loan", "110105", 20000, _ISSUE, _MATURITY)


LOANS = [_loan(*spec) for spec in [
    ("XD01", "D1", "S1"), ("WD02", "D2", "S1"), ("XD05", "D3", "S1"),
    ("XD01", "F1", "S2"), ("DB03", "F2", "S2"),
    ("XD04", "N1", "S3"),
    ("XD05", "P1", "S4"),
    ("XD01", "R1", "S5"),
    ("WD02", "U1", "S6"), ("XD04", "U2", "S6"),
    ("DB03", "T1", "S7"),
    ("WD02", "C1", "S8"), ("XD04", "C2", "S8"),
    ("XD04", "M1", "S9"),
    ("XD05", "M2", "S10"),
    ("XD01", "Q1", "S11"), ("WD02", "Q2", "S11"),
    ("XD05", "E1", "S12"),
]]
BORROWER = {f"S{i}": key(f"S{i}") for i in range(1, 13)}
E1_NOTICE = date(2025, 4, 20)


def _overdue(loan_id: str, m: date, since: date, **changes) -> dict:
    return status(loan_id, m, "overdue", 10000, overdue_since=since, lender_class=3, **changes)


def _normal(loan_id: str, m: date, **changes) -> dict:
    return status(loan_id, m, "normal", 10000, **changes)


def _rows(m: date) -> list[dict]:
    rows = []
    old = date(2024, 8, 1)
    # S1: D1 long in default; D2 overdue from April (DPD 121 on 07-31); D3 current
    rows.append(_overdue("D1", m, old))
    rows.append(_overdue("D2", m, date(2025, 4, 1)) if m >= date(2025, 4, 30) else _normal("D2", m))
    rows.append(_normal("D3", m))
    # S2: F1 noticed; F2 never noticed
    rows.append(_overdue("F1", m, date(2024, 8, 15)))
    f2 = _overdue("F2", m, date(2024, 8, 15))
    f2["notice_date"] = None
    rows.append(f2)
    # S3: the notice predates the delinquency
    if m >= date(2025, 2, 28):
        n1 = _overdue("N1", m, date(2025, 2, 1))
        n1["notice_date"] = date(2025, 1, 15)
    else:
        n1 = _normal("N1", m)
    rows.append(n1)
    # S4: balance (and the overdue part with it) falls in July, no payment date reported
    if m == AS_OF:
        rows.append(status("P1", m, "overdue", 8500, overdue_since=date(2024, 9, 1), lender_class=3))
    else:
        rows.append(_overdue("P1", m, date(2024, 9, 1)))
    # S5: fraud flag March-May, cleared afterwards
    flagged = date(2025, 3, 31) <= m <= date(2025, 5, 31)
    r1 = _normal("R1", m, fraud=flagged)
    if flagged:
        r1["notice_date"] = date(2025, 3, 31)
    rows.append(r1)
    # S6: U1 missing from the June and July files; U2 current
    if m <= date(2025, 5, 31):
        rows.append(_overdue("U1", m, old))
    rows.append(_normal("U2", m))
    # S7: transferred at the last month end
    rows.append(status("T1", m, "transferred", 0) if m == AS_OF else _overdue("T1", m, old))
    # S8: C1 defaults 2025-01-31, clean from 2025-02-28; C2 defaults 2024-12-31, clean from 2025-01-31
    if m == date(2024, 12, 31):
        rows.append(_overdue("C1", m, date(2024, 10, 25)))  # DPD 67
        rows.append(_overdue("C2", m, date(2024, 9, 20)))  # DPD 102: default
    elif m == date(2025, 1, 31):
        rows.append(_overdue("C1", m, date(2024, 10, 25)))  # DPD 98: default
        rows.append(_normal("C2", m, last_payment=(date(2025, 1, 20), 3000)))
    else:
        rows.append(_normal("C1", m, last_payment=(date(2025, 2, 20), 3000) if m == date(2025, 2, 28) else None))
        rows.append(_normal("C2", m))
    # S9-S11
    rows.append(_overdue("M1", m, old))
    rows.append(_overdue("M2", m, old))
    rows.append(_overdue("Q1", m, old))
    rows.append(_overdue("Q2", m, date(2024, 9, 1)))
    # S12: one notice, on the first overdue report; DPD 29, 60, 90, then 121 (default)
    if m >= date(2025, 4, 30):
        e1 = _overdue("E1", m, date(2025, 4, 1))
        e1["notice_date"] = E1_NOTICE if m == date(2025, 4, 30) else None
    else:
        e1 = _normal("E1", m)
    rows.append(e1)
    return rows


def deliveries() -> list[Submission]:
    """Every lender's loans file (first month) and one loan_status file per lender and month."""
    lender_of = {loan.loan_id: loan.lender for loan in LOANS}
    ids = iter(range(1, 10_000))
    out = []
    for month, m in enumerate(MONTHS):
        received = datetime(m.year, m.month, m.day, 10, tzinfo=SHANGHAI) + timedelta(days=5)
        rows = _rows(m)
        for lender, _, _ in LENDERS:
            if month == 0:
                out.append(Submission(next(ids), lender, "loans", m, received,
                                      [loan.row() for loan in LOANS if loan.lender == lender]))
            out.append(Submission(next(ids), lender, "loan_status", m, received,
                                  [r for r in rows if lender_of[r["loan_id"]] == lender]))
    return out


DISPUTES = [
    # (borrower, kind, lender, loan, episode, status, opened)
    ("S1", "default_episode", "XD01", "D1", 1, "upheld", datetime(2025, 3, 15, 10, tzinfo=SHANGHAI)),
    ("S9", "listing", None, None, None, "rejected", datetime(2025, 6, 2, 10, tzinfo=SHANGHAI)),
    ("S10", "listing", None, None, None, "open", datetime(2025, 7, 20, 10, tzinfo=SHANGHAI)),
]


def insert_disputes(conn: psycopg.Connection) -> None:
    for borrower, kind, lender, loan_id, episode, state, opened in DISPUTES:
        resolved = None if state == "open" else opened + timedelta(days=10)
        conn.execute(
            "insert into control.disputes (borrower_key, record_kind, lender_code, loan_id, default_episode_no,"
            " status, opened_at, deadline, resolved_at, resolution_reason, resolved_by, opened_party, opened_reason)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'association', 'the person contests it')",
            (BORROWER[borrower], kind, lender, loan_id, episode, state, opened, (opened + timedelta(days=20)).date(),
             resolved, None if resolved is None else "checked with the lender",
             None if resolved is None else "association"))


def load(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.cursor().executemany("insert into control.lenders (lender_code, name, category) values (%s, %s, %s)",
                                  LENDERS)
        for code, _, _ in LENDERS:
            ensure_lender_role(conn, code)  # its database role: the member views show it its own rows
        insert_delivery(conn, deliveries())
        insert_disputes(conn)
