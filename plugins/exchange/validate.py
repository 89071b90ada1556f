"""Row validation: interprets the spec's fields and rules over a chunk of rows at once.

Checks run column-wise (pandas over Arrow strings) so a million-row file validates in
seconds; only identifier checksums and keyed hashing touch rows one by one. A value
that fails its own type check is left out of the cross-field rules, so each mistake
is reported once, under the code that names it. Rows with an error are rejected;
warnings keep the row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .identifiers import Pseudonymizer, check_id, normalise
from .readers import Chunk
from .spec import (
    FILE_DATE,
    REASONS,
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

_BOOL = {"true": "true", "false": "false", "1": "true", "0": "false", "y": "true", "n": "false", "yes": "true",
         "no": "false", "t": "true", "f": "false", "是": "true", "否": "false"}
_FORMULA = r"^[=+\-@]"
_DATE_FORMATS = ((r"^\d{4}-\d{2}-\d{2}$", "%Y-%m-%d"), (r"^\d{8}$", "%Y%m%d"), (r"^\d{4}/\d{1,2}/\d{1,2}$", "%Y/%m/%d"))


@dataclass
class Context:
    """What validation of one file needs to know beyond the rows themselves."""

    kind: Kind
    file_date: dt.date
    pseudonymizer: Pseudonymizer
    regions: frozenset[str]
    known_loans: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))
    prior_names: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class Result:
    accepted: pd.DataFrame  # raw-table columns plus `line`, rows without errors
    problems: pd.DataFrame  # line, loan_id, field, code, severity
    rejected_lines: int


class Validator:
    """Validates the chunks of one file in order; remembers what spans chunks (duplicate keys, names)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self._seen_keys: list[pa.Array] = []
        self._regions = pa.array(sorted(ctx.regions), pa.string())

    def validate(self, chunk: Chunk) -> Result:
        kind = self.ctx.kind
        n = len(chunk.lines)
        lines = np.asarray(chunk.lines, dtype=np.int64)
        raw = {f.name: pd.Series(chunk.columns.get(f.name, [""] * n), dtype="string").str.strip() for f in kind.fields}
        found = _Found(lines)
        for line in chunk.bad_width:
            found.one(line, None, "R_COLUMNS")
        values: dict[str, pd.Series] = {}
        ok: dict[str, pd.Series] = {}
        for f in kind.fields:
            values[f.name], ok[f.name] = self._field(f, raw, found)
        loan_id = values["loan_id"].where(ok["loan_id"])
        found.loan_ids = loan_id
        for rule in kind.rules:
            self._rule(rule, raw, values, ok, found)

        problems = found.frame()
        errors = problems.loc[problems.severity == "error", "line"]
        keep = ~pd.Series(lines).isin(errors).to_numpy()
        accepted = self._output(raw, values, keep, lines, found)
        problems = found.frame()  # name checks during output may add warnings
        return Result(accepted, problems, int((~keep).sum()) + len(chunk.bad_width))

    # ---- fields ------------------------------------------------------------------------

    def _field(self, f: Field, raw: dict[str, pd.Series], found: _Found) -> tuple[pd.Series, pd.Series]:
        s = raw[f.name]
        present = s != ""
        if f.default is not None:
            s = s.mask(~present, f.default)
            present = pd.Series(True, index=s.index)
        elif f.required:
            found.add(~present, f.name, "R_REQUIRED")
        if f.type == "text":
            formula = present & s.str.contains(_FORMULA, regex=True)
            too_long = present & ~formula & (s.str.len() > (f.max_length or 10_000))
            found.add(formula, f.name, "R_FORMULA")
            found.add(too_long, f.name, "R_TOO_LONG")
            return s, present & ~formula & ~too_long
        if f.type in ("enum", "risk_class", "bool"):
            mapping = _BOOL if f.type == "bool" else choice_map(f)
            mapped = s.map(mapping).fillna(s.str.lower().map(mapping))
            bad = present & mapped.isna()
            found.add(bad, f.name, "R_ENUM")
            return mapped.astype("string"), present & ~bad
        if f.type in ("decimal", "integer"):
            return self._number(f, s, present, found)
        if f.type == "date":
            return self._date(f, s, present, found)
        if f.type == "identifier":
            return self._identifier(f, s, present, raw, found)
        if f.type == "phone":
            digits = s.str.replace(r"[\s-]", "", regex=True)
            bad = present & ~digits.str.fullmatch(r"1\d{10}")
            found.add(bad, f.name, "R_PHONE")
            return digits, present & ~bad
        if f.type == "region":
            bad = present & ~is_in(s, self._regions)
            found.add(bad, f.name, "R_REGION")
            return s, present & ~bad
        if f.type == "uscc":
            norm = s.map(lambda v: normalise("USCC", v), na_action="ignore").astype("string")
            codes = norm.where(present).map(lambda v: check_id("USCC", v), na_action="ignore")
            for code in ("R_ID_FORMAT", "R_ID_CHECKSUM"):
                found.add(present & (codes == code), f.name, code)
            return norm, present & codes.isna()
        raise AssertionError(f"unhandled field type {f.type}")

    def _number(self, f: Field, s: pd.Series, present: pd.Series, found: _Found) -> tuple[pd.Series, pd.Series]:
        pattern = r"-?\d{1,9}" if f.type == "integer" else rf"-?\d{{1,16}}(\.\d{{1,{f.scale}}})?"
        shaped = present & s.str.fullmatch(pattern).fillna(False)
        found.add(present & ~shaped, f.name, "R_INTEGER" if f.type == "integer" else "R_NUMBER")
        number = pd.to_numeric(s.where(shaped), errors="coerce")
        out_of_range = pd.Series(False, index=s.index)
        if f.minimum is not None:
            low = float(f.minimum)
            out_of_range |= (number <= low) if f.minimum_exclusive else (number < low)
        if f.maximum is not None:
            out_of_range |= number > float(f.maximum)
        out_of_range = shaped & out_of_range.fillna(False)
        found.add(out_of_range, f.name, "R_RANGE")
        return number, shaped & ~out_of_range

    def _date(self, f: Field, s: pd.Series, present: pd.Series, found: _Found) -> tuple[pd.Series, pd.Series]:
        parsed = pd.Series(pd.NaT, index=s.index, dtype="datetime64[s]")
        for pattern, fmt in _DATE_FORMATS:
            match = present & s.str.fullmatch(pattern).fillna(False)
            if match.any():
                parsed = parsed.mask(match, pd.to_datetime(s.where(match), format=fmt, errors="coerce"))
        sane = parsed.notna() & (parsed.dt.year >= 1900) & (parsed.dt.year <= 2100)
        found.add(present & ~sane, f.name, "R_DATE")
        return parsed, present & sane

    def _identifier(self, f: Field, s: pd.Series, present: pd.Series, raw: dict[str, pd.Series],
                    found: _Found) -> tuple[pd.Series, pd.Series]:
        id_type = raw["id_type"].map(choice_map(self.ctx.kind.field("id_type")))
        norm = pd.Series([normalise(t, v) if isinstance(t, str) else v for t, v in zip(id_type, s, strict=True)],
                         index=s.index, dtype="string")
        codes = pd.Series([check_id(t, v) if isinstance(t, str) and p else None
                           for t, v, p in zip(id_type, norm, present, strict=True)], index=s.index, dtype="object")
        for code in ("R_ID_FORMAT", "R_ID_CHECKSUM"):
            found.add(codes == code, f.name, code)
        return norm, present & id_type.notna() & codes.isna()

    # ---- cross-field rules ---------------------------------------------------------------

    def _rule(self, rule: Rule, raw, values, ok, found: _Found) -> None:
        v, good = values.get(rule.field), ok.get(rule.field)
        check = rule.check
        if check == "unique":
            ids = v.where(good)
            seen = pa.concat_arrays(self._seen_keys) if self._seen_keys else pa.array([], pa.string())
            dup = good & (ids.duplicated(keep="first") | is_in(ids, seen))
            self._seen_keys.append(pa.array(ids.dropna(), pa.string()))
            found.add(dup, rule.field, rule.code)
        elif check == "known_loan":
            found.add(good & ~is_in(v, self.ctx.known_loans), rule.field, rule.code)
        elif check == "allowed_pairs":
            pair_ok = pd.Series([(a, b) in rule.pairs for a, b in zip(v, values[rule.other], strict=True)], index=v.index)
            found.add(good & ok[rule.other] & ~pair_ok, rule.other or rule.field, rule.code)
        elif check == "not_after":
            if rule.other == FILE_DATE:
                found.add(good & (v > pd.Timestamp(self.ctx.file_date)), rule.field, rule.code)
            else:
                found.add(good & ok[rule.other] & (v > values[rule.other]), rule.field, rule.code)
        elif check == "equals_file_date":
            found.add(good & (v != pd.Timestamp(self.ctx.file_date)), rule.field, rule.code)
        elif check == "not_greater":
            found.add(good & ok[rule.other] & (v > values[rule.other]), rule.field, rule.code)
        elif check in ("required_when", "recommended_when"):
            holds = _condition(rule.when, values, ok)
            found.add(holds & (raw[rule.field] == ""), rule.field, rule.code)
        elif check == "zero_when":
            found.add(_condition(rule.when, values, ok) & good & (v != 0), rule.field, rule.code)
        elif check == "positive_when":
            all_ok = np.logical_and.reduce([ok[x] for x in rule.fields])
            total = sum(values[x].fillna(0) for x in rule.fields)
            found.add(_condition(rule.when, values, ok) & all_ok & (total <= 0), rule.field, rule.code)
        elif check == "above":
            holds = _condition(rule.when, values, ok) if rule.when else pd.Series(True, index=v.index)
            found.add(holds & good & (v > float(rule.threshold or Decimal(0))), rule.field, rule.code)
        elif check == "days_since":
            days = (values[rule.at] - values[rule.other]).dt.days
            both = good & ok[rule.other] & ok[rule.at]
            found.add(both & (v != days), rule.field, rule.code)
        elif check == "name_consistent":
            pass  # evaluated on keyed hashes in _output, where the names no longer exist in clear
        else:
            raise AssertionError(f"unhandled rule check {check}")

    # ---- output: typed text for COPY, identities replaced by keys ----------------------------

    def _output(self, raw, values, keep: np.ndarray, lines: np.ndarray, found: _Found) -> pd.DataFrame:
        kind, pz = self.ctx.kind, self.ctx.pseudonymizer
        out: dict[str, object] = {"line": lines[keep]}
        for f in kind.fields:
            v = values[f.name][keep].reset_index(drop=True)
            if f.storage == "borrower_key":
                types = values["id_type"][keep]
                out[f.column] = [pz.borrower_key(t, x) for t, x in zip(types, v, strict=True)]
            elif f.storage == "name_hash":
                out[f.column] = [pz.name_hash(x) for x in v]
            elif f.storage == "phone_hash":
                out[f.column] = [None if pd.isna(x) or x == "" else pz.phone_hash(x) for x in v]
            elif f.storage == "org_key":
                out[f.column] = [None if pd.isna(x) or x == "" else pz.borrower_key("USCC", x) for x in v]
            elif f.type == "date":
                out[f.column] = v.dt.strftime("%Y-%m-%d").astype("string")
            elif f.type in ("decimal", "integer"):
                # the validated text is exact; PostgreSQL parses it into numeric without float rounding
                text = raw[f.name][keep].reset_index(drop=True)
                out[f.column] = text.mask(text == "", pd.NA) if f.default is None else text
            else:
                out[f.column] = v.astype("string").mask(v == "", pd.NA)
        frame = pd.DataFrame(out)
        if any(r.check == "name_consistent" for r in kind.rules):
            self._names(frame, found)
        return frame

    def _names(self, frame: pd.DataFrame, found: _Found) -> None:
        rule = next(r for r in self.ctx.kind.rules if r.check == "name_consistent")
        for line, key, name, loan in zip(frame.line, frame.borrower_key, frame.name_hash, frame.loan_id, strict=True):
            known = self.ctx.prior_names.setdefault(key, set())
            if known and name not in known:
                found.one(int(line), loan, rule.code, rule.field)
            known.add(name)


def is_in(series: pd.Series, value_set: pa.Array) -> np.ndarray:
    """Membership through Arrow's hash kernel (pandas' isin converts every value in Python)."""
    arr = pa.array(series.astype("string"), from_pandas=True)
    return np.asarray(pc.is_in(arr, value_set=value_set.cast(arr.type)).fill_null(False), dtype=bool)


def _condition(cond: Condition | None, values, ok) -> pd.Series:
    if isinstance(cond, When):
        return ok[cond.field] & is_in(values[cond.field], pa.array(cond.values, pa.string()))
    if isinstance(cond, SumPositive):
        total = sum(values[x].where(ok[x], 0).fillna(0) for x in cond.fields)
        return total > 0
    if isinstance(cond, AnyOf):
        return np.logical_or.reduce([_condition(c, values, ok) for c in cond.conditions])
    if isinstance(cond, AllOf):
        return np.logical_and.reduce([_condition(c, values, ok) for c in cond.conditions])
    raise AssertionError(f"unhandled condition {cond!r}")


class _Found:
    """Collects (line, loan_id, field, code) as boolean masks, turned into a frame once."""

    def __init__(self, lines: np.ndarray):
        self.lines = lines
        self.loan_ids: pd.Series | None = None
        self._masks: list[tuple[np.ndarray, str | None, str]] = []
        self._single: list[tuple[int, str | None, str | None, str]] = []

    def add(self, mask: pd.Series, field_name: str | None, code: str) -> None:
        arr = np.asarray(mask.fillna(False) if hasattr(mask, "fillna") else mask, dtype=bool)
        if arr.any():
            self._masks.append((arr, field_name, code))

    def one(self, line: int, loan_id: str | None, code: str, field_name: str | None = None) -> None:
        self._single.append((line, loan_id, field_name, code))

    def frame(self) -> pd.DataFrame:
        parts = []
        ids = self.loan_ids.to_numpy(dtype=object, na_value=None) if self.loan_ids is not None else None
        for mask, field_name, code in self._masks:
            parts.append(pd.DataFrame({
                "line": self.lines[mask], "loan_id": ids[mask] if ids is not None else None,
                "field": field_name, "code": code}))
        if self._single:
            parts.append(pd.DataFrame(self._single, columns=["line", "loan_id", "field", "code"]))
        if not parts:
            return pd.DataFrame({"line": pd.Series(dtype="int64"), "loan_id": pd.Series(dtype="object"),
                                 "field": pd.Series(dtype="object"), "code": pd.Series(dtype="object"),
                                 "severity": pd.Series(dtype="object")})
        frame = pd.concat(parts, ignore_index=True)
        frame["severity"] = frame.code.map(lambda c: REASONS[c].severity)
        return frame.sort_values(["line", "code"], kind="stable").reset_index(drop=True)
