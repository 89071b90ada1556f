"""Fraud patterns put in on purpose (欺诈模式注入): phone rings, loan stacking, bust-out and
identity mismatch.

Why: the exchange's fraud signals (dbt models int_*_signals, issue 16) are scored against these,
exactly as the validator is scored against truth.csv. Every pattern lives in borrowers of its own,
new to every lender and drawn from a stream of their own, and their loans take no injected problem
and live by a behaviour stream of their own: the rest of the portfolio keeps its numbers (only the
files' row counts grow). Each injected loans row is listed in signals.csv (signal, file, line).

- phone_ring: three to five people who give one mobile number (共用手机号), each borrowing at one
  lender within two months: what phone sharing flags;
- loan_stacking: one person borrowing at three or four lenders within 20 days of one month (叠贷);
- bust_out: one person borrowing at three or four lenders within one month and never paying any
  of them (撸贷): first-payment default everywhere the month after. It stacks as well;
- identity_mismatch: one ID borrowed with at two lenders in one month, under its holder's name
  at one and under another person's name (and phone) at the other (冒名借款, 身份信息不一致);
  two lenders only, so that it does not stack. Its loans take streams of their own again (simulate.py) and come
  after every other row of their files, out of the injector's reach, so that the three patterns
  above keep their numbers too.

signals.csv also lists the loans of the portfolio's own fraud ring (fraud_ring: borrowers who stop
paying everywhere at once, portfolio.RING_SINGLE and simulate._RING_SHARED): fraud all the same,
which a bust-out flag may rightly catch.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from exchange_tools.synthetic.identities import Borrower, Identities
from exchange_tools.synthetic.lenders import Lender
from exchange_tools.synthetic.loans import Loan, terms
from exchange_tools.synthetic.values import shift_month_end

IDENTITY_MISMATCH = "identity_mismatch"
SIGNALS = ("phone_ring", "loan_stacking", "bust_out", IDENTITY_MISMATCH, "fraud_ring")
"""The patterns as named in signals.csv: the four injected here, then the portfolio's own ring."""

_LOANS_PER_RING = 2500        # one ring per this many loans of the run (at least two rings)
_LOANS_PER_STACK = 80         # one stacking borrower per this many loans (at least five)
_LOANS_PER_BUST = 200         # one bust-out borrower per this many loans (at least five)
_LOANS_PER_MISMATCH = 150     # one misused ID per this many loans (at least five)


@dataclass(frozen=True)
class PlannedLoan:
    """A loan of an injected pattern: which pattern (and which instance of it: one ring, one
    stacking or bust-out borrower), its borrower, lender, month index and day of issue."""

    signal: str
    group: int
    borrower: Borrower
    lender: int
    month: int
    day: int


def plan(seed: int, ids: Identities, lenders: int, months: int, loans: int) -> list[PlannedLoan]:
    """Every injected loan of the run, drawn from the run's own signal stream.

    Needs three lenders (stacking and bust-out span three) and two months (a bust-out defaults
    the month after); otherwise nothing is injected.
    """
    if lenders < 3 or months < 2:
        return []
    rng = random.Random(f"{seed}:signals")
    total = lenders * loans
    planned: list[PlannedLoan] = []
    group = 0
    for _ in range(max(2, total // _LOANS_PER_RING)):
        group += 1
        first = rng.randrange(months - 1)
        phone = ids.phone(rng)
        for _member in range(rng.randint(3, 5)):
            borrower = ids.borrower(rng, False, None)
            borrower.phone = phone
            planned.append(PlannedLoan("phone_ring", group, borrower, rng.randrange(lenders), first + rng.randint(0, 1),
                                       rng.randint(1, 28)))
    for signal, per in (("loan_stacking", _LOANS_PER_STACK), ("bust_out", _LOANS_PER_BUST)):
        for _ in range(max(5, total // per)):
            group += 1
            borrower = ids.borrower(rng, False, None)
            month = rng.randrange(months - 1 if signal == "bust_out" else months)
            if signal == "bust_out":
                borrower.bust = month  # never pays from the month of the surge (simulate: Behaviour ring)
            start = rng.randint(2, 4)  # day 2 or later: every loan is younger than 30 days at the month end
            for lender in rng.sample(range(lenders), min(lenders, rng.randint(3, 4))):
                planned.append(PlannedLoan(signal, group, borrower, lender, month, rng.randint(start, start + 17)))
    # drawn last, from the same stream: the patterns above keep their draws
    for _ in range(max(5, total // _LOANS_PER_MISMATCH)):
        group += 1
        holder = ids.borrower(rng, False, None)
        impostor = Borrower(holder.uid, holder.btype, holder.id_type, holder.id_number,
                            ids.person_name(rng, rng.random() < 0.58), ids.phone(rng), holder.region)
        month = rng.randrange(months)
        for k, lender in enumerate(rng.sample(range(lenders), 2)):
            planned.append(PlannedLoan(IDENTITY_MISMATCH, group, holder if k == 0 else impostor, lender, month,
                                       rng.randint(1, 28)))
    return planned


def issue(rng: random.Random, lender: Lender, guarantors: list[str], planned: list[PlannedLoan],
          t: dt.date) -> list[Loan]:
    """The planned loans of one lender in the month ending `t`, terms from the lender's category.

    A bust-out loan repays monthly (no bullet): its first installment falls due the month after.
    """
    prev = shift_month_end(t, -1)
    out = []
    for p in planned:
        drawn = terms(rng, lender, False, guarantors)
        while p.signal == "bust_out" and drawn[6] != 1:
            drawn = terms(rng, lender, False, guarantors)
        loan = Loan(p.borrower, drawn, prev + dt.timedelta(days=min(p.day, t.day)))
        loan.p_miss, loan.mild, loan.dpd_blank, loan.fraud_at = 0.01, False, False, 10**9
        loan.signal = (p.signal, p.group)
        out.append(loan)
    return sorted(out, key=lambda ln: ln.issue)
