"""One lender's loan book (贷款组合): who borrows, how many loans each month, and their numbers.

The book starts with the loans the lender already holds at the first reporting date (issued within
the last two years, with their history simulated), and grows every month. Borrowers come from the
pool shared with other lenders, come back for another loan, or are new to everyone.
"""

from __future__ import annotations

import datetime as dt
import math
import random

from exchange_tools.synthetic.identities import NEVER, Borrower, Identities
from exchange_tools.synthetic.lenders import GUARANTEE, MICRO, ONLINE, Lender
from exchange_tools.synthetic.loans import ENDED, Behaviour, Loan, terms
from exchange_tools.synthetic.values import shift_month_end

REPEAT = 0.08              # a new loan goes to a borrower the lender already has
HISTORY_MONTHS = 24        # the existing book was issued within this many months before the first report
RING_SINGLE = 0.0065       # a new borrower of this lender alone joins the fraud ring
_EXISTING_SHARE = 0.3      # of a lender's loans, the book it already holds at the first reporting date
_ENTERPRISE_SHARE = {ONLINE: 0.04, MICRO: 0.16, GUARANTEE: 0.12}
_P_MISS = {ONLINE: 0.035, MICRO: 0.02, GUARANTEE: 0.018}


class Portfolio:
    """A lender's borrowers and loans: drawn from its simulation stream, numbered in issue order.

    It also remembers what the injections need: borrowers already loaded at the exchange, those
    given a second name, and the rejected loans the lender re-sends next month.
    """

    def __init__(self, lender: Lender, rng: random.Random, behaviour: Behaviour, *, loans: int, months: int,
                 history: list[dt.date], ids: Identities, guarantors: list[str], shared: list[Borrower],
                 ring_month: int):
        self.lender, self.rng, self.behaviour = lender, rng, behaviour
        self.history, self.ids, self.guarantors, self.ring_month = history, ids, guarantors, ring_month
        self.enterprise_share = _ENTERPRISE_SHARE[lender.category]
        self.home = None if lender.category == ONLINE else lender.home_province
        self.p_miss = _P_MISS[lender.category]
        self.existing = round(loans * _EXISTING_SHARE)
        self.new_counts = self._month_counts(months, loans - self.existing)
        shared = shared[:loans]
        self.slot_borrower = dict(zip(rng.sample(range(loans), len(shared)), shared, strict=True))
        self.next_slot = 0
        self.here: list[Borrower] = []          # borrowers with a loan here, for repeat loans
        self.here_uids: set[int] = set()
        self.loaded: list[Borrower] = []        # borrowers with an accepted loans row in an earlier month
        self.loaded_uids: set[int] = set()
        self.blocked: set[int] = set()          # borrowers given a second name here (W_NAME_CONFLICT)
        self.pending: list[Loan] = []           # rejected loans the lender re-sends next month
        self.seq: dict[str, int] = {}

    def _month_counts(self, months: int, total: int) -> list[int]:
        """New loans per month: a growing book with noise, every month at least one."""
        weights = [1 + 0.02 * m + self.rng.uniform(-0.1, 0.1) for m in range(months)]
        scale = (total - months) / sum(weights)
        counts = [1 + math.floor(w * scale) for w in weights]
        order = sorted(range(months), key=lambda m: -(weights[m] * scale % 1))
        for m in order[: total - sum(counts)]:
            counts[m] += 1
        return counts

    def _borrower(self) -> Borrower:
        """The borrower of the next loan: from the shared pool, a repeat customer, or someone new."""
        borrower = self.slot_borrower.get(self.next_slot)
        self.next_slot += 1
        if borrower is None or borrower.uid in self.blocked:
            borrower = None
            if self.here and self.rng.random() < REPEAT:
                pick = self.rng.choice(self.here)
                borrower = None if pick.uid in self.blocked else pick
            if borrower is None:
                borrower = self.ids.borrower(self.rng, self.rng.random() < self.enterprise_share, self.home)
                if self.rng.random() < RING_SINGLE:
                    borrower.bust = self.ring_month + self.rng.randint(0, 1)
        if borrower.uid not in self.here_uids:
            self.here_uids.add(borrower.uid)
            self.here.append(borrower)
        return borrower

    def _loan(self, borrower: Borrower, issue: dt.date | None) -> Loan:
        """A new loan; with `issue` None it is part of the existing book (issued within the last 24 months)."""
        drawn = terms(self.rng, self.lender, borrower.btype == "enterprise", self.guarantors)
        if issue is None:
            term_months = drawn[5] * drawn[6]
            back = self.rng.randint(1, max(1, min(HISTORY_MONTHS, term_months - 1)))
            month_end = self.history[-back]
            issue = month_end - dt.timedelta(days=self.rng.randrange(month_end.day))
        loan = Loan(borrower, drawn, issue)
        loan.p_miss = min(0.3, self.p_miss * self.rng.lognormvariate(0, 0.5))
        loan.mild = self.rng.random() < self.lender.style.under_class
        loan.dpd_blank = self.rng.random() >= self.lender.style.dpd_share
        loan.fraud_at = NEVER
        if borrower.bust < NEVER and self.rng.random() < 0.5:
            loan.fraud_at = borrower.bust + 2 + self.rng.randint(0, 2)
        return loan

    def _next_number(self, day: dt.date) -> tuple[str, int]:
        """The lender's next contract number of that month, {lender}{YYYYMM}{seq}, and its seq."""
        key = f"{day:%Y%m}"
        seq = self.seq.get(key, 0) + 1
        self.seq[key] = seq
        return f"{self.lender.code}{key}{seq:06d}", seq

    def number(self, loans: list[Loan]) -> None:
        """Contract numbers and consent references in issue order."""
        for loan in sorted(loans, key=lambda ln: ln.issue):
            loan.lid, seq = self._next_number(loan.issue)
            loan.consent = f"SQ{loan.issue:%Y%m%d}{self.lender.code}{seq:06d}"

    def unknown_id(self, as_of: dt.date) -> str:
        """A contract number in this lender's format that no loans row ever carries."""
        return self._next_number(as_of)[0]

    def existing_book(self) -> list[Loan]:
        """Loans issued before the first reporting date and still on the books then, with their history."""
        book = []
        history = self.history
        for _ in range(self.existing):
            borrower = self._borrower()
            for attempt in range(10):
                loan = self._loan(borrower, None if attempt < 9 else history[-1])
                prev = shift_month_end(history[0], -1)
                for mi, t in enumerate(history, start=-len(history)):
                    if t >= loan.issue and loan.state != ENDED:
                        self.behaviour.advance(loan, t, prev, mi, False)
                    prev = t
                if loan.state != ENDED:
                    break
            book.append(loan)
        book.sort(key=lambda ln: ln.issue)
        self.number(book)
        return book

    def issue(self, mi: int, t: dt.date) -> list[Loan]:
        """The loans issued in the month ending `t` (month index `mi`), in issue order."""
        prev = shift_month_end(t, -1)
        loans = []
        for _ in range(self.new_counts[mi]):
            borrower = self._borrower()
            loans.append(self._loan(borrower, prev + dt.timedelta(days=self.rng.randint(1, t.day))))
        loans.sort(key=lambda ln: ln.issue)
        self.number(loans)
        return loans

    def close_month(self, reported: list[Loan], rejected: list[Loan]) -> None:
        """Accepted loans rows make their borrowers known here (an injected pattern's never: no
        injection reuses them); rejected loans are re-sent next month."""
        refused = {id(loan) for loan in rejected}
        for loan in reported:
            b = loan.borrower
            if not loan.signal and id(loan) not in refused and b.uid not in self.loaded_uids:
                self.loaded_uids.add(b.uid)
                self.loaded.append(b)
        self.pending = rejected
