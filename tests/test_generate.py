"""The synthetic-lender generator: determinism, realism, and a truth file that is exactly right.

The truth file is what the validator is scored against, so it is checked here by an independent,
deliberately plain reading of the spec: every row of every submitted file is checked, and the set
of (file, line, code) found must equal the truth file's. A generator bug that leaves an unlisted
problem in a file, or lists one that is not there, fails this test rather than the validator's.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
from collections import Counter
from pathlib import Path

import openpyxl
import pytest

from exchange.core import spec
from exchange.core.errors import ExchangeError
from exchange.core.identifiers import check_id, check_phone, normalise, normalise_name
from exchange.core.regions import load_regions
from exchange_tools.synthetic.generate import GenerateResult, generate
from exchange_tools.synthetic.inject import ROW_CODES

END = dt.date(2025, 12, 31)
ID_PAIRS = next(r.pairs for r in spec.LOANS.rules if r.code == "R_ID_TYPE")
DEMO = {"lenders": 5, "months": 13, "loans": 2000, "seed": 1, "error_rate": 0.01}
SMALL = {"lenders": 5, "months": 4, "loans": 300, "seed": 7, "error_rate": 0.02}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> GenerateResult:
    calls: list[tuple[int, int]] = []
    result = generate(tmp_path_factory.mktemp("demo") / "out", end=END, progress=lambda d, t: calls.append((d, t)),
                      **DEMO)
    assert calls[-1][0] == calls[-1][1] == len(result.files)
    return result


def _all_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", end=END, **SMALL)
    generate(tmp_path / "b", end=END, **SMALL)
    generate(tmp_path / "c", end=END, **{**SMALL, "seed": 8})
    a, b, c = _all_bytes(tmp_path / "a"), _all_bytes(tmp_path / "b"), _all_bytes(tmp_path / "c")
    assert a == b
    assert any(p.suffix == ".xlsx" for p in first.files)
    submissions = [str(p.relative_to(first.out)) for p in first.files]
    assert all(a[name] != c[name] for name in submissions if name in c)


def test_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ExchangeError, match=r"G_ARGS.*month end"):
        generate(tmp_path / "x", end=dt.date(2025, 12, 30))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    with pytest.raises(ExchangeError, match=r"G_OUT_NOT_EMPTY"):
        generate(tmp_path / "full", end=END)


# ---- reading the files back --------------------------------------------------------------------


_CHOICES = {f.name: spec.choice_map(f) for kind in spec.KINDS.values() for f in kind.fields if f.choices}


def _choices(fld: spec.Field) -> dict[str, str]:
    return _CHOICES[fld.name]


@functools.cache
def _read(path: Path) -> list[list[str]]:
    """All rows (header first) as text, the way an ingest would see them (cached: do not change them)."""
    if path.suffix == ".xlsx":
        sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
        rows = []
        for cells in sheet.iter_rows(values_only=True):
            rows.append(["" if v is None else v.date().isoformat() if isinstance(v, dt.datetime) else str(v)
                         for v in cells])
        return rows
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        text = raw[3:].decode("utf-8")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("gb18030")
    return list(csv.reader(io.StringIO(text, newline="")))


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date(text: str) -> dt.date | None:
    if not _DATE_RE.match(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _field_errors(fld: spec.Field, value: str, row: dict[str, str], regions: dict[str, str]) -> str | None:
    """The spec's field-level checks, one code per field at most."""
    if value == "":
        return "R_REQUIRED" if fld.required else None
    if value[0] in "=+-@":
        return "R_FORMULA"
    if fld.max_length is not None and len(value) > fld.max_length:
        return "R_TOO_LONG"
    if fld.type == "enum" or fld.type == "risk_class":
        return None if value in _choices(fld) else "R_ENUM"
    if fld.type == "bool":
        return None if value in ("true", "false", "是", "否") else "R_ENUM"
    if fld.type == "date":
        return None if _date(value) else "R_DATE"
    if fld.type == "timestamp":
        return _timestamp_error(value)
    if fld.type == "decimal":
        if not re.fullmatch(rf"\d+(\.\d{{1,{fld.scale}}})?", value):
            return "R_NUMBER"
        number = float(value)
        low_ok = number > fld.minimum if fld.minimum_exclusive else number >= fld.minimum
        return None if low_ok and number <= fld.maximum else "R_RANGE"
    if fld.type == "integer":
        if not value.isdigit():
            return "R_INTEGER"
        return None if fld.minimum <= int(value) <= fld.maximum else "R_RANGE"
    if fld.type == "identifier":
        id_type = _choices(spec.LOANS.field("id_type")).get(row.get("id_type", ""))
        return check_id(id_type, normalise(id_type, value)) if id_type else None
    if fld.type == "uscc":
        return check_id("USCC", normalise("USCC", value))
    if fld.type == "phone":
        return None if check_phone(value) else "R_PHONE"
    if fld.type == "region":
        return None if value in regions else "R_REGION"
    return None


_TS_RE = re.compile(r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)(.*)")


def _timestamp_error(value: str) -> str | None:
    m = _TS_RE.fullmatch(value)
    if not m:
        return "R_TIMESTAMP"
    try:
        dt.datetime.fromisoformat(m[1].replace(" ", "T"))
    except ValueError:
        return "R_TIMESTAMP"
    return None if re.fullmatch(r"Z|[+-](0\d|1[0-4]):?[0-5]\d|[+-](0\d|1[0-4])", m[2]) else "R_TIMEZONE"


def _local_date(value: str) -> dt.date:
    text = value.replace(" ", "T").replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    elif re.search(r"[+-]\d{2}$", text):
        text += ":00"
    return dt.datetime.fromisoformat(text).astimezone(dt.timezone(dt.timedelta(hours=8))).date()


def _negative(row: dict[str, str]) -> bool:
    return (float(row["overdue_principal"]) + float(row["overdue_interest"]) > 0
            or row["account_status"] in ("overdue", "compensated", "written_off")
            or row["legal_status"] not in ("", "none") or row["fraud_flag"] == "true")


class Checker:
    """A plain, independent reading of submission spec v1, row by row, in submission order."""

    def __init__(self) -> None:
        self.regions = load_regions()
        self.known: dict[str, set[str]] = {}
        self.names: dict[str, dict[tuple[str, str], str]] = {}

    def check(self, path: Path) -> dict[int, list[str]]:
        parsed = spec.FILE_NAME_RE.match(path.name)
        assert parsed, path.name
        lender, kind = parsed["lender"], spec.KINDS[parsed["kind"]]
        file_date = dt.datetime.strptime(parsed["date"], "%Y%m%d").date()
        rows = _read(path)
        hmap = spec.header_map(kind)
        header = [hmap[spec.header_key(h)] for h in rows[0]]
        assert sorted(header) == sorted(f.name for f in kind.fields)
        fields = {f.name: f for f in kind.fields}
        known = self.known.setdefault(lender, set())
        names = self.names.setdefault(lender, {})
        seen: set[str] = set()
        found: dict[int, list[str]] = {}
        for line, cells in enumerate(rows[1:], start=2):
            if len(cells) != len(header):
                found[line] = ["R_COLUMNS"]
                continue
            row = dict(zip(header, cells, strict=True))
            for name, value in row.items():  # canonical enum values from labels
                if fields[name].choices and name != "lender_risk_class":
                    row[name] = _choices(fields[name]).get(value, value)
            if kind is spec.LOAN_STATUS:
                row["fraud_flag"] = {"是": "true", "否": "false"}.get(row["fraud_flag"], row["fraud_flag"])
            codes = [c for c in (_field_errors(fields[n], v, row, self.regions) for n, v in row.items()) if c]
            duplicate = row["loan_id"] in seen and kind is not spec.COLLECTION_ACTIONS
            seen.add(row["loan_id"])
            if not codes:
                codes = self._rules(kind, row, file_date, duplicate, known)
            if kind is spec.LOANS and not any(spec.VALIDATION_CODES[c].severity == "error" for c in codes):
                key = (row["id_type"], normalise(row["id_type"], row["id_number"]))
                first = names.setdefault(key, row["borrower_name"])
                if normalise_name(first) != normalise_name(row["borrower_name"]):
                    codes.append("W_NAME_CONFLICT")
                known.add(row["loan_id"])
            if codes:
                found[line] = codes
        return found

    @staticmethod
    def _rules(kind: spec.Kind, row: dict[str, str], file_date: dt.date, duplicate: bool,
               known: set[str]) -> list[str]:
        errors, warnings = [], []
        if duplicate:
            errors.append("R_DUPLICATE_KEY")
        if kind is spec.COLLECTION_ACTIONS:
            if _local_date(row["action_time"]) > file_date:
                errors.append("R_FUTURE_DATE")
            if row["outcome"] == "promise_to_pay" and not (row["promise_date"] and row["promise_amount"]):
                errors.append("R_PROMISE_MISSING")
            if row["loan_id"] not in known:
                errors.append("R_UNKNOWN_LOAN")
        elif kind is spec.LOANS:
            if (row["borrower_type"], row["id_type"]) not in ID_PAIRS:
                errors.append("R_ID_TYPE")
            issue, maturity = _date(row["issue_date"]), _date(row["maturity_date"])
            if issue > file_date:
                errors.append("R_FUTURE_DATE")
            if maturity < issue:
                errors.append("R_DATE_ORDER")
            if float(row["annual_rate"]) > 0.24:
                warnings.append("W_RATE_HIGH")
            if (row["product_type"] == "online_microloan" and row["borrower_type"] == "individual"
                    and float(row["principal"]) > 200000):
                warnings.append("W_PRINCIPAL_CAP")
            if row["guarantee_type"] == "guarantee" and not row["guarantor_id"]:
                warnings.append("W_GUARANTOR_MISSING")
        else:
            as_of = _date(row["as_of_date"])
            out, op, oi = (float(row[n]) for n in ("outstanding_principal", "overdue_principal", "overdue_interest"))
            if as_of != file_date:
                errors.append("R_AS_OF_MISMATCH")
            if op > out:
                errors.append("R_OVERDUE_GT_OUTSTANDING")
            if op + oi > 0 and not row["overdue_since"]:
                errors.append("R_OVERDUE_SINCE_MISSING")
            if any(row[n] and _date(row[n]) > as_of for n in ("overdue_since", "last_payment_date", "notice_date")):
                errors.append("R_DATE_ORDER")
            if (row["account_status"] == "settled" and out > 0) or (row["account_status"] == "overdue"
                                                                    and op + oi == 0):
                errors.append("R_STATUS_AMOUNTS")
            if row["loan_id"] not in known:
                errors.append("R_UNKNOWN_LOAN")
            if row["dpd_reported"] and row["overdue_since"] and \
                    int(row["dpd_reported"]) != (as_of - _date(row["overdue_since"])).days:
                warnings.append("W_DPD_MISMATCH")
            if _negative(row) and not row["notice_date"]:
                warnings.append("W_NOTICE_MISSING")
        return errors or warnings


def _truth(result: GenerateResult) -> list[dict[str, str]]:
    with result.truth.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_truth_is_exactly_what_the_spec_finds(demo: GenerateResult) -> None:
    truth = _truth(demo)
    listed = Counter((t["file"], int(t["line"])) for t in truth)
    assert max(listed.values()) == 1, "one problem per line"
    expected = {(t["file"], int(t["line"]), t["code"]) for t in truth}
    checker = Checker()
    found = set()
    for path in demo.files:
        if path == demo.duplicate:
            assert path.read_bytes() == demo.duplicate_of.read_bytes()
            continue
        for line, codes in checker.check(path).items():
            assert len(codes) == 1, (path.name, line, codes)
            found.add((path.name, line, codes[0]))
    assert found - expected == set(), "problems in the files that truth.csv does not list"
    assert expected - found == set(), "truth.csv lists problems the files do not have"


def test_truth_fields_and_causes(demo: GenerateResult) -> None:
    for t in _truth(demo):
        kind = spec.KINDS[spec.FILE_NAME_RE.match(t["file"])["kind"]]
        assert t["field"] in {f.name for f in kind.fields} or (t["field"] == "" and t["code"] == "R_COLUMNS")
        assert t["cause"] in ("injected", "natural", "consequence")
        if t["cause"] == "natural":
            assert t["code"] == "W_NOTICE_MISSING"
        if t["cause"] == "consequence":
            assert t["code"] == "R_UNKNOWN_LOAN"


def test_every_row_level_code_at_demo_scale(demo: GenerateResult) -> None:
    codes = {t["code"] for t in _truth(demo)}
    assert set(ROW_CODES) <= codes
    assert "W_COLUMN_IGNORED" not in ROW_CODES
    assert demo.injected + demo.consequences + demo.natural == len(_truth(demo))


def test_error_share_per_file_and_injection_count(demo: GenerateResult) -> None:
    truth = _truth(demo)
    errors = Counter(t["file"] for t in truth if spec.VALIDATION_CODES[t["code"]].severity == "error")
    injected = Counter(t["file"] for t in truth if t["cause"] == "injected")
    added = Counter(t["file"] for t in truth if t["cause"] == "injected"
                    and t["code"] in ("R_DUPLICATE_KEY", "R_UNKNOWN_LOAN"))  # extra rows, not changed ones
    appended = _misused_rows(demo)
    for path in demo.files:
        if path in (demo.duplicate, demo.correction):
            continue
        rows = len(_read(path)) - 1
        assert errors[path.name] <= 0.04 * rows, path.name
        counted = rows - added[path.name] - appended[path.name]
        assert injected[path.name] == max(1, round(DEMO["error_rate"] * counted)), path.name
    assert injected[demo.correction.name] == 0
    assert sum(appended.values()) > 0


def _misused_rows(result: GenerateResult) -> Counter[str]:
    """Per file, the identity_mismatch rows (signals.csv), which the generator adds after a file's
    injections so that the rest keeps its numbers: their loans rows, and their loans' status rows."""
    by_name = {path.name: path for path in result.files}
    with result.signals.open(encoding="utf-8") as fh:
        misused = [(r["file"], int(r["line"])) for r in csv.DictReader(fh) if r["signal"] == "identity_mismatch"]
    loan_ids = {_read(by_name[file])[line - 1][0] for file, line in misused}
    found = Counter(file for file, _line in misused)
    for path in result.files:
        if "_loan_status_" in path.name:
            found[path.name] = sum(1 for row in _read(path)[1:] if row[1] in loan_ids)
    return found


def test_layout_order_and_lenders(demo: GenerateResult) -> None:
    out = demo.out
    assert (out / "README.txt").read_text(encoding="utf-8")
    with (out / "lenders.csv").open(encoding="utf-8", newline="") as fh:
        lenders = list(csv.DictReader(fh))
    assert [lender["code"] for lender in lenders] == [lender.code for lender in demo.lenders]
    assert {lender["category"] for lender in lenders} == {"microloan_company", "online_microloan_company",
                                                          "financing_guarantee_company"}
    names = [p.name for p in demo.files]
    assert len(demo.files) == 3 * 5 * 13 + 2
    for path in demo.files:
        parsed = spec.FILE_NAME_RE.match(path.name)
        assert parsed and path.parent.name in (parsed["lender"], "resend")
    assert names.index(demo.correction.name) == names.index(demo.correction.name.replace("_2.", ".")) + 1
    assert demo.files.index(demo.duplicate) > demo.files.index(demo.duplicate_of)
    first_loans = [p for p in demo.files if p.name.endswith("_loans_20241231.csv")]
    for path in first_loans:  # the first month carries the existing book: issued up to 24 months before
        issue = sorted(r[13] for r in _read(path)[1:] if len(r) > 13 and _date(r[13]))
        assert issue[0] < "2023-06-01" and len(_read(path)) > 500


def test_correction_resends_the_period_with_a_few_changes(demo: GenerateResult) -> None:
    original = _read(demo.correction.with_name(demo.correction.name.replace("_2.", ".")))
    corrected = _read(demo.correction)
    ids = {r[1] for r in corrected[1:]}
    assert len(ids) == len(corrected) - 1
    by_id = {r[1]: r for r in original[1:] if len(r) == len(original[0])}
    changed = [r for r in corrected[1:] if r[1] in by_id and r != by_id[r[1]]]
    assert 3 <= len(changed) <= 0.05 * len(corrected)


def test_identities_and_realism(demo: GenerateResult) -> None:
    truth = {(t["file"], int(t["line"])) for t in _truth(demo) if t["cause"] == "injected"}
    regions = load_regions()
    lenders_of: dict[tuple[str, str], set[str]] = {}
    products, enterprise, total = Counter(), 0, 0
    for path in demo.files:
        if "_loans_" not in path.name or path == demo.duplicate:
            continue
        rows = _read(path)
        hmap = spec.header_map(spec.LOANS)
        header = [hmap[spec.header_key(h)] for h in rows[0]]
        lender = spec.FILE_NAME_RE.match(path.name)["lender"]
        for line, cells in enumerate(rows[1:], start=2):
            if (path.name, line) in truth:
                continue
            row = dict(zip(header, cells, strict=True))
            id_type = _choices(spec.LOANS.field("id_type"))[row["id_type"]]
            assert check_id(id_type, row["id_number"]) is None, row
            if id_type == "RESIDENT_ID":
                birth = dt.date(int(row["id_number"][6:10]), int(row["id_number"][10:12]), int(row["id_number"][12:14]))
                age = (dt.date.fromisoformat(row["issue_date"]) - birth).days / 365.25
                assert 20 <= age <= 66 and row["id_number"][:6] in regions
            assert row["region_code"] in regions
            assert not row["phone"] or re.fullmatch(r"1[3-9]\d{9}", row["phone"])
            lenders_of.setdefault((id_type, row["id_number"]), set()).add(lender)
            products[_choices(spec.LOANS.field("product_type"))[row["product_type"]]] += 1
            enterprise += _choices(spec.LOANS.field("borrower_type"))[row["borrower_type"]] == "enterprise"
            total += 1
    multi = sum(len(v) > 1 for v in lenders_of.values()) / len(lenders_of)
    assert 0.11 <= multi <= 0.19, multi
    assert 0.06 <= enterprise / total <= 0.14
    assert set(products) == {"online_microloan", "consumer_loan", "business_loan", "guaranteed_microloan"}


def test_portfolio_behaviour(demo: GenerateResult) -> None:
    statuses, legal, fraud, classes = Counter(), Counter(), 0, Counter()
    for path in demo.files:
        if "_loan_status_" not in path.name:
            continue
        rows = _read(path)
        hmap = spec.header_map(spec.LOAN_STATUS)
        header = [hmap[spec.header_key(h)] for h in rows[0]]
        for cells in rows[1:]:
            if len(cells) != len(header):
                continue
            row = dict(zip(header, cells, strict=True))
            statuses[_choices(spec.LOAN_STATUS.field("account_status")).get(row["account_status"])] += 1
            legal[_choices(spec.LOAN_STATUS.field("legal_status")).get(row["legal_status"], "none")] += 1
            fraud += row["fraud_flag"] in ("true", "是")
            classes[row["lender_risk_class"]] += 1
    assert {"normal", "overdue", "settled", "compensated", "written_off", "transferred", "restructured"} <= set(statuses)
    assert {"filed", "judgment", "enforcement", "dishonest"} <= set(legal)
    assert fraud > 0
    assert {"1", "2", "5", "正常", "关注", "损失"} <= set(classes)
    assert 0.01 < statuses["overdue"] / sum(statuses.values()) < 0.15


def test_encodings_and_formats(demo: GenerateResult) -> None:
    kinds = set()
    for path in demo.files:
        raw = path.read_bytes()
        if path.suffix == ".xlsx":
            kinds.add("xlsx")
            continue
        if raw.startswith(b"\xef\xbb\xbf"):
            kinds.add("utf-8-sig")
        else:
            try:
                raw.decode("utf-8")
                kinds.add("utf-8")
            except UnicodeDecodeError:
                raw.decode("gbk")
                kinds.add("gbk")
        if _read(path)[0][0] in ("合同编号", "数据日期"):
            kinds.add("chinese-header")
        kinds.add("crlf" if b"\r\n" in raw else "lf")
    assert kinds == {"xlsx", "utf-8", "utf-8-sig", "gbk", "chinese-header", "crlf", "lf"}
