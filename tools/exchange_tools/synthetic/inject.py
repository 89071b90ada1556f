"""The deliberate problems (注入错误): one per chosen row, each listed in the truth file.

An injection keeps the rest of its row valid, so the row carries exactly this one problem and a
validation run can be scored exactly. Each reason code has a predicate (which rows can carry it
without raising a second code) and an apply (what the lender's clerk or system got wrong). Every
file gets round(error_rate x rows) problems, at least one, the codes used least so far first; a
file's error rows stay below the share at which the exchange rejects a whole file.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable

from exchange.core import spec
from exchange.core.identifiers import USCC_ALPHABET
from exchange_tools.synthetic.files import SubmissionFile, negative, noticed_overdue, plain_status
from exchange_tools.synthetic.identities import Identities, name_variant
from exchange_tools.synthetic.lenders import LenderStyle
from exchange_tools.synthetic.portfolio import Portfolio
from exchange_tools.synthetic.values import cents, iso, money, rate_text

ROW_CODES = tuple(r.code for r in spec.VALIDATION_CODES.values()
                  if r.severity in ("error", "warning") and r.code not in ("W_COLUMN_IGNORED", "W_PARTIAL_MONTH"))
"""Row-level reason codes the generator covers (W_COLUMN_IGNORED is about a column and W_PARTIAL_MONTH
about a whole status file, not a row)."""

_MAX_BAD_SHARE = 0.04      # error rows per file stay below this (the exchange rejects files above 5 %)
_PROBES = 48

_FORMULAS = ("=cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
             "=HYPERLINK(\"http://example.invalid/\")")
_BAD_MONTH_DAYS = ((2, 30), (2, 31), (4, 31), (6, 31), (9, 31), (11, 31), (13, 1), (0, 15))
_BAD_ENUMS = {  # field -> (English-style value, Chinese-style value), neither accepted by the spec
    "currency": ("RMB", "人民币"), "repayment_method": ("monthly", "按月还款"), "guarantee_type": ("guaranteed", "担保"),
    "account_status": ("active", "正常还款"), "legal_status": ("pending", "审理中"),
}
_BEIJING = dt.timezone(dt.timedelta(hours=8))


class Injector:
    """Puts the problems into one lender's files, drawing from the lender's injection stream.

    `code_use` is shared by all lenders of a run, so every code appears about equally often.
    """

    def __init__(self, rng: random.Random, style: LenderStyle, ids: Identities, regions: dict[str, str],
                 book: Portfolio, error_rate: float, code_use: dict[str, int]):
        self.rng, self.style, self.ids, self.regions, self.book = rng, style, ids, regions, book
        self.error_rate, self.code_use = error_rate, code_use

    def inject(self, f: SubmissionFile, mi: int, errors_ok: bool) -> None:
        """Put round(R * rows) problems into the file (at least one), the rarest codes so far first.

        Without `errors_ok` only warnings go in (the month's files that must load whole).
        """
        rate = self.error_rate
        if rate <= 0 or f.hi <= f.lo:
            return
        wanted = min(max(1, round(rate * len(f.rows))), (f.hi - f.lo) // 2 or 1)
        budget = math.floor(_MAX_BAD_SHARE * len(f.rows)) if errors_ok else 0
        exhausted: set[str] = set()
        table = _INJECTIONS[f.kind.name]
        for _ in range(wanted):
            choices = [(self.code_use[code], self.rng.random(), code) for code in table
                       if code not in exhausted
                       and (spec.VALIDATION_CODES[code].severity == "warning" or f.errors < budget)
                       and (code != "R_COLUMNS" or self.style.ext == "csv")]
            for _use, _tie, code in sorted(choices):
                pred, apply = table[code]
                i = self._pick(f, code, lambda i, pred=pred: pred(self, f, i, mi))
                if i is not None and apply(self, f, i):
                    self.code_use[code] += 1
                    if spec.VALIDATION_CODES[code].severity == "error":
                        f.errors += 1
                    break
                exhausted.add(code)

    def _pick(self, f: SubmissionFile, code: str, ok: Callable[[int], bool]) -> int | None:
        """A random untouched row that suits the injection: a few probes, then a scan of the file."""
        rng = self.rng
        for _ in range(_PROBES):
            i = rng.randrange(f.lo, f.hi)
            if i not in f.taken and ok(i):
                return i
        pool = f.pools.get(code)
        if pool is None:
            pool = f.pools[code] = [i for i in range(f.lo, f.hi) if i not in f.taken and ok(i)]
        while pool:
            i = pool.pop(rng.randrange(len(pool)))
            if i not in f.taken:
                return i
        return None


def silent_mistakes(f: SubmissionFile, prev: dt.date) -> None:
    """A few balances reported before this month's payment was booked: the `_2` correction fixes them.

    They are not in the truth file: each is a valid row with a wrong balance, which no check can see.
    """
    start = iso(prev)
    wanted = max(3, len(f.rows) // 200)
    for i, row in enumerate(f.rows):
        if wanted == 0:
            break
        if i not in f.taken and plain_status(row) and row[8] > start and row[9] and row[3] != "0.00":
            row[3] = money(cents(row[3]) + cents(row[9]) * 4 // 5)
            f.taken.add(i)
            wanted -= 1


def _bad_date(rng: random.Random, year: int) -> str:
    month, day = rng.choice(_BAD_MONTH_DAYS)
    return f"{year}-{month:02d}-{day:02d}"


def _thousands(amount: int) -> str:
    """An amount in cents as a spreadsheet shows it: 12,345.60."""
    return f"{amount // 100:,}.{amount % 100:02d}"


def _beijing(timestamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone(_BEIJING)


# ---- the injection table ------------------------------------------------------------------------
# Each entry: code -> (predicate(injector, file, row, month), apply(injector, file, row) -> bool). An
# apply keeps the rest of the row valid so the row carries exactly this one problem, and records the
# truth note (SubmissionFile.put and .note); it returns False when the row cannot take it after all.

Pred = Callable[[Injector, SubmissionFile, int, int], bool]
Apply = Callable[[Injector, SubmissionFile, int], bool]


def _any(inj: Injector, f: SubmissionFile, i: int, mi: int) -> bool:
    return True


def _truncate(inj: Injector, f: SubmissionFile, i: int) -> bool:
    row = f.rows[i]
    del row[inj.rng.randint(len(row) - 5, len(row) - 1):]
    f.note(i, "", "R_COLUMNS")
    return True


def _duplicate(inj: Injector, f: SubmissionFile, i: int) -> bool:
    """An exact second copy of a clean row, later in the file: the copy is the flagged line."""
    after = inj.rng.randrange(i, f.hi)
    f.extra(after, f.rows[i][:], "loan_id", "R_DUPLICATE_KEY")
    f.taken.add(i)
    return True


# loans rows: an error rejects the loan (SubmissionFile.note), which the lender re-sends next month


def _loans_required(inj: Injector, f: SubmissionFile, i: int) -> bool:
    return f.put(i, inj.rng.choice(("consent_ref", "region_code", "repayment_method")), "", "R_REQUIRED")


def _loans_enum(inj: Injector, f: SubmissionFile, i: int) -> bool:
    field = inj.rng.choice(("currency", "repayment_method", "guarantee_type"))
    return f.put(i, field, _BAD_ENUMS[field][inj.style.chinese], "R_ENUM")


def _loans_date(inj: Injector, f: SubmissionFile, i: int) -> bool:
    field = inj.rng.choice(("issue_date", "maturity_date"))
    return f.put(i, field, _bad_date(inj.rng, f.loans[i].issue.year), "R_DATE")


def _loans_number(inj: Injector, f: SubmissionFile, i: int) -> bool:
    loan = f.loans[i]
    if inj.rng.random() < 0.6:
        return f.put(i, "principal", _thousands(loan.principal), "R_NUMBER")
    return f.put(i, "annual_rate", rate_text(loan.rate, 6) + "1", "R_NUMBER")


def _loans_range(inj: Injector, f: SubmissionFile, i: int) -> bool:
    field, value = inj.rng.choice((("principal", "0.00"), ("installments", "0")))
    return f.put(i, field, value, "R_RANGE")


def _loans_integer(inj: Injector, f: SubmissionFile, i: int) -> bool:
    return f.put(i, "installments", f"{f.loans[i].n}.5", "R_INTEGER")


def _id_format(inj: Injector, f: SubmissionFile, i: int) -> bool:
    rng = inj.rng
    id_type, number = f.value(i, "id_type"), f.value(i, "id_number")
    if id_type == "RESIDENT_ID":
        bad = rng.choice((number[:-2] + number[-1], number[:10] + "13" + number[12:], number[:3] + "O" + number[4:]))
    elif id_type == "USCC":
        bad = rng.choice((number[:-1], number[:10] + rng.choice("IOSVZ") + number[11:]))
    else:
        bad = number[:4] + "-" + number[4:]
    return f.put(i, "id_number", bad, "R_ID_FORMAT")


def _checked_id(inj: Injector, f: SubmissionFile, i: int, mi: int) -> bool:
    return f.value(i, "id_type") in ("RESIDENT_ID", "USCC")


def _id_checksum(inj: Injector, f: SubmissionFile, i: int) -> bool:
    id_type, number = f.value(i, "id_type"), f.value(i, "id_number")
    alphabet = "0123456789X" if id_type == "RESIDENT_ID" else USCC_ALPHABET
    bad = number[:-1] + inj.rng.choice([c for c in alphabet if c != number[-1]])
    return f.put(i, "id_number", bad, "R_ID_CHECKSUM")


def _individual(inj: Injector, f: SubmissionFile, i: int, mi: int) -> bool:
    return f.value(i, "borrower_type") == "individual"


def _id_type(inj: Injector, f: SubmissionFile, i: int) -> bool:
    """A sole trader (个体工商户) reported as an individual with the business's valid USCC."""
    f.rows[i][f.columns["id_number"]] = inj.ids.uscc(inj.rng, "2", f.value(i, "region_code"))
    return f.put(i, "id_type", "USCC", "R_ID_TYPE")


def _has_phone(inj: Injector, f: SubmissionFile, i: int, mi: int) -> bool:
    return bool(f.value(i, "phone"))


def _phone(inj: Injector, f: SubmissionFile, i: int) -> bool:
    rng, phone = inj.rng, f.value(i, "phone")
    bad = rng.choice((phone[:-1], phone + str(rng.randrange(10)),
                      f"0{rng.choice(('21', '571', '755', '28'))}-{rng.randrange(10**7, 10**8)}"))
    return f.put(i, "phone", bad, "R_PHONE")


def _region(inj: Injector, f: SubmissionFile, i: int) -> bool:
    code = f.value(i, "region_code")
    bad = code[:4] + "99" if inj.rng.random() < 0.6 and code[:4] + "99" not in inj.regions else code[:4]
    return f.put(i, "region_code", bad, "R_REGION")


def _loans_date_order(inj: Injector, f: SubmissionFile, i: int) -> bool:
    """A maturity date before the issue date; the validator reports the pair on issue_date."""
    f.rows[i][f.columns["maturity_date"]] = iso(f.loans[i].issue - dt.timedelta(days=inj.rng.randint(1, 400)))
    f.note(i, "issue_date", "R_DATE_ORDER")
    return True


def _future_ok(inj: Injector, f: SubmissionFile, i: int, mi: int) -> bool:
    return f.loans[i].maturity > f.as_of + dt.timedelta(days=5)


def _future(inj: Injector, f: SubmissionFile, i: int) -> bool:
    """The value date of the transfer (next business days) typed instead of the contract date."""
    return f.put(i, "issue_date", iso(f.as_of + dt.timedelta(days=inj.rng.randint(1, 5))), "R_FUTURE_DATE")


def _too_long(inj: Injector, f: SubmissionFile, i: int) -> bool:
    lid, consent = f.value(i, "loan_id"), f.value(i, "consent_ref")
    return f.put(i, "loan_id", f"{lid}-{consent}-补充协议-{consent}-{lid}", "R_TOO_LONG")


def _formula(inj: Injector, f: SubmissionFile, i: int) -> bool:
    return f.put(i, "consent_ref", inj.rng.choice(_FORMULAS), "R_FORMULA")


def _rate_high(inj: Injector, f: SubmissionFile, i: int) -> bool:
    loan = f.loans[i]
    loan.rate = inj.rng.randint(2401, 3600) * 100
    f.rows[i] = loan.row(inj.style.rate_places)
    f.note(i, "annual_rate", "W_RATE_HIGH")
    return True


def _cap_ok(inj: Injector, f: SubmissionFile, i: int, mi: int) -> bool:
    loan = f.loans[i]
    return loan.product == "online_microloan" and loan.borrower.btype == "individual"


def _principal_cap(inj: Injector, f: SubmissionFile, i: int) -> bool:
    loan = f.loans[i]
    loan.set_principal(inj.rng.randint(201, 300) * 1000 * 100)
    f.rows[i] = loan.row(inj.style.rate_places)
    f.note(i, "principal", "W_PRINCIPAL_CAP")
    return True


def _guaranteed(inj: Injector, f: SubmissionFile, i: int, mi: int) -> bool:
    return f.loans[i].gtype == "guarantee" and bool(f.loans[i].guarantor)


def _guarantor_missing(inj: Injector, f: SubmissionFile, i: int) -> bool:
    return f.put(i, "guarantor_id", "", "W_GUARANTOR_MISSING")


def _conflict_ok(inj: Injector, f: SubmissionFile, i: int, mi: int) -> bool:
    return mi > 0 and bool(inj.book.loaded)


def _name_conflict(inj: Injector, f: SubmissionFile, i: int) -> bool:
    """A new loan to a borrower this lender reported before, under a differently written name.

    The borrower gets no further loans here, and must not appear elsewhere in this file or be
    awaiting a re-send, so exactly this one row disagrees with the name on file.
    """
    book, loan = inj.book, f.loans[i]
    in_file = {ln.borrower.uid for ln in f.loans}
    pending = {ln.borrower.uid for ln in book.pending}
    for _ in range(20):
        b = inj.rng.choice(book.loaded)
        if (b.btype == loan.borrower.btype and b.uid not in book.blocked and b.uid not in in_file
                and b.uid not in pending):
            break
    else:
        return False
    loan.borrower = b
    book.blocked.add(b.uid)
    f.rows[i] = loan.row(inj.style.rate_places)
    return f.put(i, "borrower_name", name_variant(inj.rng, b), "W_NAME_CONFLICT")


# status rows: every candidate is otherwise clean (no natural warning, not a consequence row)


def _clean(row: list[str]) -> bool:
    return not negative(row) or bool(row[11])


def _st_any(inj: Injector, f: SubmissionFile, i: int, mi: int) -> bool:
    return _clean(f.rows[i])


def _st_plain(inj: Injector, f: SubmissionFile, i: int, mi: int) -> bool:
    return plain_status(f.rows[i])


def _st_paid(inj: Injector, f: SubmissionFile, i: int, mi: int) -> bool:
    row = f.rows[i]
    return _clean(row) and bool(row[8]) and bool(row[9])


def _st_dpd(inj: Injector, f: SubmissionFile, i: int, mi: int) -> bool:
    row = f.rows[i]
    return _clean(row) and bool(row[7])


def _st_overdue(inj: Injector, f: SubmissionFile, i: int, mi: int) -> bool:
    row = f.rows[i]
    return noticed_overdue(row) and row[3] != "0.00"


def _st_overdue_dpd(inj: Injector, f: SubmissionFile, i: int, mi: int) -> bool:
    row = f.rows[i]
    return noticed_overdue(row) and bool(row[7])


def _st_settled_or_plain(inj: Injector, f: SubmissionFile, i: int, mi: int) -> bool:
    row = f.rows[i]
    return (row[2] == "settled" and _clean(row)) or plain_status(row)


def _st_enum_ok(inj: Injector, f: SubmissionFile, i: int, mi: int) -> bool:
    row = f.rows[i]
    return _clean(row) and row[12] == "none"


def _st_dated(inj: Injector, f: SubmissionFile, i: int, mi: int) -> bool:
    row = f.rows[i]
    return _clean(row) and bool(row[8] or row[11])


def _st_required(inj: Injector, f: SubmissionFile, i: int) -> bool:
    return f.put(i, "account_status", "", "R_REQUIRED")


def _st_enum(inj: Injector, f: SubmissionFile, i: int) -> bool:
    field = "account_status" if plain_status(f.rows[i]) and inj.rng.random() < 0.5 else "legal_status"
    return f.put(i, field, _BAD_ENUMS[field][inj.style.chinese], "R_ENUM")


def _st_date(inj: Injector, f: SubmissionFile, i: int) -> bool:
    return f.put(i, "last_payment_date", _bad_date(inj.rng, f.as_of.year), "R_DATE")


def _st_number(inj: Injector, f: SubmissionFile, i: int) -> bool:
    text = f.value(i, "last_payment_amount")
    amount = cents(text)
    return f.put(i, "last_payment_amount", _thousands(amount) if amount >= 100_000 else text + "5", "R_NUMBER")


def _st_integer(inj: Injector, f: SubmissionFile, i: int) -> bool:
    return f.put(i, "dpd_reported", f.value(i, "dpd_reported") + ".5", "R_INTEGER")


def _st_date_order(inj: Injector, f: SubmissionFile, i: int) -> bool:
    late = iso(f.as_of + dt.timedelta(days=inj.rng.randint(1, 10)))
    field = inj.rng.choice([name for name in ("last_payment_date", "notice_date") if f.value(i, name)])
    return f.put(i, field, late, "R_DATE_ORDER")


def _st_as_of(inj: Injector, f: SubmissionFile, i: int) -> bool:
    """The extraction date (the day after the month end) written instead of the reporting date."""
    return f.put(i, "as_of_date", iso(f.as_of + dt.timedelta(days=1)), "R_AS_OF_MISMATCH")


def _st_overdue_gt(inj: Injector, f: SubmissionFile, i: int) -> bool:
    row = f.rows[i]
    return f.put(i, "overdue_principal", money(cents(row[3]) + max(cents(row[5]), 100)), "R_OVERDUE_GT_OUTSTANDING")


def _st_since_missing(inj: Injector, f: SubmissionFile, i: int) -> bool:
    f.rows[i][f.columns["dpd_reported"]] = ""  # the days past due go with the date they count from
    return f.put(i, "overdue_since", "", "R_OVERDUE_SINCE_MISSING")


def _st_status_amounts(inj: Injector, f: SubmissionFile, i: int) -> bool:
    row = f.rows[i]
    if row[2] == "settled":
        return f.put(i, "outstanding_principal", money(inj.rng.randint(1, 50_000)), "R_STATUS_AMOUNTS")
    # overdue, with nothing overdue: told to the borrower, so only the amounts contradict it
    row[2], row[7] = "overdue", ""
    row[11] = iso(f.as_of - dt.timedelta(days=inj.rng.randint(0, 5)))
    f.note(i, "overdue_principal", "R_STATUS_AMOUNTS")
    return True


def _st_unknown(inj: Injector, f: SubmissionFile, i: int) -> bool:
    """A status row for a loan the lender never sent in a loans file (forgotten in the extract)."""
    amount = f.rows[i][3] if f.rows[i][3] != "0.00" else "10000.00"
    row = [iso(f.as_of), inj.book.unknown_id(f.as_of), "normal", amount, "0.00", "0.00", "", "0", "", "", "1", "",
           "none", "false"]
    f.extra(i, row, "loan_id", "R_UNKNOWN_LOAN")
    return True


def _st_dpd_mismatch(inj: Injector, f: SubmissionFile, i: int) -> bool:
    dpd = int(f.value(i, "dpd_reported"))
    wrong = str(max(0, dpd + inj.rng.choice((-3, -2, -1, 1, 2, 3, 30))) if dpd > 3 else dpd + 1)
    return f.put(i, "dpd_reported", wrong, "W_DPD_MISMATCH")


# collection actions: every row is clean as generated (the kind has no warnings)


def _ca_promise(inj: Injector, f: SubmissionFile, i: int, mi: int) -> bool:
    return f.value(i, "outcome") == "promise_to_pay"


def _ca_timezone(inj: Injector, f: SubmissionFile, i: int) -> bool:
    """The time as the lender's system shows it locally, without its zone, or with a zone name."""
    local = _beijing(f.value(i, "action_time"))
    written = inj.rng.choice((f"{local:%Y-%m-%d %H:%M:%S}", f"{local:%Y-%m-%dT%H:%M:%S} CST",
                              f"{local:%Y-%m-%dT%H:%M:%S}+08:00:00", f"{local:%Y-%m-%dT%H:%M:%S}+8"))
    return f.put(i, "action_time", written, "R_TIMEZONE")


def _ca_timestamp(inj: Injector, f: SubmissionFile, i: int) -> bool:
    """A spreadsheet's own spelling of the time, or a day the month does not have."""
    rng = inj.rng
    local = _beijing(f.value(i, "action_time"))
    month, day = rng.choice(_BAD_MONTH_DAYS)
    written = rng.choice((f"{local:%Y/%m/%d %H:%M}+08:00", f"{local:%d.%m.%Y %H:%M:%S}+08:00",
                          f"{local.year}-{month:02d}-{day:02d}T{local:%H:%M:%S}+08:00"))
    return f.put(i, "action_time", written, "R_TIMESTAMP")


def _ca_promise_missing(inj: Injector, f: SubmissionFile, i: int) -> bool:
    return f.put(i, inj.rng.choice(("promise_date", "promise_amount")), "", "R_PROMISE_MISSING")


def _ca_enum(inj: Injector, f: SubmissionFile, i: int) -> bool:
    return f.put(i, "channel", "微信" if inj.style.chinese else "wechat", "R_ENUM")


def _ca_future(inj: Injector, f: SubmissionFile, i: int) -> bool:
    """An action typed with next month's date (the day the clerk entered it)."""
    later = f.as_of + dt.timedelta(days=inj.rng.randint(1, 3))
    return f.put(i, "action_time", f"{later:%Y-%m-%d}T10:{inj.rng.randint(0, 59):02d}:00+08:00", "R_FUTURE_DATE")


def _ca_unknown(inj: Injector, f: SubmissionFile, i: int) -> bool:
    """An action on a loan the lender never reported (a contract from a system not yet migrated)."""
    row, at = f.rows[i][:], f.columns
    row[at["loan_id"]] = inj.book.unknown_id(f.as_of)
    row[at["outcome"]], row[at["promise_date"]], row[at["promise_amount"]] = "no_answer", "", ""
    f.extra(i, row, "loan_id", "R_UNKNOWN_LOAN")
    return True


_INJECTIONS: dict[str, dict[str, tuple[Pred, Apply]]] = {
    "loans": {
        "R_COLUMNS": (_any, _truncate),
        "R_REQUIRED": (_any, _loans_required),
        "R_TOO_LONG": (_any, _too_long),
        "R_FORMULA": (_any, _formula),
        "R_ENUM": (_any, _loans_enum),
        "R_DATE": (_any, _loans_date),
        "R_NUMBER": (_any, _loans_number),
        "R_INTEGER": (_any, _loans_integer),
        "R_RANGE": (_any, _loans_range),
        "R_ID_FORMAT": (_any, _id_format),
        "R_ID_CHECKSUM": (_checked_id, _id_checksum),
        "R_ID_TYPE": (_individual, _id_type),
        "R_PHONE": (_has_phone, _phone),
        "R_REGION": (_any, _region),
        "R_DATE_ORDER": (_any, _loans_date_order),
        "R_FUTURE_DATE": (_future_ok, _future),
        "R_DUPLICATE_KEY": (_any, _duplicate),
        "W_RATE_HIGH": (_any, _rate_high),
        "W_PRINCIPAL_CAP": (_cap_ok, _principal_cap),
        "W_GUARANTOR_MISSING": (_guaranteed, _guarantor_missing),
        "W_NAME_CONFLICT": (_conflict_ok, _name_conflict),
    },
    "loan_status": {
        "R_COLUMNS": (_st_any, _truncate),
        "R_REQUIRED": (_st_plain, _st_required),
        "R_ENUM": (_st_enum_ok, _st_enum),
        "R_DATE": (_st_paid, _st_date),
        "R_NUMBER": (_st_paid, _st_number),
        "R_INTEGER": (_st_dpd, _st_integer),
        "R_DATE_ORDER": (_st_dated, _st_date_order),
        "R_AS_OF_MISMATCH": (_st_plain, _st_as_of),
        "R_OVERDUE_GT_OUTSTANDING": (_st_overdue, _st_overdue_gt),
        "R_OVERDUE_SINCE_MISSING": (_st_overdue, _st_since_missing),
        "R_STATUS_AMOUNTS": (_st_settled_or_plain, _st_status_amounts),
        "R_DUPLICATE_KEY": (_st_any, _duplicate),
        "R_UNKNOWN_LOAN": (_any, _st_unknown),
        "W_DPD_MISMATCH": (_st_overdue_dpd, _st_dpd_mismatch),
    },
    "collection_actions": {
        "R_TIMEZONE": (_any, _ca_timezone),
        "R_TIMESTAMP": (_any, _ca_timestamp),
        "R_PROMISE_MISSING": (_ca_promise, _ca_promise_missing),
        "R_ENUM": (_any, _ca_enum),
        "R_FUTURE_DATE": (_any, _ca_future),
        "R_UNKNOWN_LOAN": (_any, _ca_unknown),
    },
}
