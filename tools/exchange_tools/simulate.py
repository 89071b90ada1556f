"""Synthetic lenders (模拟报送机构): realistic submission files with every deliberate problem listed.

Why it exists: the exchange needs data for demos and benchmarks and, above all, a way to measure the
validator. Every problem the generator puts into the files on purpose is listed in `truth.csv`
(file, line, field, reason code, cause), so a validation run can be scored exactly: each listed
problem must be found (recall) and nothing else may be flagged (false positives). That only works
if an injected row carries exactly one problem, so each injection keeps the rest of its row valid,
and the warnings a realistic portfolio produces by itself (negative data without a notice date) are
listed as `natural`; the status rows of a rejected loans row are listed as `consequence`.

The portfolio behaves like one: a shared borrower pool (the same person borrows at several
lenders), products by lender category, a monthly roll of delinquency with cures, restructurings,
write-offs, guarantor compensation, transfers and early payoffs, a small fraud ring that stops
paying everywhere at once and ends up in court, and lenders whose files differ in encoding, header
language, enum labels, line ends and format (CSV or xlsx).

Same arguments, same bytes: all randomness comes from `random.Random` instances seeded with strings
derived from `seed` (str seeds go through SHA-512, not Python's salted hash), nothing iterates over a
set, no timestamp is written, and xlsx files carry a fixed creation date and xlsxwriter's fixed zip
entry dates. Lenders are simulated one after another, month by month, and each month's files are
written before the next month starts: memory grows with the number of loans and borrowers, never
with the rows already written.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import itertools
import math
import random
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import xlsxwriter

from exchange.core import spec
from exchange.core.errors import ExchangeError
from exchange.core.identifiers import USCC_ALPHABET, resident_id_check_char, uscc_check_char
from exchange.core.regions import load_regions

Category = Literal["microloan_company", "online_microloan_company", "financing_guarantee_company"]
ONLINE: Category = "online_microloan_company"
MICRO: Category = "microloan_company"
GUARANTEE: Category = "financing_guarantee_company"
_CATEGORY_CYCLE: tuple[Category, ...] = (ONLINE, MICRO, GUARANTEE, ONLINE, MICRO)
_CODE_PREFIX = {ONLINE: "WD", MICRO: "XD", GUARANTEE: "DB"}
_NAME_SUFFIX = {ONLINE: "网络小额贷款有限公司", MICRO: "小额贷款有限公司", GUARANTEE: "融资担保有限公司"}
# Microloan and guarantee companies are licensed by a province and lend mostly at home.
_LENDER_HOMES = (("重庆", "50"), ("杭州", "33"), ("成都", "51"), ("广州", "44"), ("南京", "32"),
                 ("武汉", "42"), ("西安", "61"), ("长沙", "43"), ("郑州", "41"), ("福州", "35"),
                 ("合肥", "34"), ("济南", "37"))
_LENDER_TRADES = ("恒信", "民丰", "安泰", "汇通", "瑞和", "金诚", "鼎盛", "永利", "信达", "嘉禾", "富源", "润华")
_HOME_SHARE = 0.85

# Population of the provinces (millions, rounded): borrowers are drawn in proportion.
_PROVINCE_WEIGHTS = {
    "11": 22, "12": 14, "13": 74, "14": 35, "15": 24, "21": 42, "22": 24, "23": 31, "31": 25, "32": 85,
    "33": 66, "34": 61, "35": 42, "36": 45, "37": 102, "41": 99, "42": 58, "43": 66, "44": 127, "45": 50,
    "46": 10, "50": 32, "51": 84, "52": 39, "53": 47, "54": 4, "61": 40, "62": 25, "63": 6, "64": 7, "65": 26,
}
# Surnames in rough order of frequency; the draw is Zipf-like over this order.
_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
             "崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
_COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官")
_GIVEN_MALE = "伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林峰建国文志海东亮成兵晨阳博凡鸿思睿子轩泽昊天哲"
_GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀英玲燕萍红梅婷雪琳晶颖慧倩洁丹莉佳欣怡悦雯璐琪瑶萱涵梦月莹蕾薇欢妍婧露彤岚媛嘉"
_TRADE_CHARS = "恒达鑫盛华泰隆兴源丰瑞祥宏昌通利嘉信诚德富安永旺茂金广博远长益和顺佳新立创汇聚鼎润晟锦辰宇航"
_INDUSTRIES = ("商贸", "贸易", "建材", "电子科技", "信息技术", "餐饮管理", "农业科技", "物流", "服装", "五金机电", "食品",
               "装饰工程", "汽车服务", "网络科技", "家具", "印刷", "包装", "机械设备", "化工", "医疗器械", "文化传媒",
               "建筑工程", "水产养殖", "酒店管理")
_MOBILE_PREFIXES = ("130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152", "153",
                    "155", "156", "157", "158", "159", "166", "170", "173", "175", "176", "177", "178", "180", "181",
                    "182", "183", "184", "185", "186", "187", "188", "189", "191", "198", "199")
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714 organisation code, the 9 characters inside a USCC

_SHARED_TARGET = 0.15      # share of borrowers with loans at two or more lenders
_SHARED_LENDERS = (2, 2, 2, 3, 3, 4)
_REPEAT = 0.08             # a new loan goes to a borrower the lender already has
_EXISTING_SHARE = 0.3      # of a lender's loans, the book it already holds at the first reporting date
_HISTORY_MONTHS = 24
_RING_SHARED, _RING_SINGLE = 0.03, 0.0065   # fraud ring: ~1 % of borrowers, mostly multi-lender ones
_NEVER = 10**9

# Monthly behaviour. Index of _CURE is the bucket 1..7 (M1..M7+), by days past due at the last report.
_CURE = (0.0, 0.58, 0.42, 0.3, 0.15, 0.1, 0.07, 0.05)
_PARTIAL = 0.12
_P_RESTRUCTURE, _P_COMPENSATE, _P_TRANSFER, _P_WRITE_OFF = 0.07, 0.3, 0.02, 0.25
_P_MISS = {ONLINE: 0.035, MICRO: 0.02, GUARANTEE: 0.018}
_P_PREPAY = {ONLINE: 0.02, MICRO: 0.01, GUARANTEE: 0.008}
_P_SUE = {ONLINE: 0.01, MICRO: 0.03, GUARANTEE: 0.04}
_P_SUE_RING = 0.35
_LEGAL_NEXT = {"filed": ("judgment", 0.3), "judgment": ("enforcement", 0.3), "enforcement": ("dishonest", 0.25)}
_LATE_NOTICE = 0.35        # chance per month that a negative episode not yet told is told now

_MAX_BAD_SHARE = 0.04      # error rows per file stay below this (the exchange rejects files above 5 %)
_PROBES = 48

_FORMULAS = ("=cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
             "=HYPERLINK(\"http://example.invalid/\")")
_BAD_MONTH_DAYS = ((2, 30), (2, 31), (4, 31), (6, 31), (9, 31), (11, 31), (13, 1), (0, 15))
_BAD_ENUMS = {  # field -> (English-style value, Chinese-style value), neither accepted by the spec
    "currency": ("RMB", "人民币"), "repayment_method": ("monthly", "按月还款"), "guarantee_type": ("guaranteed", "担保"),
    "account_status": ("active", "正常还款"), "legal_status": ("pending", "审理中"),
}

_DEFAULTS = {"currency": "CNY", "legal_status": "none", "fraud_flag": "false"}
_CI = {f.name: i for i, f in enumerate(spec.COLLECTION_ACTIONS.fields)}


@dataclass(frozen=True)
class Conduct:
    """How a lender collects (催收): most follow the self-regulation rules, some break one of them."""

    p_day: float           # chance that a delinquent loan is worked on a given day
    night: float           # share of calls placed between 22:00 and 08:00 (rule: none)
    overlap: float         # share of worked days on which an agency calls the same debtor too
    third_party: float     # share of calls aimed at emergency contacts or others (rule: re-establish contact only)
    zone: str              # how its system writes the time zone: "+08:00", "+0800" or "Z" (UTC)
    agency: str            # code of the collection agency it engages for deep arrears


_CONDUCTS = (
    Conduct(0.55, 0.0, 0.35, 0.01, "+08:00", "CS3301"),   # agency and in-house both call: > 3 connected a day
    Conduct(0.3, 0.1, 0.0, 0.01, "+0800", "CS4401"),      # calls at night
    Conduct(0.25, 0.0, 0.0, 0.0, "+08:00", "CS5101"),     # clean
    Conduct(0.3, 0.0, 0.0, 0.2, "Z", "CS3302"),           # collects from contacts and others
    Conduct(0.25, 0.0, 0.0, 0.005, "+08:00", "CS3201"),   # clean
)
_CONNECTED = ("contacted", "promise_to_pay", "refused")
_LI = {f.name: i for i, f in enumerate(spec.LOANS.fields)}
_SI = {f.name: i for i, f in enumerate(spec.LOAN_STATUS.fields)}
_NEG_STATUSES = next(c.values for c in spec.NEGATIVE.conditions
                     if isinstance(c, spec.When) and c.field == "account_status")
ROW_CODES = tuple(r.code for r in spec.VALIDATION_CODES.values()
                  if r.severity in ("error", "warning") and r.code != "W_COLUMN_IGNORED")
"""Row-level reason codes the generator covers (W_COLUMN_IGNORED is about a column, not a row)."""


@dataclass(frozen=True)
class LenderStyle:
    """How one lender's systems write files; lenders differ in practice and the ingest must cope."""

    ext: Literal["csv", "xlsx"]
    encoding: str          # Python codec for CSV files ("" for xlsx)
    line_end: str
    chinese: bool          # Chinese header names and enum labels (Field.zh, Choice.zh)
    risk_zh: bool          # five-class labels 正常/关注/... instead of 1..5
    rate_places: int       # decimals written for annual_rate
    dpd_share: float       # share of loans whose rows carry dpd_reported
    notice_rate: float     # chance that a new negative episode is told to the borrower in time
    blank_defaults: bool   # leaves currency, legal_status and fraud_flag empty at their defaults
    under_class: float     # share of loans the lender classifies one grade milder than the rules


_STYLES = (
    LenderStyle("csv", "utf-8", "\n", False, False, 6, 1.0, 0.93, False, 0.04),
    LenderStyle("csv", "utf-8-sig", "\r\n", False, True, 4, 0.9, 0.85, True, 0.12),
    LenderStyle("csv", "gbk", "\r\n", True, True, 4, 0.97, 0.9, False, 0.08),
    LenderStyle("xlsx", "", "", False, False, 6, 1.0, 0.9, False, 0.05),
    LenderStyle("csv", "utf-8", "\r\n", False, False, 4, 0.95, 0.8, True, 0.1),
)


@dataclass(frozen=True)
class Lender:
    """A participating lender as registered with the exchange, plus how its files look."""

    code: str
    name_zh: str
    category: Category
    uscc: str
    home_province: str
    style: LenderStyle


@dataclass
class GenerateResult:
    """What was written. `files` is the order in which the files are to be submitted."""

    out: Path
    lenders: list[Lender]
    files: list[Path]
    correction: Path              # the `_2` re-send of one loan_status period
    duplicate: Path               # byte-identical re-send (under <lender>/resend/), expected F_DUPLICATE
    duplicate_of: Path
    truth: Path
    rows: int                     # data rows in the submitted files, the duplicate not counted
    injected: int                 # truth rows by cause
    consequences: int
    natural: int
    codes: dict[str, int]         # truth rows per reason code


# ---- small helpers ------------------------------------------------------------------------------

_iso = functools.cache(dt.date.isoformat)


def _ds(d: dt.date | None) -> str:
    return "" if d is None else _iso(d)


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _cents(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int(frac or 0)


def _month_end(year: int, month: int) -> dt.date:
    y, m = divmod(year * 12 + month, 12)  # the first of the next month, minus a day
    return dt.date(y, m + 1, 1) - dt.timedelta(days=1)


def _shift_month_end(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    return _month_end(y, m + 1)


def _rate_text(rate: int, places: int) -> str:
    """`rate` is in millionths; lenders write 4 or 6 decimals (rates are drawn on a 0.0001 grid)."""
    text = f"{rate // 1_000_000}.{rate % 1_000_000:06d}"
    return text[: len(text) - (6 - places)]


def _log_amount(rng: random.Random, lo: int, hi: int, step: int) -> int:
    """A loan amount in cents: log-uniform between lo and hi yuan, rounded to `step` yuan."""
    yuan = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    return max(lo, min(hi, round(yuan / step) * step)) * 100


def _bad_date(rng: random.Random, year: int) -> str:
    month, day = rng.choice(_BAD_MONTH_DAYS)
    return f"{year}-{month:02d}-{day:02d}"


# ---- identities ---------------------------------------------------------------------------------


class Borrower:
    """One person or company, with the identity every lender reports for it."""

    __slots__ = ("uid", "btype", "id_type", "id_number", "name", "phone", "region", "bust")

    def __init__(self, uid: int, btype: str, id_type: str, id_number: str, name: str, phone: str, region: str):
        self.uid = uid
        self.btype = btype
        self.id_type = id_type
        self.id_number = id_number
        self.name = name
        self.phone = phone
        self.region = region
        self.bust = _NEVER  # month index from which a fraud-ring member stops paying


class _Identities:
    """Draws valid, unique identities: GB 11643 resident IDs, GB 32100 USCCs, passports, names, phones."""

    def __init__(self, regions: dict[str, str], oldest: dt.date, youngest: dt.date):
        self.by_province: dict[str, list[str]] = {}
        for code in regions:
            self.by_province.setdefault(code[:2], []).append(code)
        self.provinces = [p for p in _PROVINCE_WEIGHTS if p in self.by_province]
        self.province_cum = list(itertools.accumulate(_PROVINCE_WEIGHTS[p] for p in self.provinces))
        # Company names start with their county's short name (朝阳区 -> 朝阳); long autonomous names are skipped.
        self.company_places: dict[str, list[tuple[str, str]]] = {}
        for code, name in regions.items():
            if len(name) <= 4 and name[-1] in "区县市旗":
                place = name[:-1] if len(name) >= 3 else name
                self.company_places.setdefault(code[:2], []).append((code, place))
        self.surname_cum = list(itertools.accumulate(1.0 / (rank + 8) for rank in range(len(_SURNAMES))))
        self.birth_lo, self.birth_hi = oldest.toordinal(), youngest.toordinal()
        self.seen: set[str] = set()
        self.next_uid = 0

    def province(self, rng: random.Random, home: str | None) -> str:
        if home is not None and rng.random() < _HOME_SHARE:
            return home
        return rng.choices(self.provinces, cum_weights=self.province_cum)[0]

    def county(self, rng: random.Random, province: str) -> str:
        return rng.choice(self.by_province[province])

    def person_name(self, rng: random.Random, male: bool) -> str:
        if rng.random() < 0.003:
            surname = rng.choice(_COMPOUND_SURNAMES)
        else:
            surname = rng.choices(_SURNAMES, cum_weights=self.surname_cum)[0]
        pool = _GIVEN_MALE if male else _GIVEN_FEMALE
        return surname + "".join(rng.choice(pool) for _ in range(2 if rng.random() < 0.65 else 1))

    def phone(self, rng: random.Random) -> str:
        return rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"

    def uscc(self, rng: random.Random, entity: str, region: str) -> str:
        """`entity` is the GB 32100 second character: 1 company, 2 individual business (个体工商户)."""
        if rng.random() < 0.6:
            body = "MA" + "".join(rng.choice(USCC_ALPHABET) for _ in range(6))
        else:
            body = f"{rng.randrange(10**8):08d}"
        total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body, _ORG_CODE_WEIGHTS, strict=True))
        org_check = {10: "X", 11: "0"}.get(11 - total % 11, str(11 - total % 11))
        first17 = "9" + entity + region + body + org_check
        return first17 + uscc_check_char(first17)

    def _unique(self, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in self.seen:
                self.seen.add(value)
                return value

    def _resident_id(self, rng: random.Random, region: str, male: bool) -> str:
        birth = dt.date.fromordinal(rng.randint(self.birth_lo, self.birth_hi))
        seq = rng.randrange(100) * 10 + rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
        first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
        return first17 + resident_id_check_char(first17)

    def borrower(self, rng: random.Random, enterprise: bool, home: str | None) -> Borrower:
        province = self.province(rng, home)
        self.next_uid += 1
        if enterprise:
            region, place = rng.choice(self.company_places[province])
            trade = "".join(rng.sample(_TRADE_CHARS, 2))
            suffix = "有限公司" if rng.random() < 0.85 else "有限责任公司"
            name = place + trade + rng.choice(_INDUSTRIES) + suffix
            number = self._unique(lambda: self.uscc(rng, "1", region))
            phone = self.phone(rng) if rng.random() < 0.7 else ""
            return Borrower(self.next_uid, "enterprise", "USCC", number, name, phone, region)
        region = self.county(rng, province)
        male = rng.random() < 0.58
        name = self.person_name(rng, male)
        if rng.random() < 0.02:
            id_type, number = "PASSPORT", self._unique(lambda: f"E{rng.randrange(10**8):08d}")
        else:
            birthplace = region if rng.random() < 0.6 else self.county(rng, self.province(rng, None))
            id_type, number = "RESIDENT_ID", self._unique(lambda: self._resident_id(rng, birthplace, male))
        phone = self.phone(rng) if rng.random() < 0.9 else ""
        return Borrower(self.next_uid, "individual", id_type, number, name, phone, region)


def _name_variant(rng: random.Random, borrower: Borrower) -> str:
    """The same borrower under a slightly different name, as a second loan clerk might type it."""
    if borrower.btype == "enterprise":
        name = borrower.name
        return name.replace("有限责任公司", "有限公司") if name.endswith("有限责任公司") else name[:-4] + "有限责任公司"
    pool = _GIVEN_MALE + _GIVEN_FEMALE
    last = borrower.name[-1]
    return borrower.name[:-1] + rng.choice([c for c in pool if c != last])


# ---- loans and their monthly life ---------------------------------------------------------------

_ACTIVE, _WRITTEN_OFF, _ENDED = 0, 1, 2


class Loan:
    """A loan's contract terms and its repayment state, advanced one month end at a time."""

    __slots__ = ("lid", "borrower", "product", "gtype", "guarantor", "principal", "rate", "issue", "maturity",
                 "method", "n", "period", "consent", "p_miss", "mild", "dpd_blank", "fraud_at",
                 "s_y", "s_m", "day", "s_p", "s_n", "s_method", "paid", "seen", "since", "state", "restr",
                 "frozen", "notice", "prev_neg", "legal", "legal_m", "lp_date", "lp_amt")

    def __init__(self, borrower: Borrower, terms: tuple[str, str, str, int, int, int, int, str], issue: dt.date):
        self.borrower = borrower
        self.product, self.gtype, self.guarantor, self.principal, self.rate, self.n, self.period, self.method = terms
        self.issue = issue
        self.s_y, self.s_m, self.day = issue.year, issue.month, min(issue.day, 28)
        self.s_p, self.s_n, self.s_method = self.principal, self.n, self.method
        self.maturity = self.due_date(self.n)
        self.lid = self.consent = ""
        self.paid = self.seen = 0
        self.since: dt.date | None = None
        self.state, self.restr, self.frozen = _ACTIVE, False, (0, 0, 0)
        self.notice: dt.date | None = None
        self.prev_neg = False
        self.legal, self.legal_m = "none", 0
        self.lp_date: dt.date | None = None
        self.lp_amt: int | None = None

    def set_principal(self, cents: int) -> None:
        self.principal = self.s_p = cents

    def due_date(self, k: int) -> dt.date:
        y, m = divmod(self.s_y * 12 + self.s_m - 1 + k * self.period, 12)
        return dt.date(y, m + 1, self.day)

    def due_count(self, t: dt.date) -> int:
        """Installments of the current schedule that fell due on or before `t`."""
        months = (t.year - self.s_y) * 12 + t.month - self.s_m - (t.day < self.day)
        return min(max(months, 0) // self.period, self.s_n)

    def balance(self, k: int) -> int:
        """Principal outstanding (cents) after the first k installments of the current schedule."""
        if k <= 0:
            return self.s_p
        if k >= self.s_n:
            return 0
        if self.s_method == "equal_installment":
            g = 1 + self.rate * self.period / 12e6
            return round(self.s_p * (g**self.s_n - g**k) / (g**self.s_n - 1))
        if self.s_method == "equal_principal":
            return round(self.s_p * (self.s_n - k) / self.s_n)
        return self.s_p  # interest_first and bullet repay the principal with the last installment

    def interest(self, k: int) -> int:
        return round(self.balance(k - 1) * self.rate * self.period / 12e6)

    def installment(self, k: int) -> int:
        return self.balance(k - 1) - self.balance(k) + self.interest(k)


def _terms(rng: random.Random, lender: Lender, enterprise: bool,
           guarantors: list[str]) -> tuple[str, str, str, int, int, int, int, str]:
    """(product, guarantee type, guarantor, principal cents, rate millionths, installments, period, method)."""
    period, guarantor = 1, ""
    if lender.category == ONLINE:
        product = "online_microloan" if enterprise or rng.random() < 0.9 else "consumer_loan"
        principal = _log_amount(rng, 10_000, 100_000, 1000) if enterprise else _log_amount(rng, 1000, 50_000, 100)
        rate = rng.randint(1000, 2400) * 100
        method = rng.choices(("equal_installment", "equal_principal", "interest_first"), (80, 15, 5))[0]
        n = rng.choice((3, 6, 6, 9, 12, 12, 12, 18, 24))
        gtype = "credit"
    elif lender.category == MICRO:
        if enterprise or rng.random() < 0.5:
            product = "business_loan"
            principal = _log_amount(rng, 50_000 if enterprise else 20_000, 500_000, 1000)
            rate = rng.randint(800, 2000) * 100
            method = rng.choices(("interest_first", "equal_installment", "equal_principal", "bullet"), (40, 30, 20, 10))[0]
            gtype = rng.choices(("credit", "guarantee", "mortgage", "pledge"), (40, 25, 20, 15))[0]
        else:
            product = "consumer_loan"
            principal = _log_amount(rng, 20_000, 200_000, 1000)
            rate = rng.randint(1000, 2400) * 100
            method = rng.choices(("equal_installment", "equal_principal"), (85, 15))[0]
            gtype = rng.choices(("credit", "guarantee"), (80, 20))[0]
        if method == "bullet":
            n, period = 1, rng.choice((3, 6, 12))
        else:
            n = rng.choice((6, 12, 12, 24, 36))
        if gtype == "guarantee":
            guarantor = rng.choice(guarantors)
    else:
        product, gtype, guarantor = "guaranteed_microloan", "guarantee", lender.uscc
        principal = _log_amount(rng, 100_000, 1_000_000, 1000) if enterprise else _log_amount(rng, 30_000, 300_000, 1000)
        rate = rng.randint(600, 1500) * 100
        method = rng.choices(("equal_installment", "interest_first", "equal_principal"), (50, 30, 20))[0]
        n = rng.choice((6, 12, 12, 24, 36))
    return product, gtype, guarantor, principal, rate, n, period, method


# ---- one file being assembled -------------------------------------------------------------------

Note = tuple[str, str, str]  # (field, code, cause)


class _File:
    """One submission file: canonical rows, truth notes, extra rows, and what injections have used."""

    def __init__(self, kind: spec.Kind, name: str, as_of: dt.date, rows: list[list[str]], loans: list[Loan],
                 lo: int, hi: int):
        self.kind, self.name, self.as_of = kind, name, as_of
        self.rows, self.loans = rows, loans
        self.lo, self.hi = lo, hi                     # rows [lo, hi) may receive injections
        self.notes: dict[int, Note] = {}
        self.extras: dict[int, list[tuple[list[str], Note]]] = {}  # rows written after row i
        self.taken: set[int] = set()
        self.pools: dict[str, list[int]] = {}
        self.rejected: list[Loan] = []
        self.errors = 0

    def note(self, i: int, field: str, code: str, cause: str = "injected") -> None:
        self.notes[i] = (field, code, cause)
        self.taken.add(i)

    def extra(self, after: int, row: list[str], field: str, code: str) -> None:
        self.extras.setdefault(after, []).append((row, (field, code, "injected")))


def _negative(row: list[str]) -> bool:
    """spec.NEGATIVE on a canonical status row: what must be told to the borrower first."""
    return (row[4] != "0.00" or row[5] != "0.00" or row[2] in _NEG_STATUSES
            or row[12] not in ("none", "") or row[13] == "true")


def _plain_status(row: list[str]) -> bool:
    """A performing row: normal and nothing negative, so changing one value cannot raise a second code."""
    return row[2] == "normal" and not _negative(row)


def _noticed_overdue(row: list[str]) -> bool:
    return row[2] == "overdue" and row[11] != "" and row[6] != ""


# ---- the lender run -----------------------------------------------------------------------------


class _Run:
    """Everything shared across lenders: arguments, borrower pool, truth, injection balance, file order."""

    def __init__(self, out: Path, lenders: int, months: int, loans: int, seed: int, error_rate: float,
                 end: dt.date):
        self.out, self.months, self.loans, self.seed, self.error_rate = out, months, loans, seed, error_rate
        self.dates = [_shift_month_end(end, k - months + 1) for k in range(months)]
        self.history = [_shift_month_end(self.dates[0], k - _HISTORY_MONTHS) for k in range(_HISTORY_MONTHS)]
        self.regions = load_regions()
        oldest = dt.date(end.year - 62, end.month, 1)
        youngest_at = self.history[0]
        self.ids = _Identities(self.regions, oldest, dt.date(youngest_at.year - 20, youngest_at.month, 1))
        rng = random.Random(f"{seed}:pool")
        self.lenders = [self._lender(i, rng) for i in range(lenders)]
        self.guarantors = [self.ids.uscc(rng, "1", self.ids.county(rng, self.ids.province(rng, None)))
                           for _ in range(20)]
        self.shared: list[list[Borrower]] = [[] for _ in range(lenders)]
        self.ring_month = max(1, months // 2 - 1)  # the fraud ring stops paying about half way
        if lenders > 1:
            mean_lenders = sum(min(k, lenders) for k in _SHARED_LENDERS) / len(_SHARED_LENDERS)
            singles_per_shared = (1 - _SHARED_TARGET) / _SHARED_TARGET
            count = round(loans * lenders / (singles_per_shared * (1 + _REPEAT) + mean_lenders))
            for _ in range(count):
                borrower = self.ids.borrower(rng, rng.random() < 0.05, None)
                if rng.random() < _RING_SHARED:
                    borrower.bust = self.ring_month + rng.randint(0, 1)
                for li in rng.sample(range(lenders), min(rng.choice(_SHARED_LENDERS), lenders)):
                    self.shared[li].append(borrower)
        self.code_use = dict.fromkeys(ROW_CODES, 0)
        self.truth: dict[str, list[tuple[int, str, str, str]]] = {}
        self.groups: dict[tuple[int, int], list[Path]] = {}  # (month, lender) -> files in order
        self.rows = 0
        self.correction_at = (2 % lenders, months // 2)
        self.duplicate_at = (1 % lenders, min(1, months - 1))

    def _lender(self, i: int, rng: random.Random) -> Lender:
        category = _CATEGORY_CYCLE[i % len(_CATEGORY_CYCLE)]
        place, province = _LENDER_HOMES[i % len(_LENDER_HOMES)]
        trade = _LENDER_TRADES[i % len(_LENDER_TRADES)]
        code = f"{_CODE_PREFIX[category]}{i + 1:02d}"
        uscc = self.ids.uscc(rng, "1", self.ids.county(rng, province))
        return Lender(code, place + trade + _NAME_SUFFIX[category], category, uscc, province,
                      _STYLES[i % len(_STYLES)])


class _LenderRun:
    """Simulates one lender month by month and writes its files."""

    def __init__(self, run: _Run, index: int):
        self.run, self.index = run, index
        self.lender = lender = run.lenders[index]
        self.style = lender.style
        self.rng = random.Random(f"{run.seed}:sim:{lender.code}")
        self.irng = random.Random(f"{run.seed}:inject:{lender.code}")
        self.enterprise_share = {ONLINE: 0.04, MICRO: 0.16, GUARANTEE: 0.12}[lender.category]
        self.home = None if lender.category == ONLINE else lender.home_province
        self.p_miss, self.p_prepay, self.p_sue = (_P_MISS[lender.category], _P_PREPAY[lender.category],
                                                  _P_SUE[lender.category])
        total = run.loans
        self.existing = round(total * _EXISTING_SHARE)
        self.new_counts = self._month_counts(total - self.existing)
        shared = run.shared[index][:total]
        self.slot_borrower = dict(zip(self.rng.sample(range(total), len(shared)), shared, strict=True))
        self.next_slot = 0
        self.here: list[Borrower] = []          # borrowers with a loan here, for repeat loans
        self.here_uids: set[int] = set()
        self.loaded: list[Borrower] = []        # borrowers with an accepted loans row in an earlier month
        self.loaded_uids: set[int] = set()
        self.blocked: set[int] = set()          # borrowers given a second name here (W_NAME_CONFLICT)
        self.pending: list[Loan] = []           # rejected loans the lender re-sends next month
        self.seq: dict[str, int] = {}
        self.conv_loans = self._conversions(spec.LOANS)
        self.conv_status = self._conversions(spec.LOAN_STATUS)
        self.conv_actions = self._conversions(spec.COLLECTION_ACTIONS)
        self.conduct = _CONDUCTS[index % len(_CONDUCTS)]
        self.crng = random.Random(f"{run.seed}:collect:{lender.code}")

    # -- portfolio ---------------------------------------------------------------------------------

    def _month_counts(self, total: int) -> list[int]:
        """New loans per month: a growing book with noise, every month at least one."""
        months = self.run.months
        weights = [1 + 0.02 * m + self.rng.uniform(-0.1, 0.1) for m in range(months)]
        scale = (total - months) / sum(weights)
        counts = [1 + math.floor(w * scale) for w in weights]
        order = sorted(range(months), key=lambda m: -(weights[m] * scale % 1))
        for m in order[: total - sum(counts)]:
            counts[m] += 1
        return counts

    def _borrower(self, slot: int) -> Borrower:
        borrower = self.slot_borrower.get(slot)
        if borrower is None or borrower.uid in self.blocked:
            borrower = None
            if self.here and self.rng.random() < _REPEAT:
                pick = self.rng.choice(self.here)
                borrower = None if pick.uid in self.blocked else pick
            if borrower is None:
                borrower = self.run.ids.borrower(self.rng, self.rng.random() < self.enterprise_share, self.home)
                if self.rng.random() < _RING_SINGLE:
                    borrower.bust = self.run.ring_month + self.rng.randint(0, 1)
        if borrower.uid not in self.here_uids:
            self.here_uids.add(borrower.uid)
            self.here.append(borrower)
        return borrower

    def _loan(self, borrower: Borrower, issue: dt.date | None) -> Loan:
        """A new loan; with `issue` None it is part of the existing book (issued within the last 24 months)."""
        terms = _terms(self.rng, self.lender, borrower.btype == "enterprise", self.run.guarantors)
        if issue is None:
            term_months = terms[5] * terms[6]
            back = self.rng.randint(1, max(1, min(_HISTORY_MONTHS, term_months - 1)))
            month_end = self.run.history[-back]
            issue = month_end - dt.timedelta(days=self.rng.randrange(month_end.day))
        loan = Loan(borrower, terms, issue)
        loan.p_miss = min(0.3, self.p_miss * self.rng.lognormvariate(0, 0.5))
        loan.mild = self.rng.random() < self.style.under_class
        loan.dpd_blank = self.rng.random() >= self.style.dpd_share
        loan.fraud_at = _NEVER
        if borrower.bust < _NEVER and self.rng.random() < 0.5:
            loan.fraud_at = borrower.bust + 2 + self.rng.randint(0, 2)
        return loan

    def _number(self, loans: list[Loan]) -> None:
        """Contract numbers and consent references in issue order: {lender}{YYYYMM}{seq}."""
        for loan in sorted(loans, key=lambda ln: ln.issue):
            month = f"{loan.issue:%Y%m}"
            seq = self.seq.get(month, 0) + 1
            self.seq[month] = seq
            loan.lid = f"{self.lender.code}{month}{seq:06d}"
            loan.consent = f"SQ{loan.issue:%Y%m%d}{self.lender.code}{seq:06d}"

    def unknown_id(self, as_of: dt.date) -> str:
        """A contract number in this lender's format that no loans row ever carries."""
        month = f"{as_of:%Y%m}"
        seq = self.seq.get(month, 0) + 1
        self.seq[month] = seq
        return f"{self.lender.code}{month}{seq:06d}"

    def _existing_book(self) -> list[Loan]:
        """Loans issued before the first reporting date and still on the books then, with their history."""
        book = []
        history = self.run.history
        for _ in range(self.existing):
            borrower = self._borrower(self.next_slot)
            self.next_slot += 1
            for attempt in range(10):
                loan = self._loan(borrower, None if attempt < 9 else history[-1])
                prev = _shift_month_end(history[0], -1)
                for mi, t in enumerate(history, start=-len(history)):
                    if t >= loan.issue and loan.state != _ENDED:
                        self._advance(loan, t, prev, mi, False)
                    prev = t
                if loan.state != _ENDED:
                    break
            book.append(loan)
        book.sort(key=lambda ln: ln.issue)
        self._number(book)
        return book

    def _issue(self, mi: int, t: dt.date) -> list[Loan]:
        prev = _shift_month_end(t, -1)
        loans = []
        for _ in range(self.new_counts[mi]):
            borrower = self._borrower(self.next_slot)
            self.next_slot += 1
            loans.append(self._loan(borrower, prev + dt.timedelta(days=self.rng.randint(1, t.day))))
        loans.sort(key=lambda ln: ln.issue)
        self._number(loans)
        return loans

    # -- one month of one loan ---------------------------------------------------------------------

    def _pay(self, loan: Loan, upto: int, day: dt.date) -> None:
        loan.lp_amt = sum(loan.installment(k) for k in range(loan.paid + 1, upto + 1))
        loan.lp_date = day
        loan.paid = upto

    def _day_after(self, start: dt.date, t: dt.date) -> dt.date:
        """A day in (start, t]."""
        return start + dt.timedelta(days=self.rng.randint(1, max(1, (t - start).days)))

    def _legal(self, loan: Loan, mi: int, dpd: int, ring: bool) -> None:
        """Lawsuits on deep delinquency: filed -> judgment -> enforcement -> dishonest (失信被执行人)."""
        if loan.legal == "none":
            p = _P_SUE_RING if ring and dpd > 60 else (self.p_sue if dpd > 90 else 0.0)
            if p and self.rng.random() < p:
                loan.legal, loan.legal_m = "filed", mi
        elif loan.legal in _LEGAL_NEXT and mi - loan.legal_m >= 2:
            nxt, p = _LEGAL_NEXT[loan.legal]
            if self.rng.random() < (p * 1.5 if ring else p):
                loan.legal, loan.legal_m = nxt, mi

    def _risk(self, loan: Loan, status: str, dpd: int, fraud: bool) -> int:
        """The lender's own five-class grade: the rule-set floor, sometimes one grade milder."""
        if status == "written_off":
            return 5
        if loan.borrower.btype == "individual":
            grade = 1 if dpd == 0 else 2 if dpd <= 90 else 3 if dpd <= 120 else 4 if dpd <= 180 else 5
        else:
            grade = 1 if dpd == 0 else 2 if dpd <= 90 else 3 if dpd <= 270 else 4 if dpd <= 360 else 5
        if loan.restr:
            grade = max(grade, 2)
        if fraud or loan.legal == "dishonest":
            grade = max(grade, 3)
        return grade - 1 if loan.mild and grade > 1 else grade

    def _advance(self, loan: Loan, t: dt.date, prev: dt.date, mi: int, render: bool) -> list[str] | None:
        """Move the loan to month end `t`; return its canonical loan_status row when `render`."""
        rng = self.rng
        ring = loan.borrower.bust <= mi
        event = ""
        if loan.state == _WRITTEN_OFF:
            status = "written_off"
            dpd = (t - loan.since).days
            self._legal(loan, mi, dpd, ring)
            out, op, oi = loan.frozen
        else:
            due = loan.due_count(t)
            missed_before = loan.seen - loan.paid
            if ring:
                pass
            elif missed_before == 0:
                if loan.issue <= prev and loan.paid < loan.s_n and rng.random() < self.p_prepay:
                    event = "settled"
                    loan.lp_date = self._day_after(max(prev, loan.issue), t)
                    loan.lp_amt = loan.balance(loan.paid) + loan.interest(loan.paid + 1) // 2
                    loan.paid = due = loan.s_n
                elif due > loan.seen and rng.random() >= loan.p_miss:
                    self._pay(loan, due, loan.due_date(due) - dt.timedelta(days=rng.randint(0, 3)))
            else:
                bucket = min(7, ((prev - loan.since).days - 1) // 30 + 1)
                u = rng.random()
                if u < _CURE[bucket]:
                    self._pay(loan, due, self._day_after(prev, t))
                elif u < _CURE[bucket] + _PARTIAL and loan.paid < due:
                    self._pay(loan, loan.paid + 1, self._day_after(prev, t))
                else:
                    v = rng.random()
                    if bucket in (2, 3) and not loan.restr and v < _P_RESTRUCTURE:
                        loan.restr = True
                        loan.s_p, loan.s_n, loan.s_method = loan.balance(loan.paid), rng.choice((12, 18, 24)), \
                            "equal_installment"
                        loan.s_y, loan.s_m, loan.period = t.year, t.month, 1
                        loan.paid = due = 0
                    elif loan.guarantor and bucket >= 3 and v < _P_COMPENSATE:
                        event = "compensated"
                    elif bucket >= 4 and v < _P_TRANSFER:
                        event = "transferred"
            missed = due - loan.paid
            out = loan.balance(loan.paid)
            if missed > 0:
                loan.since = loan.due_date(loan.paid + 1)
                dpd = (t - loan.since).days
                op = out - loan.balance(due)
                oi = (sum(loan.interest(k) for k in range(loan.paid + 1, due + 1))
                      + round(op * loan.rate * dpd / 730e6))
                status = "overdue"
                if not event and dpd > 180 and (dpd > 360 or rng.random() < _P_WRITE_OFF):
                    # written off: the whole balance is called in (accelerated) and stops accruing
                    op = out
                    status, loan.state, loan.frozen = "written_off", _WRITTEN_OFF, (out, op, oi)
                self._legal(loan, mi, dpd, ring)
            else:
                loan.since, dpd, op, oi = None, 0, 0, 0
                status = "restructured" if loan.restr else "normal"
                if loan.paid >= loan.s_n:
                    event = event or "settled"
            loan.seen = due
        fraud = mi >= loan.fraud_at
        risk = 1 if event == "settled" else self._risk(loan, status, dpd, fraud)
        dpd_text = "" if loan.dpd_blank else str(dpd)
        if event:
            loan.state = _ENDED
            if event == "compensated":
                loan.lp_date, loan.lp_amt = self._day_after(prev, t), out + oi
            status, out, op, oi, loan.since = event, 0, 0, 0, None
            dpd_text = "" if event != "settled" or loan.dpd_blank else "0"
        negative = op + oi > 0 or status in _NEG_STATUSES or loan.legal != "none" or fraud
        if not negative:
            loan.notice = None
        elif loan.notice is None and rng.random() < (_LATE_NOTICE if loan.prev_neg else self.style.notice_rate):
            # told a few days after the first missed due date, or (late, or not about arrears) this month
            if loan.since and not loan.prev_neg:
                loan.notice = min(t, loan.since + dt.timedelta(days=rng.randint(1, 10)))
            else:
                loan.notice = t - dt.timedelta(days=rng.randint(0, 10))
                if loan.since:
                    loan.notice = max(loan.notice, loan.since)
        loan.prev_neg = negative
        if not render:
            return None
        return [_iso(t), loan.lid, status, _money(out), _money(op), _money(oi), _ds(loan.since), dpd_text,
                _ds(loan.lp_date), "" if loan.lp_amt is None else _money(loan.lp_amt), str(risk), _ds(loan.notice),
                loan.legal, "true" if fraud else "false"]

    def loan_row(self, loan: Loan) -> list[str]:
        b = loan.borrower
        return [loan.lid, b.btype, b.id_type, b.id_number, b.name, b.phone, b.region, loan.product, loan.gtype,
                loan.guarantor, _money(loan.principal), "CNY", _rate_text(loan.rate, self.style.rate_places),
                _iso(loan.issue), _iso(loan.maturity), loan.method, str(loan.n), loan.consent]

    # -- the months --------------------------------------------------------------------------------

    def simulate(self, progress: Callable[[], None]) -> None:
        """Each month: issue loans, write the loans file, advance every loan, write the status file."""
        run = self.run
        active: list[Loan] = []
        last = run.months - 1
        for mi, t in enumerate(run.dates):
            prev = _shift_month_end(t, -1)
            objs: list[Loan] = []
            if mi == 0:
                active = self._existing_book()
                objs.extend(active)
            new = self._issue(mi, t)
            lo = len(objs)
            objs.extend(new)
            hi = len(objs)
            objs.extend(self.pending)
            rows = [self.loan_row(loan) for loan in objs]
            loans_file = _File(spec.LOANS, self._name("loans", t), t, rows, objs, lo, hi)
            errors_ok = mi != last and (self.index, mi) != run.correction_at
            self._inject(loans_file, mi, errors_ok)
            active.extend(new)

            status_loans = active
            overdue_before = [loan.since is not None and loan.state == _ACTIVE for loan in status_loans]
            status_rows = [self._advance(loan, t, prev, mi, True) for loan in status_loans]
            active = [loan for loan in status_loans if loan.state != _ENDED]  # settled etc. are reported once
            status_file = _File(spec.LOAN_STATUS, self._name("loan_status", t), t, status_rows, status_loans,
                                0, len(status_rows))
            rejected = {id(loan) for loan in loans_file.rejected}
            for i, loan in enumerate(status_loans):
                if id(loan) in rejected:
                    status_file.note(i, "loan_id", "R_UNKNOWN_LOAN", "consequence")
                    status_file.errors += 1
            correction = None
            if (self.index, mi) == run.correction_at:
                correction = _File(spec.LOAN_STATUS, self._name("loan_status", t, 2), t,
                                   [row[:] for row in status_rows], status_loans, 0, 0)
                self._silent_mistakes(status_file, prev)
            self._inject(status_file, mi, True)

            rejected_ids = {id(loan) for loan in loans_file.rejected}
            action_rows, action_loans = self._collect(status_loans, status_rows, overdue_before, rejected_ids, t, prev)
            actions_file = _File(spec.COLLECTION_ACTIONS, self._name("collection_actions", t), t, action_rows,
                                 action_loans, 0, len(action_rows))
            self._inject(actions_file, mi, True)
            files = [loans_file, status_file] + ([correction] if correction else []) + ([actions_file] if action_rows else [])
            group = run.groups.setdefault((mi, self.index), [])
            for f in files:
                group.append(self._write(f))
                progress()
            self._after_month(loans_file)

    def _collect(self, loans: list[Loan], rows: list[list[str]], overdue_before: list[bool], rejected: set[int],
                 t: dt.date, prev: dt.date) -> tuple[list[list[str]], list[Loan]]:
        """This month's collection actions on every loan that was delinquent during it (催收记录).

        Calls are attempts, most unanswered; a contacted debtor may promise to pay, and a loan that
        pays this month was usually promised a few days before. The lender's Conduct decides how
        often it calls, and whether it calls at night, lets an agency call on top of its own calls,
        or turns to the debtor's contacts.
        """
        rng, c = self.crng, self.conduct
        out: list[tuple[str, str, list[str], Loan]] = []
        for loan, row, before in zip(loans, rows, overdue_before, strict=True):
            if id(loan) in rejected or row[2] == "written_off" or not (before or row[2] == "overdue"):
                continue
            start = prev + dt.timedelta(days=1)
            if not before:
                start = max(start, (loan.since or t) + dt.timedelta(days=1))
            paid = loan.lp_date if loan.lp_date is not None and prev < loan.lp_date <= t else None
            end = paid if paid is not None and row[2] != "overdue" else t
            dpd_at_start = (start - loan.since).days if loan.since else 1
            day = start
            while day <= end:
                if rng.random() < c.p_day or day == paid:
                    late = dpd_at_start + (day - start).days > 60
                    actors = ["in_house"] + ([c.agency] if late and rng.random() < c.overlap else [])
                    for actor in actors:
                        for action in self._day_actions(loan, day, actor, paid):
                            out.append((action[1], loan.lid, action, loan))
                day += dt.timedelta(days=1)
        out.sort(key=lambda a: (a[0], a[1]))
        return [a[2] for a in out], [a[3] for a in out]

    def _day_actions(self, loan: Loan, day: dt.date, actor: str, paid: dt.date | None) -> list[list[str]]:
        rng, c = self.crng, self.conduct
        actions = []
        if actor == "in_house" and rng.random() < 0.3:
            actions.append(self._action(loan, day, "sms", actor, "borrower", "contacted", self._hour(False)))
        calls = rng.choice((1, 1, 2, 3)) if actor == "in_house" else rng.choice((2, 3))
        hours = sorted(self._hour(rng.random() < c.night) for _ in range(calls))
        for hour in hours:
            party = "borrower"
            u = rng.random()
            if u < c.third_party:
                party = "emergency_contact" if rng.random() < 0.7 else "other"
            elif loan.gtype == "guarantee" and u < c.third_party + 0.05:
                party = "guarantor"
            if paid == day and party == "borrower" and actor == "in_house":
                outcome = "paid"
            elif rng.random() < (0.45 if actor == "in_house" else 0.3):
                outcome = "no_answer"
            else:
                outcome = rng.choices(_CONNECTED, (50, 30, 20))[0]
            promise = ("", "")
            if outcome == "promise_to_pay":
                if paid is not None and day < paid:
                    when = paid + dt.timedelta(days=rng.randint(0, 2))
                    amount = loan.lp_amt or 100_00
                else:
                    when = day + dt.timedelta(days=rng.randint(3, 10))
                    amount = max(100_00, loan.installment(max(1, loan.paid + 1)))
                promise = (_iso(when), _money(amount))
            actions.append(self._action(loan, day, "call", actor, party, outcome, hour, promise))
        return actions

    def _hour(self, night: bool) -> int:
        """Seconds after local midnight: daytime 08:30-21:30, night 22:00-23:59 or 06:00-07:59."""
        rng = self.crng
        if night:
            return rng.choice((rng.randint(22 * 3600, 24 * 3600 - 1), rng.randint(6 * 3600, 8 * 3600 - 1)))
        return rng.randint(8 * 3600 + 1800, 21 * 3600 + 1800)

    def _action(self, loan: Loan, day: dt.date, channel: str, actor: str, party: str, outcome: str, seconds: int,
                promise: tuple[str, str] = ("", "")) -> list[str]:
        return [loan.lid, self._timestamp(day, seconds), channel, actor, party, outcome, *promise]

    def _timestamp(self, day: dt.date, seconds: int) -> str:
        """Local Asia/Shanghai time written the way this lender's system writes it."""
        local = dt.datetime(day.year, day.month, day.day) + dt.timedelta(seconds=seconds)
        zone = self.conduct.zone
        if zone == "Z":
            return f"{local - dt.timedelta(hours=8):%Y-%m-%dT%H:%M:%S}Z"
        sep = " " if zone == "+0800" else "T"
        return f"{local:%Y-%m-%d}{sep}{local:%H:%M:%S}{zone}"

    def _after_month(self, loans_file: _File) -> None:
        """Accepted rows make their borrowers known here; rejected loans are re-sent next month."""
        rejected = {id(loan) for loan in loans_file.rejected}
        for loan in loans_file.loans:
            b = loan.borrower
            if id(loan) not in rejected and b.uid not in self.loaded_uids:
                self.loaded_uids.add(b.uid)
                self.loaded.append(b)
        self.pending = loans_file.rejected

    def _silent_mistakes(self, f: _File, prev: dt.date) -> None:
        """A few balances reported before this month's payment was booked: the `_2` correction fixes them."""
        start = _iso(prev)
        wanted = max(3, len(f.rows) // 200)
        for i, row in enumerate(f.rows):
            if wanted == 0:
                break
            if i not in f.taken and _plain_status(row) and row[8] > start and row[9] and row[3] != "0.00":
                row[3] = _money(_cents(row[3]) + _cents(row[9]) * 4 // 5)
                f.taken.add(i)
                wanted -= 1

    def _name(self, kind: str, t: dt.date, seq: int = 1) -> str:
        suffix = f"_{seq}" if seq > 1 else ""
        return f"{self.lender.code}_{kind}_{t:%Y%m%d}{suffix}.{self.style.ext}"

    # -- injections --------------------------------------------------------------------------------

    def _inject(self, f: _File, mi: int, errors_ok: bool) -> None:
        """Put round(R * rows) problems into the file (at least one), the rarest codes so far first."""
        rate = self.run.error_rate
        if rate <= 0 or f.hi <= f.lo:
            return
        wanted = min(max(1, round(rate * len(f.rows))), (f.hi - f.lo) // 2 or 1)
        budget = math.floor(_MAX_BAD_SHARE * len(f.rows)) if errors_ok else 0
        exhausted: set[str] = set()
        table = _INJECTIONS[f.kind.name]
        for _ in range(wanted):
            choices = [(self.run.code_use[code], self.irng.random(), code) for code in table
                       if code not in exhausted
                       and (spec.VALIDATION_CODES[code].severity == "warning" or f.errors < budget)
                       and (code != "R_COLUMNS" or self.style.ext == "csv")]
            for _use, _tie, code in sorted(choices):
                pred, apply = table[code]
                i = self._pick(f, code, lambda i, pred=pred: pred(self, f, i, mi))
                if i is not None and apply(self, f, i):
                    self.run.code_use[code] += 1
                    if spec.VALIDATION_CODES[code].severity == "error":
                        f.errors += 1
                    break
                exhausted.add(code)

    def _pick(self, f: _File, code: str, ok: Callable[[int], bool]) -> int | None:
        """A random untouched row that suits the injection: a few probes, then a scan of the file."""
        rng = self.irng
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

    def reject(self, f: _File, i: int) -> None:
        """An error in a loans row: the loan is not loaded, so its status rows this month are unknown."""
        f.rejected.append(f.loans[i])

    # -- writing -----------------------------------------------------------------------------------

    def _conversions(self, kind: spec.Kind) -> list[tuple[int, dict[str, str]]]:
        """Per column, canonical value -> what this lender writes (labels, blanks for defaults)."""
        style = self.style
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

    def _emit(self, f: _File) -> Iterator[list[str]]:
        """Rows as written, in order; records each truth note with its line (header = line 1)."""
        truth = self.run.truth.setdefault(f.name, [])
        conv = {"loans": self.conv_loans, "loan_status": self.conv_status,
                "collection_actions": self.conv_actions}[f.kind.name]
        status = f.kind is spec.LOAN_STATUS
        line = 1
        for i, row in enumerate(f.rows):
            line += 1
            note = f.notes.get(i)
            if note is not None:
                truth.append((line, *note))
            elif status and _negative(row) and not row[11]:
                truth.append((line, "notice_date", "W_NOTICE_MISSING", "natural"))
            yield self._convert(row, conv)
            for extra, extra_note in f.extras.get(i, ()):
                line += 1
                truth.append((line, *extra_note))
                yield self._convert(extra, conv)
        self.run.rows += line - 1

    @staticmethod
    def _convert(row: list[str], conv: list[tuple[int, dict[str, str]]]) -> list[str]:
        out = row[:]
        for i, mapping in conv:
            if i < len(out):
                out[i] = mapping.get(out[i], out[i])
        return out

    def _write(self, f: _File) -> Path:
        path = self.run.out / self.lender.code / f.name
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


# ---- the injection table ------------------------------------------------------------------------
# Each entry: code -> (predicate(run, file, row, month), apply(run, file, row) -> bool). An apply keeps
# the rest of the row valid so the row carries exactly this one problem, and records the truth note.

Pred = Callable[[_LenderRun, _File, int, int], bool]
Apply = Callable[[_LenderRun, _File, int], bool]


def _any(run: _LenderRun, f: _File, i: int, mi: int) -> bool:
    return True


def _truncate(run: _LenderRun, f: _File, i: int) -> bool:
    row = f.rows[i]
    del row[run.irng.randint(len(row) - 5, len(row) - 1):]
    f.note(i, "", "R_COLUMNS")
    if f.kind is spec.LOANS:
        run.reject(f, i)
    return True


def _loans_required(run: _LenderRun, f: _File, i: int) -> bool:
    field = run.irng.choice(("consent_ref", "region_code", "repayment_method"))
    f.rows[i][_LI[field]] = ""
    f.note(i, field, "R_REQUIRED")
    run.reject(f, i)
    return True


def _loans_enum(run: _LenderRun, f: _File, i: int) -> bool:
    field = run.irng.choice(("currency", "repayment_method", "guarantee_type"))
    f.rows[i][_LI[field]] = _BAD_ENUMS[field][run.style.chinese]
    f.note(i, field, "R_ENUM")
    run.reject(f, i)
    return True


def _loans_date(run: _LenderRun, f: _File, i: int) -> bool:
    field = run.irng.choice(("issue_date", "maturity_date"))
    f.rows[i][_LI[field]] = _bad_date(run.irng, f.loans[i].issue.year)
    f.note(i, field, "R_DATE")
    run.reject(f, i)
    return True


def _loans_number(run: _LenderRun, f: _File, i: int) -> bool:
    loan, row = f.loans[i], f.rows[i]
    if run.irng.random() < 0.6:
        row[_LI["principal"]] = f"{loan.principal // 100:,}.{loan.principal % 100:02d}"
        field = "principal"
    else:
        row[_LI["annual_rate"]] = _rate_text(loan.rate, 6) + "1"
        field = "annual_rate"
    f.note(i, field, "R_NUMBER")
    run.reject(f, i)
    return True


def _loans_range(run: _LenderRun, f: _File, i: int) -> bool:
    field, value = run.irng.choice((("principal", "0.00"), ("installments", "0")))
    f.rows[i][_LI[field]] = value
    f.note(i, field, "R_RANGE")
    run.reject(f, i)
    return True


def _id_format(run: _LenderRun, f: _File, i: int) -> bool:
    row, rng = f.rows[i], run.irng
    id_type, number = row[_LI["id_type"]], row[_LI["id_number"]]
    if id_type == "RESIDENT_ID":
        bad = rng.choice((number[:-2] + number[-1], number[:10] + "13" + number[12:], number[:3] + "O" + number[4:]))
    elif id_type == "USCC":
        bad = rng.choice((number[:-1], number[:10] + rng.choice("IOSVZ") + number[11:]))
    else:
        bad = number[:4] + "-" + number[4:]
    row[_LI["id_number"]] = bad
    f.note(i, "id_number", "R_ID_FORMAT")
    run.reject(f, i)
    return True


def _id_checksum(run: _LenderRun, f: _File, i: int) -> bool:
    row = f.rows[i]
    id_type, number = row[_LI["id_type"]], row[_LI["id_number"]]
    alphabet = "0123456789X" if id_type == "RESIDENT_ID" else USCC_ALPHABET
    bad = number[:-1] + run.irng.choice([c for c in alphabet if c != number[-1]])
    row[_LI["id_number"]] = bad
    f.note(i, "id_number", "R_ID_CHECKSUM")
    run.reject(f, i)
    return True


def _id_type(run: _LenderRun, f: _File, i: int) -> bool:
    """A sole trader (个体工商户) reported as an individual with the business's valid USCC."""
    row = f.rows[i]
    row[_LI["id_type"]] = "USCC"
    row[_LI["id_number"]] = run.run.ids.uscc(run.irng, "2", row[_LI["region_code"]])
    f.note(i, "id_type", "R_ID_TYPE")
    run.reject(f, i)
    return True


def _phone(run: _LenderRun, f: _File, i: int) -> bool:
    rng, row = run.irng, f.rows[i]
    phone = row[_LI["phone"]]
    row[_LI["phone"]] = rng.choice((phone[:-1], phone + str(rng.randrange(10)),
                                    f"0{rng.choice(('21', '571', '755', '28'))}-{rng.randrange(10**7, 10**8)}"))
    f.note(i, "phone", "R_PHONE")
    run.reject(f, i)
    return True


def _region(run: _LenderRun, f: _File, i: int) -> bool:
    row = f.rows[i]
    code = row[_LI["region_code"]]
    bad = code[:4] + "99" if run.irng.random() < 0.6 and code[:4] + "99" not in run.run.regions else code[:4]
    row[_LI["region_code"]] = bad
    f.note(i, "region_code", "R_REGION")
    run.reject(f, i)
    return True


def _loans_date_order(run: _LenderRun, f: _File, i: int) -> bool:
    loan = f.loans[i]
    f.rows[i][_LI["maturity_date"]] = _iso(loan.issue - dt.timedelta(days=run.irng.randint(1, 400)))
    f.note(i, "issue_date", "R_DATE_ORDER")
    run.reject(f, i)
    return True


def _future_ok(run: _LenderRun, f: _File, i: int, mi: int) -> bool:
    return f.loans[i].maturity > f.as_of + dt.timedelta(days=5)


def _future(run: _LenderRun, f: _File, i: int) -> bool:
    """The value date of the transfer (next business days) typed instead of the contract date."""
    f.rows[i][_LI["issue_date"]] = _iso(f.as_of + dt.timedelta(days=run.irng.randint(1, 5)))
    f.note(i, "issue_date", "R_FUTURE_DATE")
    run.reject(f, i)
    return True


def _too_long(run: _LenderRun, f: _File, i: int) -> bool:
    row = f.rows[i]
    lid, consent = row[_LI["loan_id"]], row[_LI["consent_ref"]]
    row[_LI["loan_id"]] = f"{lid}-{consent}-补充协议-{consent}-{lid}"
    f.note(i, "loan_id", "R_TOO_LONG")
    run.reject(f, i)
    return True


def _formula(run: _LenderRun, f: _File, i: int) -> bool:
    f.rows[i][_LI["consent_ref"]] = run.irng.choice(_FORMULAS)
    f.note(i, "consent_ref", "R_FORMULA")
    run.reject(f, i)
    return True


def _loans_integer(run: _LenderRun, f: _File, i: int) -> bool:
    f.rows[i][_LI["installments"]] = f"{f.loans[i].n}.5"
    f.note(i, "installments", "R_INTEGER")
    run.reject(f, i)
    return True


def _duplicate(run: _LenderRun, f: _File, i: int) -> bool:
    """An exact second copy of a clean row, later in the file: the copy is the flagged line."""
    after = run.irng.randrange(i, f.hi)
    f.extra(after, f.rows[i][:], "loan_id", "R_DUPLICATE_KEY")
    f.taken.add(i)
    return True


def _rate_high(run: _LenderRun, f: _File, i: int) -> bool:
    loan = f.loans[i]
    loan.rate = run.irng.randint(2401, 3600) * 100
    f.rows[i] = run.loan_row(loan)
    f.note(i, "annual_rate", "W_RATE_HIGH")
    return True


def _cap_ok(run: _LenderRun, f: _File, i: int, mi: int) -> bool:
    loan = f.loans[i]
    return loan.product == "online_microloan" and loan.borrower.btype == "individual"


def _principal_cap(run: _LenderRun, f: _File, i: int) -> bool:
    loan = f.loans[i]
    loan.set_principal(run.irng.randint(201, 300) * 1000 * 100)
    f.rows[i] = run.loan_row(loan)
    f.note(i, "principal", "W_PRINCIPAL_CAP")
    return True


def _guaranteed(run: _LenderRun, f: _File, i: int, mi: int) -> bool:
    return f.loans[i].gtype == "guarantee" and bool(f.loans[i].guarantor)


def _guarantor_missing(run: _LenderRun, f: _File, i: int) -> bool:
    f.rows[i][_LI["guarantor_id"]] = ""
    f.note(i, "guarantor_id", "W_GUARANTOR_MISSING")
    return True


def _conflict_ok(run: _LenderRun, f: _File, i: int, mi: int) -> bool:
    return mi > 0 and bool(run.loaded)


def _name_conflict(run: _LenderRun, f: _File, i: int) -> bool:
    """A new loan to a borrower this lender reported before, under a differently written name.

    The borrower gets no further loans here, and must not appear elsewhere in this file or be
    awaiting a re-send, so exactly this one row disagrees with the name on file.
    """
    loan = f.loans[i]
    in_file = {ln.borrower.uid for ln in f.loans}
    pending = {ln.borrower.uid for ln in run.pending}
    for _ in range(20):
        b = run.irng.choice(run.loaded)
        if (b.btype == loan.borrower.btype and b.uid not in run.blocked and b.uid not in in_file
                and b.uid not in pending):
            break
    else:
        return False
    loan.borrower = b
    run.blocked.add(b.uid)
    row = run.loan_row(loan)
    row[_LI["borrower_name"]] = _name_variant(run.irng, b)
    f.rows[i] = row
    f.note(i, "borrower_name", "W_NAME_CONFLICT")
    return True


def _individual(run: _LenderRun, f: _File, i: int, mi: int) -> bool:
    return f.rows[i][_LI["borrower_type"]] == "individual"


def _checked_id(run: _LenderRun, f: _File, i: int, mi: int) -> bool:
    return f.rows[i][_LI["id_type"]] in ("RESIDENT_ID", "USCC")


def _has_phone(run: _LenderRun, f: _File, i: int, mi: int) -> bool:
    return bool(f.rows[i][_LI["phone"]])


# status rows: every candidate is otherwise clean (no natural warning, not a consequence row)


def _clean(row: list[str]) -> bool:
    return not _negative(row) or bool(row[11])


def _st_any(run: _LenderRun, f: _File, i: int, mi: int) -> bool:
    return _clean(f.rows[i])


def _st_plain(run: _LenderRun, f: _File, i: int, mi: int) -> bool:
    return _plain_status(f.rows[i])


def _st_paid(run: _LenderRun, f: _File, i: int, mi: int) -> bool:
    row = f.rows[i]
    return _clean(row) and bool(row[8]) and bool(row[9])


def _st_dpd(run: _LenderRun, f: _File, i: int, mi: int) -> bool:
    row = f.rows[i]
    return _clean(row) and bool(row[7])


def _st_overdue(run: _LenderRun, f: _File, i: int, mi: int) -> bool:
    row = f.rows[i]
    return _noticed_overdue(row) and row[3] != "0.00"


def _st_overdue_dpd(run: _LenderRun, f: _File, i: int, mi: int) -> bool:
    row = f.rows[i]
    return _noticed_overdue(row) and bool(row[7])


def _st_settled_or_plain(run: _LenderRun, f: _File, i: int, mi: int) -> bool:
    row = f.rows[i]
    return (row[2] == "settled" and _clean(row)) or _plain_status(row)


def _st_enum_ok(run: _LenderRun, f: _File, i: int, mi: int) -> bool:
    row = f.rows[i]
    return _clean(row) and row[12] == "none"


def _st_dated(run: _LenderRun, f: _File, i: int, mi: int) -> bool:
    row = f.rows[i]
    return _clean(row) and bool(row[8] or row[11])


def _st_required(run: _LenderRun, f: _File, i: int) -> bool:
    f.rows[i][_SI["account_status"]] = ""
    f.note(i, "account_status", "R_REQUIRED")
    return True


def _st_enum(run: _LenderRun, f: _File, i: int) -> bool:
    row = f.rows[i]
    field = "account_status" if _plain_status(row) and run.irng.random() < 0.5 else "legal_status"
    row[_SI[field]] = _BAD_ENUMS[field][run.style.chinese]
    f.note(i, field, "R_ENUM")
    return True


def _st_date(run: _LenderRun, f: _File, i: int) -> bool:
    f.rows[i][_SI["last_payment_date"]] = _bad_date(run.irng, f.as_of.year)
    f.note(i, "last_payment_date", "R_DATE")
    return True


def _st_number(run: _LenderRun, f: _File, i: int) -> bool:
    row = f.rows[i]
    cents = _cents(row[9])
    row[9] = f"{cents // 100:,}.{cents % 100:02d}" if cents >= 100_000 else row[9] + "5"
    f.note(i, "last_payment_amount", "R_NUMBER")
    return True


def _st_integer(run: _LenderRun, f: _File, i: int) -> bool:
    f.rows[i][7] += ".5"
    f.note(i, "dpd_reported", "R_INTEGER")
    return True


def _st_date_order(run: _LenderRun, f: _File, i: int) -> bool:
    row = f.rows[i]
    late = _iso(f.as_of + dt.timedelta(days=run.irng.randint(1, 10)))
    field = run.irng.choice([name for name in ("last_payment_date", "notice_date") if row[_SI[name]]])
    row[_SI[field]] = late
    f.note(i, field, "R_DATE_ORDER")
    return True


def _st_as_of(run: _LenderRun, f: _File, i: int) -> bool:
    """The extraction date (the day after the month end) written instead of the reporting date."""
    f.rows[i][0] = _iso(f.as_of + dt.timedelta(days=1))
    f.note(i, "as_of_date", "R_AS_OF_MISMATCH")
    return True


def _st_overdue_gt(run: _LenderRun, f: _File, i: int) -> bool:
    row = f.rows[i]
    row[4] = _money(_cents(row[3]) + max(_cents(row[5]), 100))
    f.note(i, "overdue_principal", "R_OVERDUE_GT_OUTSTANDING")
    return True


def _st_since_missing(run: _LenderRun, f: _File, i: int) -> bool:
    row = f.rows[i]
    row[6] = row[7] = ""
    f.note(i, "overdue_since", "R_OVERDUE_SINCE_MISSING")
    return True


def _st_status_amounts(run: _LenderRun, f: _File, i: int) -> bool:
    row = f.rows[i]
    if row[2] == "settled":
        row[3] = _money(run.irng.randint(1, 50_000))
        field = "outstanding_principal"
    else:  # overdue, with nothing overdue: told to the borrower, so only the amounts contradict it
        row[2], row[7] = "overdue", ""
        row[11] = _iso(f.as_of - dt.timedelta(days=run.irng.randint(0, 5)))
        field = "overdue_principal"
    f.note(i, field, "R_STATUS_AMOUNTS")
    return True


def _st_unknown(run: _LenderRun, f: _File, i: int) -> bool:
    """A status row for a loan the lender never sent in a loans file (forgotten in the extract)."""
    amount = f.rows[i][3] if f.rows[i][3] != "0.00" else "10000.00"
    row = [_iso(f.as_of), run.unknown_id(f.as_of), "normal", amount, "0.00", "0.00", "", "0", "", "", "1", "",
           "none", "false"]
    f.extra(i, row, "loan_id", "R_UNKNOWN_LOAN")
    return True


def _st_dpd_mismatch(run: _LenderRun, f: _File, i: int) -> bool:
    row = f.rows[i]
    dpd = int(row[7])
    row[7] = str(max(0, dpd + run.irng.choice((-3, -2, -1, 1, 2, 3, 30))) if dpd > 3 else dpd + 1)
    f.note(i, "dpd_reported", "W_DPD_MISMATCH")
    return True


# collection actions: every row is clean as generated (the kind has no warnings)


def _ca_promise(run: _LenderRun, f: _File, i: int, mi: int) -> bool:
    return f.rows[i][_CI["outcome"]] == "promise_to_pay"


def _ca_timezone(run: _LenderRun, f: _File, i: int) -> bool:
    """The time as the lender's system shows it locally, without its zone, or with a zone name."""
    row, rng = f.rows[i], run.irng
    text = row[_CI["action_time"]]
    local = dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.timezone(dt.timedelta(hours=8)))
    row[_CI["action_time"]] = rng.choice((f"{local:%Y-%m-%d %H:%M:%S}", f"{local:%Y-%m-%dT%H:%M:%S} CST",
                                          f"{local:%Y-%m-%dT%H:%M:%S}+08:00:00", f"{local:%Y-%m-%dT%H:%M:%S}+8"))
    f.note(i, "action_time", "R_TIMEZONE")
    return True


def _ca_timestamp(run: _LenderRun, f: _File, i: int) -> bool:
    """A spreadsheet's own spelling of the time, or a day the month does not have."""
    row, rng = f.rows[i], run.irng
    local = dt.datetime.fromisoformat(row[_CI["action_time"]].replace("Z", "+00:00")).astimezone(
        dt.timezone(dt.timedelta(hours=8)))
    month, day = rng.choice(_BAD_MONTH_DAYS)
    row[_CI["action_time"]] = rng.choice((f"{local:%Y/%m/%d %H:%M}+08:00", f"{local:%d.%m.%Y %H:%M:%S}+08:00",
                                          f"{local.year}-{month:02d}-{day:02d}T{local:%H:%M:%S}+08:00"))
    f.note(i, "action_time", "R_TIMESTAMP")
    return True


def _ca_promise_missing(run: _LenderRun, f: _File, i: int) -> bool:
    field = run.irng.choice(("promise_date", "promise_amount"))
    f.rows[i][_CI[field]] = ""
    f.note(i, field, "R_PROMISE_MISSING")
    return True


def _ca_enum(run: _LenderRun, f: _File, i: int) -> bool:
    f.rows[i][_CI["channel"]] = ("微信" if run.style.chinese else "wechat")
    f.note(i, "channel", "R_ENUM")
    return True


def _ca_future(run: _LenderRun, f: _File, i: int) -> bool:
    """An action typed with next month's date (the day the clerk entered it)."""
    row = f.rows[i]
    later = f.as_of + dt.timedelta(days=run.irng.randint(1, 3))
    row[_CI["action_time"]] = f"{later:%Y-%m-%d}T10:{run.irng.randint(0, 59):02d}:00+08:00"
    f.note(i, "action_time", "R_FUTURE_DATE")
    return True


def _ca_unknown(run: _LenderRun, f: _File, i: int) -> bool:
    """An action on a loan the lender never reported (a contract from a system not yet migrated)."""
    row = f.rows[i][:]
    row[_CI["loan_id"]] = run.unknown_id(f.as_of)
    row[_CI["outcome"]], row[_CI["promise_date"]], row[_CI["promise_amount"]] = "no_answer", "", ""
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


# ---- entry point --------------------------------------------------------------------------------

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
truth.csv     every problem put in on purpose (injected), the warnings a real portfolio
              produces by itself (natural: negative data without notice_date), and the
              rows that fail because their loan was rejected (consequence). line is the
              physical line in the file (CSV) or the sheet row (xlsx); the header is line 1.

Submit the files in this order:
{order}
"""


def generate(out: Path, *, lenders: int = 5, months: int = 13, loans: int = 2000, seed: int = 1,
             error_rate: float = 0.01, end: dt.date,
             progress: Callable[[int, int], None] | None = None) -> GenerateResult:
    """Write `lenders` synthetic lenders' monthly files for the `months` month ends up to `end`.

    `loans` is per lender: the book it holds at the first reporting date plus the loans it issues
    over the months. `error_rate` is the share of rows per file given one deliberate problem.
    `out` must be empty or absent, so truth.csv never describes files from another run.
    """
    if lenders < 1 or months < 1 or loans < 2 * months:
        raise ExchangeError("G_ARGS", "need lenders >= 1, months >= 1 and loans >= 2 * months")
    if not 0 <= error_rate <= 0.5:
        raise ExchangeError("G_ARGS", "error_rate must be between 0 and 0.5")
    if (end + dt.timedelta(days=1)).day != 1:
        raise ExchangeError("G_ARGS", f"end must be a month end, not {end}")
    if out.exists() and any(out.iterdir()):
        raise ExchangeError("G_OUT_NOT_EMPTY", f"{out} is not empty: generate into a new or empty directory")
    out.mkdir(parents=True, exist_ok=True)

    run = _Run(out, lenders, months, loans, seed, error_rate, end)
    total = 3 * lenders * months + 2
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    for index in range(lenders):
        _LenderRun(run, index).simulate(step)

    correction = next(p for p in run.groups[run.correction_at[1], run.correction_at[0]] if p.stem.endswith("_2"))
    dup_lender, dup_month = run.duplicate_at
    original = run.groups[dup_month, dup_lender][0]
    duplicate = out / run.lenders[dup_lender].code / "resend" / original.name
    duplicate.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(original, duplicate)
    step()
    after = (min(dup_month + 1, months - 1), dup_lender)
    files: list[Path] = []
    for mi in range(months):
        for li in range(lenders):
            files.extend(run.groups[mi, li])
            if (mi, li) == after:
                files.append(duplicate)

    truth_path = out / "truth.csv"
    counts = {"injected": 0, "consequence": 0, "natural": 0}
    codes: dict[str, int] = {}
    with truth_path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["file", "line", "field", "code", "cause"])
        for path in files:
            if path == duplicate:
                continue
            for line, field, code, cause in run.truth.get(path.name, ()):
                writer.writerow([path.name, line, field, code, cause])
                counts[cause] += 1
                codes[code] = codes.get(code, 0) + 1
    with (out / "lenders.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["code", "name", "category"])
        writer.writerows([lender.code, lender.name_zh, lender.category] for lender in run.lenders)
    (out / "README.txt").write_text(_README.format(
        lenders=lenders, months=months, end=end, loans=loans, seed=seed, rate=error_rate,
        correction=correction.relative_to(out), duplicate=duplicate.relative_to(out),
        order="\n".join(f"  {p.relative_to(out)}" for p in files)), encoding="utf-8")
    return GenerateResult(out=out, lenders=run.lenders, files=files, correction=correction, duplicate=duplicate,
                          duplicate_of=original, truth=truth_path, rows=run.rows, injected=counts["injected"],
                          consequences=counts["consequence"], natural=counts["natural"],
                          codes=dict(sorted(codes.items())))
