"""Control totals (控制总数): an optional sidecar that states what a file holds, reconciled at the door.

A lender may send, beside `XD01_loan_status_20250131.csv`, a small CSV named
`XD01_loan_status_20250131.csv.ctl` with one header line and one line of figures: the number of
data rows and, for a loan_status file, the sums of outstanding_principal and overdue_principal
(Metro 2's trailer record is the model). The exchange counts the same on what it loaded; a
difference means the file was cut, doubled or altered on the way, and the whole file is rejected
(F_CONTROL_TOTALS) with both sets of figures, before anything counts. The sums are compared only
when no row was rejected: a rejected row's amounts are not loaded, so the figures cannot agree.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import psycopg

from exchange.core.errors import FileRejected

SUFFIX = ".ctl"
MAX_BYTES = 4096
"""A sidecar is two short lines; anything larger is refused unread."""
FIELDS = {"rows": "记录数", "outstanding_principal": "剩余本金合计", "overdue_principal": "逾期本金合计"}
"""The sidecar's columns (English or Chinese header); the sums only for a loan_status file."""
_SUMS = ("outstanding_principal", "overdue_principal")


@dataclass(frozen=True)
class ControlTotals:
    rows: int
    outstanding_principal: Decimal | None = None
    overdue_principal: Decimal | None = None

    def as_json(self) -> dict[str, str | int | None]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}


def sidecar_of(path: Path) -> Path:
    return path.with_name(path.name + SUFFIX)


def is_sidecar(path: Path) -> bool:
    return path.name.endswith(SUFFIX)


def read_sidecar(path: Path, kind: str) -> ControlTotals:
    """Parse a sidecar (bounded); F_CONTROL_FORMAT names the line and field that is wrong."""
    if path.stat().st_size > MAX_BYTES:
        raise FileRejected("F_CONTROL_FORMAT", f"{path.name} is larger than {MAX_BYTES} bytes", line=0)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRejected("F_CONTROL_FORMAT", f"{path.name} is not UTF-8", line=0) from None
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if len(rows) != 2:
        raise FileRejected("F_CONTROL_FORMAT", f"{path.name} must hold a header line and one line of figures", line=0)
    by_name = {zh: en for en, zh in FIELDS.items()} | {en: en for en in FIELDS}
    header = [by_name.get(c.strip().lstrip("\ufeff")) for c in rows[0]]
    for cell, name in zip(rows[0], header, strict=True):
        if name is None:
            raise FileRejected("F_CONTROL_FORMAT", f"{path.name}: unknown column {cell.strip()!r}", line=1)
    values = dict(zip(header, (c.strip() for c in rows[1]), strict=False))
    if "rows" not in values:
        raise FileRejected("F_CONTROL_FORMAT", f"{path.name}: the rows column is required", line=1, field="rows")
    if kind != "loan_status" and any(s in values for s in _SUMS):
        raise FileRejected("F_CONTROL_FORMAT", f"{path.name}: sums are stated only for loan_status files", line=1)
    try:
        count = int(values["rows"])
    except ValueError:
        raise FileRejected("F_CONTROL_FORMAT", f"{path.name}: rows is not a whole number", line=2, field="rows") from None
    sums: dict[str, Decimal] = {}
    for name in _SUMS:
        if name in values:
            try:
                sums[name] = Decimal(values[name])
            except InvalidOperation:
                raise FileRejected("F_CONTROL_FORMAT", f"{path.name}: {name} is not a number", line=2,
                                   field=name) from None
    return ControlTotals(count, **sums)


class ControlTotalsDiffer(FileRejected):
    """F_CONTROL_TOTALS, carrying the figures found so they are kept after the load rolls back."""

    def __init__(self, declared: ControlTotals, found: ControlTotals):
        super().__init__("F_CONTROL_TOTALS", f"declared {declared.as_json()}, found {found.as_json()}", line=0)
        self.found = found


def reconcile(conn: psycopg.Connection, raw_table: str, submission_id: int, rows_total: int, rows_rejected: int,
              declared: ControlTotals) -> ControlTotals:
    """What the exchange found in the file, beside what the sidecar declared; ControlTotalsDiffer
    when they differ. Runs in the load's transaction, so the loaded rows are counted before commit."""
    sums = {}
    if declared.outstanding_principal is not None or declared.overdue_principal is not None:
        sums = dict(zip(_SUMS, conn.execute(
            f"select coalesce(sum(outstanding_principal), 0), coalesce(sum(overdue_principal), 0)"
            f" from {raw_table} where submission_id = %s", (submission_id,)).fetchone(), strict=True))
    found = ControlTotals(rows_total, **{k: v for k, v in sums.items() if getattr(declared, k) is not None})
    if found.rows != declared.rows or (rows_rejected == 0 and found != declared):
        raise ControlTotalsDiffer(declared, found)
    return found
