"""Writing the files: each lender's CSV or xlsx in its own style, the truth file, lenders.csv, README.

Rows stay canonical until here; a lender's style turns them into what its systems write (Chinese
labels, blanks for defaults), and each truth note gets the physical line it ends up on.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import xlsxwriter

from exchange.core import spec
from exchange_tools.synthetic.files import SubmissionFile, negative
from exchange_tools.synthetic.identities import NEVER
from exchange_tools.synthetic.lenders import Lender, LenderStyle

Truth = dict[str, list[tuple[int, str, str, str]]]
"""File name -> (line, field, code, cause) of each listed problem, in line order."""

SignalTruth = dict[str, list[tuple[int, str, int]]]
"""File name -> (line, signal, group) of each loans row of a fraud pattern (signals.py)."""

_DEFAULTS = {"currency": "CNY", "legal_status": "none", "fraud_flag": "false"}


class LenderWriter:
    """Writes one lender's files under <out>/<LENDER>/ and records their truth notes by line."""

    def __init__(self, out: Path, lender: Lender, truth: Truth, signal_truth: SignalTruth):
        self.dir, self.code, self.style, self.truth = out / lender.code, lender.code, lender.style, truth
        self.signal_truth = signal_truth
        self.conversions = {kind.name: _conversions(kind, lender.style) for kind in spec.KINDS.values()}
        self.rows = 0  # data rows written

    def name(self, kind: str, t: dt.date, seq: int = 1) -> str:
        """The file name the spec asks for: <LENDER>_<kind>_<YYYYMMDD>[_<seq>].<ext>."""
        suffix = f"_{seq}" if seq > 1 else ""
        return f"{self.code}_{kind}_{t:%Y%m%d}{suffix}.{self.style.ext}"

    def _emit(self, f: SubmissionFile) -> Iterator[list[str]]:
        """Rows as written, in order; records each truth note with its line (header = line 1)."""
        truth = self.truth.setdefault(f.name, [])
        signals = self.signal_truth.setdefault(f.name, [])
        conv = self.conversions[f.kind.name]
        status = f.kind is spec.LOAN_STATUS
        line = 1
        for i, row in enumerate(f.rows):
            line += 1
            note = f.notes.get(i)
            if note is not None:
                truth.append((line, *note))
            elif status and negative(row) and not row[11]:
                truth.append((line, "notice_date", "W_NOTICE_MISSING", "natural"))
            loan = f.loans[i] if f.kind is spec.LOANS else None
            if loan is not None and (loan.signal or loan.borrower.bust < NEVER):
                signals.append((line, *(loan.signal or ("fraud_ring", 0))))
            yield self._convert(row, conv)
            for extra, extra_note in f.extras.get(i, ()):
                line += 1
                truth.append((line, *extra_note))
                yield self._convert(extra, conv)
        self.rows += line - 1

    @staticmethod
    def _convert(row: list[str], conv: list[tuple[int, dict[str, str]]]) -> list[str]:
        out = row[:]
        for i, mapping in conv:
            if i < len(out):
                out[i] = mapping.get(out[i], out[i])
        return out

    def write(self, f: SubmissionFile) -> Path:
        path = self.dir / f.name
        path.parent.mkdir(parents=True, exist_ok=True)
        header = [fld.zh if self.style.chinese else fld.name for fld in f.kind.fields]
        if self.style.ext == "xlsx":
            _write_xlsx(path, f.kind, header, self._emit(f), f.as_of)
        else:
            with path.open("w", encoding=self.style.encoding, newline="") as fh:
                writer = csv.writer(fh, lineterminator=self.style.line_end)
                writer.writerow(header)
                writer.writerows(self._emit(f))
        return path


def _conversions(kind: spec.Kind, style: LenderStyle) -> list[tuple[int, dict[str, str]]]:
    """Per column, canonical value -> what this lender writes (labels, blanks for defaults)."""
    out = []
    for i, fld in enumerate(kind.fields):
        mapping: dict[str, str] = {}
        if fld.name == "lender_risk_class":
            if style.risk_zh or style.chinese:
                mapping = {c.value: c.zh for c in fld.choices}
        elif fld.name == "fraud_flag":
            if style.chinese:
                mapping = {"true": "是", "false": "否"}
        elif style.chinese and fld.choices and fld.name != "currency":
            mapping = {c.value: c.zh for c in fld.choices}
        if style.blank_defaults and fld.name in _DEFAULTS:
            mapping[_DEFAULTS[fld.name]] = ""
        if mapping:
            out.append((i, mapping))
    return out


def _write_xlsx(path: Path, kind: spec.Kind, header: list[str], rows: Iterator[list[str]], as_of: dt.date) -> None:
    """First sheet, header in row 1. Dates as date cells, whole numbers as numbers, amounts as text.

    Amounts stay text so "1234.50" arrives exactly; a value that is not a valid date or whole number
    (an injected problem) is written as the text the lender typed, as Excel would keep it.
    """
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    workbook.set_properties({"created": dt.datetime(as_of.year, as_of.month, as_of.day) + dt.timedelta(days=3, hours=9)})
    sheet = workbook.add_worksheet(kind.zh)
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    types = [fld.type for fld in kind.fields]
    for col, text in enumerate(header):
        sheet.write_string(0, col, text)
    for r, row in enumerate(rows, start=1):
        for col, value in enumerate(row):
            if not value:
                continue
            if types[col] == "date" and len(value) == 10:
                try:
                    sheet.write_datetime(r, col, dt.date.fromisoformat(value), date_format)
                    continue
                except ValueError:
                    pass
            if types[col] == "integer" and value.isdigit():
                sheet.write_number(r, col, int(value))
            else:
                sheet.write_string(r, col, value)
    workbook.close()


_README = """Synthetic submissions to the credit-information exchange (模拟报送数据)
=========================================================================

Generated by `exchange generate` ({lenders} lenders, {months} months up to {end}, {loans} loans per
lender, seed {seed}, error rate {rate}). Everything here is invented: names, identity numbers and
phone numbers are made up (identity numbers pass their check characters but belong to nobody).

<LENDER>/<LENDER>_loans_<YYYYMMDD>.csv|xlsx        loans issued that month (the first month also holds
                                                   the book the lender already had); loans rejected
                                                   last month are re-sent, corrected, at the end
<LENDER>/<LENDER>_loan_status_<YYYYMMDD>.csv|xlsx  one row per loan at that month end
{correction}  a corrected re-send (seq 2) of that period's loan_status
{duplicate}  a byte-identical re-send of an earlier file (expect a duplicate)
lenders.csv   the participating lenders (code, name, category)
signals.csv   the loans rows of the fraud patterns put in on purpose (signal: phone_ring,
              loan_stacking, bust_out or identity_mismatch; group: which ring, borrower
              or misused ID; file; line), in
              borrowers of their own, and of the fraud ring that stops paying everywhere
              at once (fraud_ring, group 0)
truth.csv     every problem put in on purpose (injected), the warnings a real portfolio
              produces by itself (natural: negative data without notice_date), and the
              rows that fail because their loan was rejected (consequence). line is the
              physical line in the file (CSV) or the sheet row (xlsx); the header is line 1.

Submit the files in this order:
{order}
"""


def write_truth(path: Path, files: list[Path], truth: Truth) -> tuple[dict[str, int], dict[str, int]]:
    """truth.csv for `files` in submission order; (rows per cause, rows per reason code)."""
    counts = {"injected": 0, "consequence": 0, "natural": 0}
    codes: dict[str, int] = {}
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["file", "line", "field", "code", "cause"])
        for file in files:
            for line, field, code, cause in truth.get(file.name, ()):
                writer.writerow([file.name, line, field, code, cause])
                counts[cause] += 1
                codes[code] = codes.get(code, 0) + 1
    return counts, dict(sorted(codes.items()))


def write_signal_truth(path: Path, files: list[Path], truth: SignalTruth) -> dict[str, int]:
    """signals.csv for `files` in submission order; loans rows per signal."""
    counts: dict[str, int] = {}
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["signal", "group", "file", "line"])
        for file in files:
            for line, signal, group in truth.get(file.name, ()):
                writer.writerow([signal, group, file.name, line])
                counts[signal] = counts.get(signal, 0) + 1
    return dict(sorted(counts.items()))


def write_lenders(path: Path, lenders: list[Lender]) -> None:
    """lenders.csv: what an operator registers (`exchange lenders add`)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["code", "name", "category"])
        writer.writerows([lender.code, lender.name_zh, lender.category] for lender in lenders)


def write_readme(out: Path, files: list[Path], correction: Path, duplicate: Path, **arguments: object) -> None:
    """README.txt: what the directory holds, the arguments it was generated with, the submission order."""
    (out / "README.txt").write_text(_README.format(
        **arguments, correction=correction.relative_to(out), duplicate=duplicate.relative_to(out),
        order="\n".join(f"  {p.relative_to(out)}" for p in files)), encoding="utf-8")
