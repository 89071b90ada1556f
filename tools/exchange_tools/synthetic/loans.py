"""Loans (贷款): contract terms by lender category, and the monthly life of a loan after issue.

A loan is advanced one month end at a time: it is paid, missed, cured in part or whole, prepaid,
restructured, compensated by its guarantor, transferred or written off, and its borrower may be
sued. The result of each month is the canonical loan_status row the lender reports.
"""

from __future__ import annotations

import datetime as dt
import random

from exchange.core import spec
from exchange_tools.synthetic.identities import Borrower
from exchange_tools.synthetic.lenders import GUARANTEE, MICRO, ONLINE, Lender
from exchange_tools.synthetic.values import date_text, iso, log_amount, money, rate_text

# Monthly behaviour. Index of _CURE is the bucket 1..7 (M1..M7+), by days past due at the last report.
_CURE = (0.0, 0.58, 0.42, 0.3, 0.15, 0.1, 0.07, 0.05)
_PARTIAL = 0.12
_P_RESTRUCTURE, _P_COMPENSATE, _P_TRANSFER, _P_WRITE_OFF = 0.07, 0.3, 0.02, 0.25
_P_PREPAY = {ONLINE: 0.02, MICRO: 0.01, GUARANTEE: 0.008}
_P_SUE = {ONLINE: 0.01, MICRO: 0.03, GUARANTEE: 0.04}
_P_SUE_RING = 0.35
_LEGAL_NEXT = {"filed": ("judgment", 0.3), "judgment": ("enforcement", 0.3), "enforcement": ("dishonest", 0.25)}
_LATE_NOTICE = 0.35        # chance per month that a negative episode not yet told is told now
NEG_STATUSES = next(c.values for c in spec.NEGATIVE.conditions
                    if isinstance(c, spec.When) and c.field == "account_status")
"""Account statuses that are negative information in themselves (spec.NEGATIVE)."""

ACTIVE, WRITTEN_OFF, ENDED = 0, 1, 2


class Loan:
    """A loan's contract terms and its repayment state, advanced one month end at a time."""

    __slots__ = ("lid", "borrower", "product", "gtype", "guarantor", "principal", "rate", "issue", "maturity",
                 "method", "n", "period", "consent", "p_miss", "mild", "dpd_blank", "fraud_at",
                 "s_y", "s_m", "day", "s_p", "s_n", "s_method", "paid", "seen", "since", "state", "restr",
                 "frozen", "notice", "prev_neg", "legal", "legal_m", "lp_date", "lp_amt", "signal")

    def __init__(self, borrower: Borrower, terms: tuple[str, str, str, int, int, int, int, str], issue: dt.date):
        self.borrower = borrower
        self.product, self.gtype, self.guarantor, self.principal, self.rate, self.n, self.period, self.method = terms
        self.issue = issue
        self.s_y, self.s_m, self.day = issue.year, issue.month, min(issue.day, 28)
        self.s_p, self.s_n, self.s_method = self.principal, self.n, self.method
        self.maturity = self.due_date(self.n)
        self.lid = self.consent = ""
        self.signal: tuple[str, int] | None = None  # injected fraud pattern and its instance (signals.py)
        self.paid = self.seen = 0
        self.since: dt.date | None = None
        self.state, self.restr, self.frozen = ACTIVE, False, (0, 0, 0)
        self.notice: dt.date | None = None
        self.prev_neg = False
        self.legal, self.legal_m = "none", 0
        self.lp_date: dt.date | None = None
        self.lp_amt: int | None = None

    def set_principal(self, cents: int) -> None:
        self.principal = self.s_p = cents

    def due_date(self, k: int) -> dt.date:
        y, m = divmod(self.s_y * 12 + self.s_m - 1 + k * self.period, 12)
        return dt.date(y, m + 1, self.day)

    def due_count(self, t: dt.date) -> int:
        """Installments of the current schedule that fell due on or before `t`."""
        months = (t.year - self.s_y) * 12 + t.month - self.s_m - (t.day < self.day)
        return min(max(months, 0) // self.period, self.s_n)

    def balance(self, k: int) -> int:
        """Principal outstanding (cents) after the first k installments of the current schedule."""
        if k <= 0:
            return self.s_p
        if k >= self.s_n:
            return 0
        if self.s_method == "equal_installment":
            g = 1 + self.rate * self.period / 12e6
            return round(self.s_p * (g**self.s_n - g**k) / (g**self.s_n - 1))
        if self.s_method == "equal_principal":
            return round(self.s_p * (self.s_n - k) / self.s_n)
        return self.s_p  # interest_first and bullet repay the principal with the last installment

    def interest(self, k: int) -> int:
        return round(self.balance(k - 1) * self.rate * self.period / 12e6)

    def installment(self, k: int) -> int:
        return self.balance(k - 1) - self.balance(k) + self.interest(k)

    def row(self, rate_places: int) -> list[str]:
        """The canonical loans row (spec.LOANS order), the rate written with `rate_places` decimals."""
        b = self.borrower
        return [self.lid, b.btype, b.id_type, b.id_number, b.name, b.phone, b.region, self.product, self.gtype,
                self.guarantor, money(self.principal), "CNY", rate_text(self.rate, rate_places),
                iso(self.issue), iso(self.maturity), self.method, str(self.n), self.consent]


def terms(rng: random.Random, lender: Lender, enterprise: bool,
           guarantors: list[str]) -> tuple[str, str, str, int, int, int, int, str]:
    """(product, guarantee type, guarantor, principal cents, rate millionths, installments, period, method)."""
    period, guarantor = 1, ""
    if lender.category == ONLINE:
        product = "online_microloan" if enterprise or rng.random() < 0.9 else "consumer_loan"
        principal = log_amount(rng, 10_000, 100_000, 1000) if enterprise else log_amount(rng, 1000, 50_000, 100)
        rate = rng.randint(1000, 2400) * 100
        method = rng.choices(("equal_installment", "equal_principal", "interest_first"), (80, 15, 5))[0]
        n = rng.choice((3, 6, 6, 9, 12, 12, 12, 18, 24))
        gtype = "credit"
    elif lender.category == MICRO:
        if enterprise or rng.random() < 0.5:
            product = "business_loan"
            principal = log_amount(rng, 50_000 if enterprise else 20_000, 500_000, 1000)
            rate = rng.randint(800, 2000) * 100
            method = rng.choices(("interest_first", "equal_installment", "equal_principal", "bullet"), (40, 30, 20, 10))[0]
            gtype = rng.choices(("credit", "guarantee", "mortgage", "pledge"), (40, 25, 20, 15))[0]
        else:
            product = "consumer_loan"
            principal = log_amount(rng, 20_000, 200_000, 1000)
            rate = rng.randint(1000, 2400) * 100
            method = rng.choices(("equal_installment", "equal_principal"), (85, 15))[0]
            gtype = rng.choices(("credit", "guarantee"), (80, 20))[0]
        if method == "bullet":
            n, period = 1, rng.choice((3, 6, 12))
        else:
            n = rng.choice((6, 12, 12, 24, 36))
        if gtype == "guarantee":
            guarantor = rng.choice(guarantors)
    else:
        product, gtype, guarantor = "guaranteed_microloan", "guarantee", lender.uscc
        principal = log_amount(rng, 100_000, 1_000_000, 1000) if enterprise else log_amount(rng, 30_000, 300_000, 1000)
        rate = rng.randint(600, 1500) * 100
        method = rng.choices(("equal_installment", "interest_first", "equal_principal"), (50, 30, 20))[0]
        n = rng.choice((6, 12, 12, 24, 36))
    return product, gtype, guarantor, principal, rate, n, period, method



class Behaviour:
    """How one lender's loans live month by month, and how the lender grades and reports them.

    It draws from the lender's simulation stream, which the portfolio shares when it issues loans:
    the order of the calls is part of what makes the same seed give the same bytes.
    """

    def __init__(self, rng: random.Random, lender: Lender):
        self.rng = rng
        self.style = lender.style
        self.p_prepay, self.p_sue = _P_PREPAY[lender.category], _P_SUE[lender.category]

    def _pay(self, loan: Loan, upto: int, day: dt.date) -> None:
        loan.lp_amt = sum(loan.installment(k) for k in range(loan.paid + 1, upto + 1))
        loan.lp_date = day
        loan.paid = upto

    def _day_after(self, start: dt.date, t: dt.date) -> dt.date:
        """A day in (start, t]."""
        return start + dt.timedelta(days=self.rng.randint(1, max(1, (t - start).days)))

    def _legal(self, loan: Loan, mi: int, dpd: int, ring: bool) -> None:
        """Lawsuits on deep delinquency: filed -> judgment -> enforcement -> dishonest (失信被执行人)."""
        if loan.legal == "none":
            p = _P_SUE_RING if ring and dpd > 60 else (self.p_sue if dpd > 90 else 0.0)
            if p and self.rng.random() < p:
                loan.legal, loan.legal_m = "filed", mi
        elif loan.legal in _LEGAL_NEXT and mi - loan.legal_m >= 2:
            nxt, p = _LEGAL_NEXT[loan.legal]
            if self.rng.random() < (p * 1.5 if ring else p):
                loan.legal, loan.legal_m = nxt, mi

    def _risk(self, loan: Loan, status: str, dpd: int, fraud: bool) -> int:
        """The lender's own five-class grade: the rule-set floor, sometimes one grade milder."""
        if status == "written_off":
            return 5
        if loan.borrower.btype == "individual":
            grade = 1 if dpd == 0 else 2 if dpd <= 90 else 3 if dpd <= 120 else 4 if dpd <= 180 else 5
        else:
            grade = 1 if dpd == 0 else 2 if dpd <= 90 else 3 if dpd <= 270 else 4 if dpd <= 360 else 5
        if loan.restr:
            grade = max(grade, 2)
        if fraud or loan.legal == "dishonest":
            grade = max(grade, 3)
        return grade - 1 if loan.mild and grade > 1 else grade

    def advance(self, loan: Loan, t: dt.date, prev: dt.date, mi: int, render: bool) -> list[str] | None:
        """Move the loan to month end `t`; return its canonical loan_status row when `render`."""
        ring = loan.borrower.bust <= mi
        if loan.state == WRITTEN_OFF:
            status, event = "written_off", ""
            dpd = (t - loan.since).days
            self._legal(loan, mi, dpd, ring)
            out, op, oi = loan.frozen
        else:
            due, event = self._repay(loan, t, prev, ring)
            status, dpd, out, op, oi = self._arrears(loan, t, mi, ring, due, event)
            if loan.paid >= loan.s_n:  # all paid (with an installment missed, paid < due <= s_n)
                event = event or "settled"
            loan.seen = due
        fraud = mi >= loan.fraud_at
        risk = 1 if event == "settled" else self._risk(loan, status, dpd, fraud)
        dpd_text = "" if loan.dpd_blank else str(dpd)
        if event:
            loan.state = ENDED
            if event == "compensated":
                loan.lp_date, loan.lp_amt = self._day_after(prev, t), out + oi
            status, out, op, oi, loan.since = event, 0, 0, 0, None
            dpd_text = "" if event != "settled" or loan.dpd_blank else "0"
        self._notice(loan, t, op + oi > 0 or status in NEG_STATUSES or loan.legal != "none" or fraud)
        if not render:
            return None
        return [iso(t), loan.lid, status, money(out), money(op), money(oi), date_text(loan.since), dpd_text,
                date_text(loan.lp_date), "" if loan.lp_amt is None else money(loan.lp_amt), str(risk),
                date_text(loan.notice), loan.legal, "true" if fraud else "false"]

    def _repay(self, loan: Loan, t: dt.date, prev: dt.date, ring: bool) -> tuple[int, str]:
        """This month's payments and work-outs; (installments due by `t`, event ending the loan or "").

        A performing loan pays on time, misses, or is paid off early; a delinquent one is cured in
        whole or in part, or restructured, compensated by its guarantor or transferred. A fraud-ring
        member's loans are never paid again.
        """
        rng = self.rng
        due = loan.due_count(t)
        if ring:
            return due, ""
        if loan.seen == loan.paid:
            if loan.issue <= prev and loan.paid < loan.s_n and rng.random() < self.p_prepay:
                loan.lp_date = self._day_after(max(prev, loan.issue), t)
                loan.lp_amt = loan.balance(loan.paid) + loan.interest(loan.paid + 1) // 2
                loan.paid = loan.s_n
                return loan.s_n, "settled"
            if due > loan.seen and rng.random() >= loan.p_miss:
                self._pay(loan, due, loan.due_date(due) - dt.timedelta(days=rng.randint(0, 3)))
            return due, ""
        bucket = min(7, ((prev - loan.since).days - 1) // 30 + 1)
        u = rng.random()
        if u < _CURE[bucket]:
            self._pay(loan, due, self._day_after(prev, t))
        elif u < _CURE[bucket] + _PARTIAL and loan.paid < due:
            self._pay(loan, loan.paid + 1, self._day_after(prev, t))
        else:
            v = rng.random()
            if bucket in (2, 3) and not loan.restr and v < _P_RESTRUCTURE:
                loan.restr = True
                loan.s_p, loan.s_n, loan.s_method = loan.balance(loan.paid), rng.choice((12, 18, 24)), \
                    "equal_installment"
                loan.s_y, loan.s_m, loan.period = t.year, t.month, 1
                loan.paid = 0
                return 0, ""
            if loan.guarantor and bucket >= 3 and v < _P_COMPENSATE:
                return due, "compensated"
            if bucket >= 4 and v < _P_TRANSFER:
                return due, "transferred"
        return due, ""

    def _arrears(self, loan: Loan, t: dt.date, mi: int, ring: bool, due: int,
                 event: str) -> tuple[str, int, int, int, int]:
        """(status, days past due, outstanding, overdue principal, overdue interest) at `t`, in cents.

        Deep arrears are written off: the whole balance is called in (accelerated) and stops accruing.
        """
        out = loan.balance(loan.paid)
        if due - loan.paid <= 0:
            loan.since = None
            return ("restructured" if loan.restr else "normal"), 0, out, 0, 0
        loan.since = loan.due_date(loan.paid + 1)
        dpd = (t - loan.since).days
        op = out - loan.balance(due)
        oi = sum(loan.interest(k) for k in range(loan.paid + 1, due + 1)) + round(op * loan.rate * dpd / 730e6)
        status = "overdue"
        if not event and dpd > 180 and (dpd > 360 or self.rng.random() < _P_WRITE_OFF):
            op = out
            status, loan.state, loan.frozen = "written_off", WRITTEN_OFF, (out, op, oi)
        self._legal(loan, mi, dpd, ring)
        return status, dpd, out, op, oi

    def _notice(self, loan: Loan, t: dt.date, negative: bool) -> None:
        """Negative information must be told to the borrower first (告知): in time, late, or not yet."""
        rng = self.rng
        if not negative:
            loan.notice = None
        elif loan.notice is None and rng.random() < (_LATE_NOTICE if loan.prev_neg else self.style.notice_rate):
            # told a few days after the first missed due date, or (late, or not about arrears) this month
            if loan.since and not loan.prev_neg:
                loan.notice = min(t, loan.since + dt.timedelta(days=rng.randint(1, 10)))
            else:
                loan.notice = t - dt.timedelta(days=rng.randint(0, 10))
                if loan.since:
                    loan.notice = max(loan.notice, loan.since)
        loan.prev_neg = negative
