"""The simulation: the lenders and the borrowers they share, then each lender month by month.

Each month a lender issues loans and reports them (loans file), advances every loan to the month
end and reports where it stands (loan_status file, once a `_2` correction of it), and reports the
collection actions on its delinquent loans (collection_actions file); the deliberate problems go
into each file before it is written.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path

from exchange.core import spec
from exchange.core.regions import load_regions
from exchange_tools.synthetic.collection import CONDUCTS, Collector
from exchange_tools.synthetic.files import SubmissionFile
from exchange_tools.synthetic.identities import Borrower, Identities
from exchange_tools.synthetic.inject import ROW_CODES, Injector, silent_mistakes
from exchange_tools.synthetic.lenders import make_lender
from exchange_tools.synthetic.loans import ACTIVE, ENDED, Behaviour, Loan
from exchange_tools.synthetic.portfolio import HISTORY_MONTHS, REPEAT, Portfolio
from exchange_tools.synthetic.signals import IDENTITY_MISMATCH
from exchange_tools.synthetic.signals import issue as issue_signals
from exchange_tools.synthetic.signals import plan as plan_signals
from exchange_tools.synthetic.values import shift_month_end
from exchange_tools.synthetic.write import LenderWriter, SignalTruth, Truth

_SHARED_TARGET = 0.15      # share of borrowers with loans at two or more lenders
_SHARED_LENDERS = (2, 2, 2, 3, 3, 4)
_RING_SHARED = 0.03        # fraud ring: ~1 % of borrowers, mostly multi-lender ones (see portfolio.RING_SINGLE)


class Run:
    """Everything shared across lenders: arguments, borrower pool, truth, injection balance, file order."""

    def __init__(self, out: Path, lenders: int, months: int, loans: int, seed: int, error_rate: float,
                 end: dt.date):
        self.out, self.months, self.loans, self.seed, self.error_rate = out, months, loans, seed, error_rate
        self.dates = [shift_month_end(end, k - months + 1) for k in range(months)]
        self.history = [shift_month_end(self.dates[0], k - HISTORY_MONTHS) for k in range(HISTORY_MONTHS)]
        self.regions = load_regions()
        oldest = dt.date(end.year - 62, end.month, 1)
        youngest_at = self.history[0]
        self.ids = Identities(self.regions, oldest, dt.date(youngest_at.year - 20, youngest_at.month, 1))
        rng = random.Random(f"{seed}:pool")
        self.lenders = [make_lender(i, rng, self.ids) for i in range(lenders)]
        self.guarantors = [self.ids.uscc(rng, "1", self.ids.county(rng, self.ids.province(rng, None)))
                           for _ in range(20)]
        self.ring_month = max(1, months // 2 - 1)  # the fraud ring stops paying about half way
        self.shared = self._shared_pool(rng, lenders, loans)
        self.signals = plan_signals(seed, self.ids, lenders, months, loans)  # after the pool: it keeps its draws
        self.signal_truth: SignalTruth = {}
        self.code_use = dict.fromkeys(ROW_CODES, 0)
        self.truth: Truth = {}
        self.groups: dict[tuple[int, int], list[Path]] = {}  # (month, lender) -> files in order
        self.correction_at = (2 % lenders, months // 2)
        self.duplicate_at = (1 % lenders, min(1, months - 1))

    def _shared_pool(self, rng: random.Random, lenders: int, loans: int) -> list[list[Borrower]]:
        """Per lender, the borrowers it shares with others, sized so that _SHARED_TARGET of all are shared."""
        shared: list[list[Borrower]] = [[] for _ in range(lenders)]
        if lenders > 1:
            mean_lenders = sum(min(k, lenders) for k in _SHARED_LENDERS) / len(_SHARED_LENDERS)
            singles_per_shared = (1 - _SHARED_TARGET) / _SHARED_TARGET
            count = round(loans * lenders / (singles_per_shared * (1 + REPEAT) + mean_lenders))
            for _ in range(count):
                borrower = self.ids.borrower(rng, rng.random() < 0.05, None)
                if rng.random() < _RING_SHARED:
                    borrower.bust = self.ring_month + rng.randint(0, 1)
                for li in rng.sample(range(lenders), min(rng.choice(_SHARED_LENDERS), lenders)):
                    shared[li].append(borrower)
        return shared


class LenderRun:
    """Simulates one lender month by month and writes its files.

    Three random streams of its own: simulation (book and behaviour), injection and collection.
    """

    def __init__(self, run: Run, index: int):
        self.run, self.index = run, index
        lender = run.lenders[index]
        self.style = lender.style
        rng = random.Random(f"{run.seed}:sim:{lender.code}")
        self.behaviour = Behaviour(rng, lender)
        self.book = Portfolio(lender, rng, self.behaviour, loans=run.loans, months=run.months, history=run.history,
                              ids=run.ids, guarantors=run.guarantors, shared=run.shared[index],
                              ring_month=run.ring_month)
        self.injector = Injector(random.Random(f"{run.seed}:inject:{lender.code}"), lender.style, run.ids,
                                 run.regions, self.book, run.error_rate, run.code_use)
        self.collector = Collector(random.Random(f"{run.seed}:collect:{lender.code}"),
                                   CONDUCTS[index % len(CONDUCTS)])
        self.writer = LenderWriter(run.out, lender, run.truth, run.signal_truth)
        # the injected fraud patterns' loans: streams of their own, so the rest keeps its numbers
        self.lender, self.signal_rng = lender, random.Random(f"{run.seed}:signals:{lender.code}")
        self.signal_behaviour = Behaviour(random.Random(f"{run.seed}:signal-sim:{lender.code}"), lender)
        # the misused IDs' loans (identity_mismatch): streams of their own, added to each month's files
        # after everything else was drawn (numbers, injections), so that the rest keeps its numbers
        self.identity_rng = random.Random(f"{run.seed}:identity:{lender.code}")
        self.identity_behaviour = Behaviour(random.Random(f"{run.seed}:identity-sim:{lender.code}"), lender)

    def simulate(self, progress: Callable[[], None]) -> None:
        """Each month: issue loans, write the loans file, advance every loan, write the status files."""
        active: list[Loan] = []
        misused: list[Loan] = []  # the identity_mismatch loans on the books
        for mi, t in enumerate(self.run.dates):
            opening = self.book.existing_book() if mi == 0 else []
            new = self.book.issue(mi, t)
            planned = [p for p in self.run.signals if p.lender == self.index and p.month == mi]
            injected = issue_signals(self.signal_rng, self.lender, self.run.guarantors,
                                     [p for p in planned if p.signal != IDENTITY_MISMATCH], t)
            self.book.number(injected)  # numbered after the month's other loans, whose numbers stay
            new += injected
            loans_file = self._loans_file(mi, t, opening, new)
            active = opening + new if mi == 0 else active + new
            files = [loans_file, *self._status_files(mi, t, active, loans_file.rejected)]
            impostors = issue_signals(self.identity_rng, self.lender, self.run.guarantors,
                                      [p for p in planned if p.signal == IDENTITY_MISMATCH], t)
            self.book.number(impostors)  # after the month's draws of unknown contract numbers
            misused += impostors
            self._append_misused(files, impostors, misused, mi, t)
            group = self.run.groups.setdefault((mi, self.index), [])
            for f in files:
                group.append(self.writer.write(f))
                progress()
            self.book.close_month(loans_file.loans, loans_file.rejected)
            active = [loan for loan in active if loan.state != ENDED]  # settled etc. are reported once
            misused = [loan for loan in misused if loan.state != ENDED]

    def _append_misused(self, files: list[SubmissionFile], new: list[Loan], misused: list[Loan], mi: int,
                        t: dt.date) -> None:
        """The identity_mismatch loans after every other row: the month's new ones in the loans
        file, all of them in each loan_status file. Added once the month's files were drawn, never
        injected into: the injector counted and picked its rows without them."""
        prev = shift_month_end(t, -1)
        status_rows = [self.identity_behaviour.advance(loan, t, prev, mi, True) for loan in misused]
        for f in files:
            if f.kind is spec.LOANS:
                _append_clean(f, new, [loan.row(self.style.rate_places) for loan in new])
            elif f.kind is spec.LOAN_STATUS:
                _append_clean(f, misused, [row[:] for row in status_rows])

    def _loans_file(self, mi: int, t: dt.date, opening: list[Loan], new: list[Loan]) -> SubmissionFile:
        """The book held at the first report (month 0), the month's new loans, last month's rejected ones.

        Only the new loans take injections; the last month and the corrected period load whole.
        """
        loans = [*opening, *new, *self.book.pending]
        rows = [loan.row(self.style.rate_places) for loan in loans]
        f = SubmissionFile(spec.LOANS, self.writer.name("loans", t), t, rows, loans, len(opening),
                           len(opening) + len(new))
        errors_ok = mi != self.run.months - 1 and (self.index, mi) != self.run.correction_at
        f.taken.update(i for i, loan in enumerate(loans) if loan.signal)  # a pattern's rows stay clean
        self.injector.inject(f, mi, errors_ok)
        return f

    def _status_files(self, mi: int, t: dt.date, loans: list[Loan], rejected: list[Loan]) -> list[SubmissionFile]:
        """loan_status at `t` (and its `_2` correction in the corrected period), then collection_actions."""
        prev = shift_month_end(t, -1)
        overdue_before = [loan.since is not None and loan.state == ACTIVE for loan in loans]
        rows = [(self.signal_behaviour if loan.signal else self.behaviour).advance(loan, t, prev, mi, True)
                for loan in loans]
        status = SubmissionFile(spec.LOAN_STATUS, self.writer.name("loan_status", t), t, rows, loans, 0, len(rows))
        status.taken.update(i for i, loan in enumerate(loans) if loan.signal)
        refused = {id(loan) for loan in rejected}
        for i, loan in enumerate(loans):
            if id(loan) in refused:
                status.note(i, "loan_id", "R_UNKNOWN_LOAN", "consequence")
                status.errors += 1
        files = [status]
        if (self.index, mi) == self.run.correction_at:
            files.append(SubmissionFile(spec.LOAN_STATUS, self.writer.name("loan_status", t, 2), t,
                                        [row[:] for row in rows], loans, 0, 0))
            silent_mistakes(status, prev)
        self.injector.inject(status, mi, True)
        # the actions follow the status rows as reported, injected problems included
        # the collection stream sees the portfolio without the injected patterns, as before them
        kept = [i for i, loan in enumerate(loans) if not loan.signal]
        action_rows, action_loans = self.collector.collect([loans[i] for i in kept], [rows[i] for i in kept],
                                                           [overdue_before[i] for i in kept], refused, t, prev)
        if action_rows:
            actions = SubmissionFile(spec.COLLECTION_ACTIONS, self.writer.name("collection_actions", t), t,
                                     action_rows, action_loans, 0, len(action_rows))
            self.injector.inject(actions, mi, True)
            files.append(actions)
        return files


def _append_clean(f: SubmissionFile, loans: list[Loan], rows: list[list[str]]) -> None:
    """Rows added to a file after its injections, untouched (taken)."""
    start = len(f.rows)
    f.rows += rows
    f.loans = [*f.loans, *loans]
    f.taken.update(range(start, len(f.rows)))
