"""The participating lenders (报送机构): who they are, and how each one's systems write files.

Lenders differ in practice and the ingest must cope: encodings, Chinese or English headers and
labels, line ends, CSV or xlsx, decimals, and habits such as leaving defaults blank.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from exchange_tools.synthetic.identities import Identities

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




def make_lender(i: int, rng: random.Random, ids: Identities) -> Lender:
    """The i-th lender: categories, home provinces, trade names and styles in turn; a drawn USCC."""
    category = _CATEGORY_CYCLE[i % len(_CATEGORY_CYCLE)]
    place, province = _LENDER_HOMES[i % len(_LENDER_HOMES)]
    trade = _LENDER_TRADES[i % len(_LENDER_TRADES)]
    code = f"{_CODE_PREFIX[category]}{i + 1:02d}"
    uscc = ids.uscc(rng, "1", ids.county(rng, province))
    return Lender(code, place + trade + _NAME_SUFFIX[category], category, uscc, province,
                  _STYLES[i % len(_STYLES)])
