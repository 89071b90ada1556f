"""One submission file being assembled: canonical rows, what was done to them, and by whom.

Rows are kept in the spec's canonical form (English values, dots, ISO dates) until they are
written; the lender's style is applied by `write`. What the injections do to a row is recorded
here as a truth note, so the truth file can give its physical line once the file is written.
"""

from __future__ import annotations

import datetime as dt

from exchange.core import spec
from exchange_tools.synthetic.loans import NEG_STATUSES, Loan

Note = tuple[str, str, str]  # (field, code, cause)

_COLUMNS = {kind.name: {f.name: i for i, f in enumerate(kind.fields)} for kind in spec.KINDS.values()}


class SubmissionFile:
    """One submission file: canonical rows, truth notes, extra rows, and what injections have used."""

    def __init__(self, kind: spec.Kind, name: str, as_of: dt.date, rows: list[list[str]], loans: list[Loan],
                 lo: int, hi: int):
        self.kind, self.name, self.as_of = kind, name, as_of
        self.rows, self.loans = rows, loans
        self.lo, self.hi = lo, hi                     # rows [lo, hi) may receive injections
        self.columns = _COLUMNS[kind.name]
        self.notes: dict[int, Note] = {}
        self.extras: dict[int, list[tuple[list[str], Note]]] = {}  # rows written after row i
        self.taken: set[int] = set()
        self.pools: dict[str, list[int]] = {}
        self.rejected: list[Loan] = []
        self.errors = 0

    def note(self, i: int, field: str, code: str, cause: str = "injected") -> None:
        """Row i carries this one problem. A loans row with an error is not loaded by the exchange:
        its loan's status rows this month are unknown, and the lender re-sends it next month."""
        self.notes[i] = (field, code, cause)
        self.taken.add(i)
        if self.kind is spec.LOANS and spec.VALIDATION_CODES[code].severity == "error":
            self.rejected.append(self.loans[i])

    def value(self, i: int, field: str) -> str:
        return self.rows[i][self.columns[field]]

    def put(self, i: int, field: str, value: str, code: str) -> bool:
        """Write `value` into row i's `field` as its one injected problem (always done: True)."""
        self.rows[i][self.columns[field]] = value
        self.note(i, field, code)
        return True

    def extra(self, after: int, row: list[str], field: str, code: str) -> None:
        self.extras.setdefault(after, []).append((row, (field, code, "injected")))


def negative(row: list[str]) -> bool:
    """spec.NEGATIVE on a canonical status row: what must be told to the borrower first."""
    return (row[4] != "0.00" or row[5] != "0.00" or row[2] in NEG_STATUSES
            or row[12] not in ("none", "") or row[13] == "true")


def plain_status(row: list[str]) -> bool:
    """A performing row: normal and nothing negative, so changing one value cannot raise a second code."""
    return row[2] == "normal" and not negative(row)


def noticed_overdue(row: list[str]) -> bool:
    return row[2] == "overdue" and row[11] != "" and row[6] != ""
