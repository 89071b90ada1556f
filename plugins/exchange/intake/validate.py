"""Row validation: interprets the spec's fields and rules over a chunk of rows at once.

Checks run column-wise on Arrow arrays (pyarrow.compute) with numpy masks, so a
million-row status file validates in about a second; only what a loans file needs per
row (identifier checksums, phone clean-up, keyed hashing, name consistency) runs in
Python. A value that fails its own type check is left out of the cross-field rules, so
each mistake is reported once, under the code that names it. Rows with an error are
rejected; warnings keep the row.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from concurrent.futures import Future
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from exchange.core.identifiers import Pseudonymizer, check_id, check_phone, normalise
from exchange.core.spec import (
    FILE_DATE,
    VALIDATION_CODES,
    AllOf,
    AnyOf,
    Condition,
    Field,
    Kind,
    Rule,
    SumPositive,
    When,
    choice_map,
)
from exchange.intake.readers import Chunk

_BOOL = {"true": "true", "false": "false", "1": "true", "0": "false", "y": "true", "n": "false", "yes": "true",
         "no": "false", "t": "true", "f": "false", "是": "true", "否": "false"}
_FORMULA = r"^[=+\-@]"
_INTEGER = r"^-?[0-9]{1,9}$"
"""Numbers and dates take ASCII digits only: number text goes to COPY as is, and PostgreSQL
reads no other digits (RE2's \\d, used in _DATE, is ASCII too)."""
_DATE = r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})$"
"""The one date spelling the spec accepts, YYYY-MM-DD (anything else is R_DATE), its parts named."""
_TIMESTAMP = (r"^(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})[T ](?P<hh>[0-9]{2}):(?P<mi>[0-9]{2})"
              r"(?::(?P<ss>[0-9]{2})(?:\.[0-9]{1,6})?)?(?P<tz>.*)$")
"""ISO 8601 date and time (seconds and fractions optional); whatever follows is the zone, checked apart."""
_OFFSET = r"^(?:Z|(?P<sign>[+-])(?P<oh>[0-9]{2})(?::?(?P<om>[0-9]{2}))?)$"
"""The accepted zones: Z or a UTC offset +HH:MM, +HHMM, +HH (PostgreSQL reads each the same way)."""
_LOCAL_OFFSET_SECONDS = 8 * 3600
"""Dates of timestamps are judged in the exchange's time zone, Asia/Shanghai (UTC+8, no DST)."""
_PHONE_SEPARATORS = re.compile(r"[\s-]")
_DIGIT_TYPES = frozenset({"decimal", "integer", "date", "timestamp", "identifier", "phone", "region", "uscc"})
"""Types whose digits must be ASCII 0-9 once NFKC-folded (DOMAIN section 3): full-width digits fold
to ASCII; the type's own check (ASCII patterns throughout) refuses other scripts' digits under the
type's code, so one person never gets two keys."""

Values = pa.Array | np.ndarray
"""A field's interpreted values: Arrow strings (text, enums), float64 (numbers, NaN when
unusable) or datetime64[D] (dates, NaT when unusable)."""


def _decimal(scale: int) -> str:
    return rf"^-?[0-9]{{1,16}}(?:\.[0-9]{{1,{scale}}})?$"


@dataclass
class Context:
    """What validation of one file needs to know beyond the rows themselves."""

    kind: Kind
    file_date: dt.date
    pseudonymizer: Pseudonymizer
    regions: frozenset[str]
    known_loans: pa.Array | Future[pa.Array] = field(default_factory=lambda: pa.array([], pa.string()))
    """The lender's loans, or a Future while they are still being fetched: validation waits for
    them only when the first chunk's keys are checked."""
    prior_names: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class Result:
    accepted: pa.Table  # `line` plus the raw table's columns as text, rows without errors
    problems: pd.DataFrame  # line, loan_id, field, code, severity
    rejected_lines: int


class Validator:
    """Validates the chunks of one file in order; remembers what spans chunks (duplicate keys, names)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self._seen_keys: list[pa.Array] = []  # keys of earlier chunks that are not known loans
        self._seen_known: np.ndarray | None = None  # known loans met in earlier chunks
        self._regions = pa.array(sorted(ctx.regions), pa.string())

    def validate(self, chunk: Chunk) -> Result:
        kind = self.ctx.kind
        lines = chunk.lines
        raw = {f.name: _stripped(chunk.columns.get(f.name), len(lines), chunk.trimmed) for f in kind.fields}
        found = _Found(lines, {f.name: raw[f.name] for f in kind.fields if f.type in ECHO_TYPES})
        for line, loan_id in zip(chunk.bad_width, self._own_loans(chunk.bad_width_loan_ids), strict=True):
            found.one(line, loan_id, "R_COLUMNS")
        values: dict[str, Values] = {}
        ok: dict[str, np.ndarray] = {}
        for f in kind.fields:
            values[f.name], ok[f.name] = self._field(f, raw, found)
        found.loan_ids = pc.if_else(ok["loan_id"], values["loan_id"], None)
        keys = self._key_hits(values, ok)
        for rule in kind.rules:
            self._rule(rule, raw, values, ok, keys, found)

        keep = ~found.rejected()
        accepted = self._output(raw, values, keep, lines, found)
        return Result(accepted, found.frame(), int((~keep).sum()) + len(chunk.bad_width))

    # ---- fields ------------------------------------------------------------------------

    def _field(self, f: Field, raw: dict[str, pa.Array], found: _Found) -> tuple[Values, np.ndarray]:
        s = raw[f.name]
        if f.type in _DIGIT_TYPES:
            s = raw[f.name] = _nfkc(s)  # the folded text is what is checked and stored
        present = _mask(pc.not_equal(s, ""))
        if f.default is not None:
            s = pc.if_else(present, s, f.default)
            present = np.ones(len(s), dtype=bool)
        elif f.required:
            found.add(~present, f.name, "R_REQUIRED")
        if f.type == "text":
            formula = present & _mask(pc.match_substring_regex(s, _FORMULA))
            too_long = present & ~formula & (pc.utf8_length(s).to_numpy() > (f.max_length or 10_000))
            found.add(formula, f.name, "R_FORMULA")
            found.add(too_long, f.name, "R_TOO_LONG")
            return s, present & ~formula & ~too_long
        if f.type in ("enum", "risk_class", "bool"):
            mapped = _lookup(s, _BOOL if f.type == "bool" else choice_map(f))
            bad = present & _mask(mapped.is_null())
            found.add(bad, f.name, "R_ENUM")
            return mapped, present & ~bad
        if f.type in ("decimal", "integer"):
            return self._number(f, s, present, found)
        if f.type == "date":
            return self._date(f, s, present, found)
        if f.type == "timestamp":
            return self._timestamp(f, s, present, found)
        if f.type == "identifier":
            return self._identifier(f, s, present, raw, found)
        if f.type == "phone":
            digits = [_PHONE_SEPARATORS.sub("", v) for v in s.to_pylist()]
            bad = present & ~np.array([check_phone(d) for d in digits], dtype=bool)
            found.add(bad, f.name, "R_PHONE")
            return pa.array(digits, pa.string()), present & ~bad
        if f.type == "region":
            bad = present & ~_mask(pc.is_in(s, value_set=self._regions))
            found.add(bad, f.name, "R_REGION")
            return s, present & ~bad
        if f.type == "uscc":
            norm = [normalise("USCC", v) for v in s.to_pylist()]
            codes = [check_id("USCC", v) if p else None for v, p in zip(norm, present, strict=True)]
            for code in ("R_ID_FORMAT", "R_ID_CHECKSUM"):
                found.add(np.array([c == code for c in codes], dtype=bool), f.name, code)
            return pa.array(norm, pa.string()), present & np.array([c is None for c in codes], dtype=bool)
        raise AssertionError(f"unhandled field type {f.type}")

    def _number(self, f: Field, s: pa.Array, present: np.ndarray, found: _Found) -> tuple[np.ndarray, np.ndarray]:
        shaped = present & _mask(pc.match_substring_regex(s, _INTEGER if f.type == "integer" else _decimal(f.scale)))
        found.add(present & ~shaped, f.name, "R_INTEGER" if f.type == "integer" else "R_NUMBER")
        number = pc.cast(pc.if_else(shaped, s, None), pa.float64()).to_numpy(zero_copy_only=False)
        out_of_range = np.zeros(len(s), dtype=bool)
        if f.minimum is not None:
            low = float(f.minimum)
            out_of_range |= (number <= low) if f.minimum_exclusive else (number < low)
        if f.maximum is not None:
            out_of_range |= number > float(f.maximum)
        out_of_range &= shaped
        found.add(out_of_range, f.name, "R_RANGE")
        return number, shaped & ~out_of_range

    def _date(self, f: Field, s: pa.Array, present: np.ndarray, found: _Found) -> tuple[np.ndarray, np.ndarray]:
        dates = _calendar_dates(s)
        sane = ~np.isnat(dates) & (dates >= np.datetime64("1900-01-01")) & (dates <= np.datetime64("2100-12-31"))
        found.add(present & ~sane, f.name, "R_DATE")
        return dates, present & sane

    def _timestamp(self, f: Field, s: pa.Array, present: np.ndarray,
                   found: _Found) -> tuple[np.ndarray, np.ndarray]:
        """A timestamp must name its zone: R_TIMESTAMP when the date and time are not valid,
        R_TIMEZONE when they are but the zone is missing (naive) or not a valid UTC offset.

        The value kept for the cross-field rules is the local date in Asia/Shanghai.
        """
        parts = pc.extract_regex(s, _TIMESTAMP)
        shaped = present & _mask(parts.is_valid())

        def number(p: pa.Array, name: str) -> np.ndarray:
            text = pc.struct_field(p, name).fill_null("")
            text = pc.if_else(pc.equal(text, ""), "0", text)
            return pc.cast(text, pa.int64()).to_numpy(zero_copy_only=False)

        y, m, d, hh, mi, ss = (number(parts, n) for n in ("y", "m", "d", "hh", "mi", "ss"))
        months = ((y - 1970) * 12 + m - 1).astype("datetime64[M]")
        first = months.astype("datetime64[D]")
        length = ((months + 1).astype("datetime64[D]") - first).astype(np.int64)
        real = (shaped & (m >= 1) & (m <= 12) & (d >= 1) & (d <= length) & (hh <= 23) & (mi <= 59) & (ss <= 59)
                & (y >= 1900) & (y <= 2100))
        found.add(present & ~real, f.name, "R_TIMESTAMP")
        zone = pc.struct_field(parts, "tz").fill_null("")
        offset = pc.extract_regex(zone, _OFFSET)
        zoned = _mask(offset.is_valid())
        sign = np.where(_mask(pc.equal(pc.struct_field(offset, "sign").fill_null(""), "-")), -1, 1)
        oh, om = number(offset, "oh"), number(offset, "om")
        zoned &= (oh <= 14) & (om <= 59)
        found.add(real & ~zoned, f.name, "R_TIMEZONE")
        good = real & zoned
        seconds = ((first + (d - 1)).astype(np.int64) * 86400 + hh * 3600 + mi * 60 + ss
                   - sign * (oh * 3600 + om * 60) + _LOCAL_OFFSET_SECONDS)
        local = np.where(good, (seconds // 86400).astype("datetime64[D]"), np.datetime64("NaT", "D"))
        return local, good

    def _identifier(self, f: Field, s: pa.Array, present: np.ndarray, raw: dict[str, pa.Array],
                    found: _Found) -> tuple[pa.Array, np.ndarray]:
        id_type = _canonical(raw["id_type"], choice_map(self.ctx.kind.field("id_type"))).to_pylist()
        norm = [normalise(t, v) if t is not None else v for t, v in zip(id_type, s.to_pylist(), strict=True)]
        codes = [check_id(t, v) if t is not None and p else None for t, v, p in zip(id_type, norm, present, strict=True)]
        for code in ("R_ID_FORMAT", "R_ID_CHECKSUM"):
            found.add(np.array([c == code for c in codes], dtype=bool), f.name, code)
        usable = np.array([t is not None and c is None for t, c in zip(id_type, codes, strict=True)], dtype=bool)
        return pa.array(norm, pa.string()), present & usable

    # ---- cross-field rules ---------------------------------------------------------------

    def _key_hits(self, values: dict[str, Values], ok: dict[str, np.ndarray]) -> dict[str, _KeyHits]:
        """For the fields of the unique and known-loan rules: one hash table over the chunk serves both.

        A key met in an earlier chunk is remembered as a mark on the known loan it equals, and
        as itself only when it equals none; so a chunk probes the lender's known loans once,
        not also every key of the file before it.
        """
        hits = {}
        unique = {r.field for r in self.ctx.kind.rules if r.check == "unique"}
        for name in unique | {r.field for r in self.ctx.kind.rules if r.check == "known_loan"}:
            keys = pc.if_else(ok[name], values[name], None)
            first, earlier, known_rows = _probe(keys, self._seen_keys, self._known_loans())
            matched = known_rows >= 0
            is_known = np.zeros(len(keys), dtype=bool)
            is_known[known_rows[matched]] = True
            if name in unique:
                earlier[known_rows[matched & self._seen_known]] = True
                self._seen_known |= matched
                self._seen_keys.append(keys.filter(pa.array(~is_known)).drop_null())
            hits[name] = _KeyHits(keys, first, earlier[first], is_known[first])
        return hits

    def _own_loans(self, cells: list[str]) -> list[str | None]:
        """Each cell that is one of the lender's own loan ids, else None.

        A row of the wrong width is rejected whole, yet its loan must still be known, or the loan
        looks absent from the file (a C_DISAPPEARED finding against the lender for the exchange's
        own rejection). Its loan_id cell may hold another, shifted field (a name, an ID number),
        so only a value the exchange already holds as this lender's loan id is kept.
        """
        if not cells or not any(r.check == "known_loan" for r in self.ctx.kind.rules):
            return [None] * len(cells)
        own = pc.is_in(pa.array(cells, pa.string()), value_set=self._known_loans()).to_pylist()
        return [cell if is_own else None for cell, is_own in zip(cells, own, strict=True)]

    def _known_loans(self) -> pa.Array:
        if isinstance(self.ctx.known_loans, Future):
            self.ctx.known_loans = self.ctx.known_loans.result()
        if self._seen_known is None:
            self._seen_known = np.zeros(len(self.ctx.known_loans), dtype=bool)
        return self.ctx.known_loans

    def _rule(self, rule: Rule, raw: dict[str, pa.Array], values: dict[str, Values], ok: dict[str, np.ndarray],
              keys: dict[str, _KeyHits], found: _Found) -> None:
        v, good = values.get(rule.field), ok.get(rule.field)
        check = rule.check
        if check == "unique":
            hit = keys[rule.field]
            found.add(good & ((hit.first != np.arange(len(v))) | hit.earlier), rule.field, rule.code)
        elif check == "known_loan":
            found.add(good & ~keys[rule.field].known, rule.field, rule.code)
        elif check == "allowed_pairs":
            pairs = pa.array([f"{a}\x1f{b}" for a, b in rule.pairs], pa.string())
            pair_ok = _mask(pc.is_in(pc.binary_join_element_wise(v, values[rule.other], "\x1f"), value_set=pairs))
            found.add(good & ok[rule.other] & ~pair_ok, rule.other or rule.field, rule.code)
        elif check == "not_after":
            other = np.datetime64(self.ctx.file_date, "D") if rule.other == FILE_DATE else values[rule.other]
            other_ok = True if rule.other == FILE_DATE else ok[rule.other]
            found.add(good & other_ok & (v > other), rule.field, rule.code)
        elif check == "equals_file_date":
            found.add(good & (v != np.datetime64(self.ctx.file_date, "D")), rule.field, rule.code)
        elif check == "not_greater":
            found.add(good & ok[rule.other] & (v > values[rule.other]), rule.field, rule.code)
        elif check in ("required_when", "recommended_when"):
            empty = _mask(pc.equal(raw[rule.field], ""))
            found.add(_condition(rule.when, values, ok) & empty, rule.field, rule.code)
        elif check == "zero_when":
            found.add(_condition(rule.when, values, ok) & good & (v != 0), rule.field, rule.code)
        elif check == "positive_when":
            all_ok = np.logical_and.reduce([ok[x] for x in rule.fields])
            total = sum(np.nan_to_num(values[x]) for x in rule.fields)
            found.add(_condition(rule.when, values, ok) & all_ok & (total <= 0), rule.field, rule.code)
        elif check == "above":
            holds = _condition(rule.when, values, ok) if rule.when else True
            found.add(holds & good & (v > float(rule.threshold or Decimal(0))), rule.field, rule.code)
        elif check == "days_since":
            days = (values[rule.at] - values[rule.other]).astype("timedelta64[D]").astype(np.float64)
            both = good & ok[rule.other] & ok[rule.at]
            found.add(both & (v != days), rule.field, rule.code)
        elif check == "name_consistent":
            pass  # evaluated on keyed hashes in _output, where the names no longer exist in clear
        else:
            raise AssertionError(f"unhandled rule check {check}")

    # ---- output: typed text for COPY, identities replaced by keys ----------------------------

    def _output(self, raw: dict[str, pa.Array], values: dict[str, Values], keep: np.ndarray, lines: np.ndarray,
                found: _Found) -> pa.Table:
        kind, pz = self.ctx.kind, self.ctx.pseudonymizer
        kept = pa.array(keep)
        out: dict[str, pa.Array] = {"line": pa.array(lines[keep], pa.int64())}
        for f in kind.fields:
            if f.type in ("decimal", "integer", "timestamp", "date"):
                # the validated text is exact (numbers: PostgreSQL parses it into numeric without
                # float rounding; dates: already YYYY-MM-DD throughout)
                out[f.column] = _null_if_empty(raw[f.name].filter(kept))
                continue
            v = values[f.name].filter(kept)
            if f.storage == "clear":
                out[f.column] = _null_if_empty(v)
            else:
                types = values["id_type"].filter(kept).to_pylist() if f.storage == "borrower_key" else None
                out[f.column] = pa.array(_keyed(pz, f.storage, v.to_pylist(), types), pa.string())
        table = pa.table(out)
        if any(r.check == "name_consistent" for r in kind.rules):
            self._names(table, found)
        return table

    def _names(self, table: pa.Table, found: _Found) -> None:
        rule = next(r for r in self.ctx.kind.rules if r.check == "name_consistent")
        columns = (table.column(c).to_pylist() for c in ("line", "borrower_key", "name_hash", "loan_id"))
        for line, key, name, loan in zip(*columns, strict=True):
            known = self.ctx.prior_names.setdefault(key, set())
            if known and name not in known:
                found.one(line, loan, rule.code, rule.field)
            known.add(name)


def _keyed(pz: Pseudonymizer, storage: str, values: list[str | None], types: list[str] | None) -> list[str | None]:
    """Keyed hashes in place of identities; an absent optional identity stays NULL."""
    if storage == "borrower_key":
        return [pz.borrower_key(t, x) for t, x in zip(types or [], values, strict=True)]
    if storage == "name_hash":
        return [pz.name_hash(x) for x in values]
    if storage == "phone_hash":
        return [pz.phone_hash(x) if x else None for x in values]
    if storage == "org_key":
        return [pz.borrower_key("USCC", x) if x else None for x in values]
    raise AssertionError(f"unhandled storage {storage}")


def _nfkc(s: pa.Array) -> pa.Array:
    """The values NFKC-folded (full-width digits and letters become ASCII); only non-ASCII values
    go through Python, as files are ASCII almost throughout."""
    ascii_only = _mask(pc.string_is_ascii(s))
    if ascii_only.all():
        return s
    values = s.to_pylist()
    for i in np.flatnonzero(~ascii_only):
        values[i] = unicodedata.normalize("NFKC", values[i])
    return pa.array(values, pa.string())


def _stripped(cells: pd.Series | None, n: int, trimmed: bool = False) -> pa.Array:
    """A column's cells without surrounding whitespace; a column the file lacks is all empty."""
    if cells is None:
        return pa.array([""] * n, pa.string())
    return pa.array(cells.array) if trimmed else pc.utf8_trim_whitespace(pa.array(cells.array))


def _mask(flags: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow boolean result as a numpy mask, null counting as False."""
    return np.asarray(flags.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _null_if_empty(text: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(text, ""), None, text)


def _lookup(s: pa.Array, mapping: dict[str, str]) -> pa.Array:
    """The canonical value of each spelling, tried as written and then lower-cased; null if none fits."""
    canonical = _canonical(s, mapping)
    missed = pc.and_(canonical.is_null(), pc.not_equal(s, ""))
    if not pc.any(missed).as_py():
        return canonical
    return pc.replace_with_mask(canonical, missed, _canonical(pc.utf8_lower(s.filter(missed)), mapping))


def _canonical(s: pa.Array, mapping: dict[str, str]) -> pa.Array:
    """The canonical value of each spelling as written, null if it is none of them."""
    keys = pa.array(list(mapping), pa.string())
    return pa.array(list(mapping.values()), pa.string()).take(pc.index_in(s, value_set=keys))


@dataclass
class _KeyHits:
    """A chunk's usable keys (null elsewhere): where each first occurs in the chunk, and whether
    an earlier chunk or the lender's known loans hold it."""

    keys: pa.Array
    first: np.ndarray
    earlier: np.ndarray
    known: np.ndarray


def _probe(keys: pa.Array, seen: list[pa.Array], known: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One hash table over the chunk's keys, probed by the chunk itself, the seen keys and the known loans.

    Returns, per row, the row of its key's first occurrence in the chunk and whether a seen key
    equals it; and, per known loan, the (first) row holding it, -1 where none does. Arrow's is_in
    would hash the large side (a lender's million loans) anew for every chunk, which costs many
    times more than probing it.
    """
    n, seen_size = len(keys), sum(len(a) for a in seen)
    where = pc.index_in(pa.chunked_array([keys, *seen, known], pa.string()), value_set=keys)
    in_seen = np.zeros(n, dtype=bool)
    in_seen[where.slice(n, seen_size).drop_null().to_numpy()] = True
    known_rows = where.slice(n + seen_size).fill_null(-1).to_numpy().astype(np.int64)
    return where.slice(0, n).to_numpy(), in_seen, known_rows


def _calendar_dates(s: pa.Array) -> np.ndarray:
    """Each YYYY-MM-DD value as a date; NaT where the spelling differs or the day does not exist.

    When every value is a real YYYY-MM-DD date, Arrow's strict cast reads them all at once;
    otherwise the shape is matched and the calendar checked here (Arrow's strptime would roll
    2025-02-30 over to March).
    """
    try:
        return pc.cast(_null_if_empty(s), pa.date32()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        pass
    parts = pc.extract_regex(s, _DATE)
    fits = _mask(parts.is_valid())
    year, month, day = (pc.struct_field(parts, name).fill_null("0").cast(pa.int64()).to_numpy() for name in "ymd")
    months = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    first = months.astype("datetime64[D]")
    length = ((months + 1).astype("datetime64[D]") - first).astype(np.int64)
    real = fits & (month >= 1) & (month <= 12) & (day >= 1) & (day <= length)
    return np.where(real, first + (day - 1), np.datetime64("NaT", "D"))


def _condition(cond: Condition | None, values: dict[str, Values], ok: dict[str, np.ndarray]) -> np.ndarray:
    if isinstance(cond, When):
        return ok[cond.field] & _mask(pc.is_in(values[cond.field], value_set=pa.array(cond.values, pa.string())))
    if isinstance(cond, SumPositive):
        return sum(np.where(ok[x], np.nan_to_num(values[x]), 0) for x in cond.fields) > 0
    if isinstance(cond, AnyOf):
        return np.logical_or.reduce([_condition(c, values, ok) for c in cond.conditions])
    if isinstance(cond, AllOf):
        return np.logical_and.reduce([_condition(c, values, ok) for c in cond.conditions])
    raise AssertionError(f"unhandled condition {cond!r}")


ECHO_TYPES = frozenset({"date", "timestamp", "decimal", "integer", "region"})
"""Field types whose bad value the feedback may show the lender (never identifiers, names, phones or text)."""
_ECHOABLE = r"^[0-9 .,:/+\-TZ]{1,40}$"
_DIGIT_RUN = r"[0-9]{11}"
"""A value is shown only when made of digits and punctuation with no run of 11 digits, so an ID
number or a phone typed into a date or amount column is never echoed (nor stored)."""


def echoable(values: pa.Array) -> pa.Array:
    """Each value where it may be shown to the lender, else null (see _ECHOABLE)."""
    safe = pc.and_(pc.match_substring_regex(values, _ECHOABLE), pc.invert(pc.match_substring_regex(values, _DIGIT_RUN)))
    return pc.if_else(pc.fill_null(safe, False), values, None)


class _Found:
    """Collects (line, loan_id, field, code) as boolean masks, turned into a frame once; with the
    lender's own value for the field types in ECHO_TYPES when it is echoable."""

    def __init__(self, lines: np.ndarray, echo: dict[str, pa.Array]):
        self.lines = lines
        self.echo = echo
        self.loan_ids: pa.Array | None = None
        self._masks: list[tuple[np.ndarray, str | None, str]] = []
        self._single: list[tuple[int, str | None, str | None, str]] = []

    def add(self, mask: np.ndarray, field_name: str | None, code: str) -> None:
        if mask.any():
            self._masks.append((mask, field_name, code))

    def one(self, line: int, loan_id: str | None, code: str, field_name: str | None = None) -> None:
        self._single.append((line, loan_id, field_name, code))

    def rejected(self) -> np.ndarray:
        """Rows with an error-severity problem."""
        errors = [mask for mask, _, code in self._masks if VALIDATION_CODES[code].severity == "error"]
        return np.logical_or.reduce(errors) if errors else np.zeros(len(self.lines), dtype=bool)

    def frame(self) -> pd.DataFrame:
        parts = []
        for mask, field_name, code in self._masks:
            ids = self.loan_ids.filter(mask).to_pylist() if self.loan_ids is not None else None
            shown = echoable(self.echo[field_name].filter(mask)).to_pylist() if field_name in self.echo else None
            parts.append(pd.DataFrame({"line": self.lines[mask], "loan_id": pd.Series(ids, dtype=object),
                                       "field": field_name, "code": code, "value": pd.Series(shown, dtype=object)}))
        if self._single:
            parts.append(pd.DataFrame(self._single, columns=["line", "loan_id", "field", "code"]))
        if not parts:
            return pd.DataFrame({"line": pd.Series(dtype="int64"), "loan_id": pd.Series(dtype="object"),
                                 "field": pd.Series(dtype="object"), "code": pd.Series(dtype="object"),
                                 "value": pd.Series(dtype="object"), "severity": pd.Series(dtype="object")})
        frame = pd.concat(parts, ignore_index=True)
        frame["severity"] = frame.code.map(lambda c: VALIDATION_CODES[c].severity)
        return frame.sort_values(["line", "code"], kind="stable").reset_index(drop=True)
