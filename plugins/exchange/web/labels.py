"""What a person reads on the portal's pages: codes in words, numbers and times as people write them.

One table (LABELS) turns every code a page shows (verdicts, file kinds, version statuses,
timeliness, product types, hold reasons, alert kinds, dispute statuses, ...) into Chinese on the
Chinese page and English on the English one; every template reaches it through the one `label`
filter. Where a lower floor already names its codes in Chinese (the spec's enumerations, the lender
categories, the dispute and episode statuses) the table is built from those names, so a new code
there needs no second entry here. A code the table does not know is shown as it is.

Numbers: `pct` (0.0095 -> 0.95 %), `num` (thousands separators); times: `when` (Asia/Shanghai,
"2026-11-30 12:02", no "T"), `day` (the date alone).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from exchange.access import disputes
from exchange.access import lookup as lk
from exchange.core.clock import EXCHANGE_TZ
from exchange.core.spec import ACCOUNT_STATUSES, BORROWER_TYPES, KINDS, PRODUCT_TYPES


def _english(code: str) -> str:
    return code.replace("_", " ")


LABELS: dict[str, tuple[str, str]] = {
    # product types, account statuses and file kinds: the spec's own Chinese names
    **{c.value: (c.zh, _english(c.value)) for c in (*PRODUCT_TYPES, *ACCOUNT_STATUSES, *BORROWER_TYPES)},
    "C": ("正常", "current"),  # the current DPD bucket (rule_dpd_buckets)
    **{name: (kind.zh, _english(name)) for name, kind in KINDS.items()},
    # lender categories (how a member sees another lender)
    **{code: (zh, _english(code)) for code, zh in lk.CATEGORY_ZH.items()},
    # default episode statuses (the look-up's names); dispute statuses as dispute.<status>
    **{code: (zh, _english(code)) for code, zh in lk.STATUS_ZH.items()},
    **{f"dispute.{code}": (zh, _english(code)) for code, zh in disputes.STATUS_ZH.items()},
    # submission verdicts
    "accepted": ("已接受", "accepted"),
    "accepted_with_errors": ("部分接受（含错误行）", "accepted with errors"),
    "rejected": ("已退回", "rejected"),
    "duplicate": ("重复文件", "duplicate"),
    "queued": ("已排队待处理", "queued"),
    # feed version statuses
    "validating": ("校验中", "validating"),
    "failed": ("未通过质量校验", "failed the quality gate"),
    "live": ("当前生效", "live"),
    "superseded": ("已被新版本取代", "superseded"),
    # timeliness of a month's loan_status file
    "on_time": ("按时", "on time"),
    "late": ("迟报", "late"),
    "missing": ("未报送", "missing"),
    "not_yet_due": ("未到期", "not yet due"),
    "partial": ("部分报送", "partial"),
    # why a record is held back from other members, and what releases it
    "pending_notice": ("待告知", "pending notice"),
    "unreported": ("未续报", "unreported"),
    "dispute_upheld": ("异议成立", "dispute upheld"),
    **{f"why.{code}": texts for code, texts in lk.HOLD_REASONS.items()},
    "release.pending_notice": ("在下一份账户状态文件中为该笔贷款填写告知日期 notice_date（不早于本次逾期开始之日）",
                               "send a notice_date (on or after the day the delinquency began) for this loan "
                               "in your next loan_status file"),
    "release.unreported": ("在下一份账户状态文件中继续报送该笔贷款（或报送其结清、代偿、转出）",
                           "report the loan again in your next loan_status file (or report how it ended)"),
    "release.dispute_upheld": ("无需操作：该记录已按异议结果更正", "nothing to send: corrected after an upheld dispute"),
    # alert kinds
    "dpd_30_plus_elsewhere": ("他处逾期30天以上", "30+ days past due elsewhere"),
    "default_elsewhere": ("他处违约", "in default elsewhere"),
    "blacklisted_elsewhere": ("他处列入恶意逾期名单", "blacklisted elsewhere"),
    "multi_lender_surge": ("多头借贷激增", "multi-lender surge"),
    "loan_stacking": ("叠贷", "loan stacking"),
    "bust_out": ("撸贷（集中借款后首期逾期）", "bust-out"),
    "phone_shared": ("共用手机号", "shared phone number"),
    "identity_mismatch": ("身份信息不一致", "identity mismatch"),
    # record kinds of disputes and held records
    "listing": ("名单记录", "listing"),
    "default_episode": ("违约信息", "default episode"),
    "phone_link": ("手机号关联", "phone link"),
    # lenders
    "active": ("正常", "active"),
    "suspended": ("已暂停", "suspended"),
    "association": ("行业协会", "association"),
    "lender": ("会员机构", "lender"),
    # the portal's tabs
    "tab.home": ("上传与查询", "Upload and look-up"),
    "tab.alerts": ("风险预警", "Alerts"),
    "tab.held": ("不予发布记录", "Held-back records"),
    "tab.disputes": ("异议", "Disputes"),
    "tab.periods": ("报送期", "Reporting months"),
    "tab.submissions": ("报送记录与反馈", "Submissions and feedback"),
    "tab.versions": ("发布版本", "Feed versions"),
    "tab.lenders": ("会员机构", "Lenders"),
    "tab.tokens": ("访问令牌", "Tokens"),
    "tab.quality": ("报送质量", "Submission quality"),
    # the version diff
    "added": ("新增", "added"),
    "removed": ("删除", "removed"),
    "changed": ("变更", "changed"),
    "blacklist": ("恶意逾期名单", "blacklist"),
    "default_feed": ("违约信息", "default feed"),
    "lender_alerts": ("风险预警", "alerts"),
    "listing_reasons": ("名单原因", "listing reasons"),
    "held": ("不予发布记录", "held records"),
}
"""code -> (Chinese, English): the one translation table of the portal's pages."""


def label(code: Any, lang: str, kind: str | None = None) -> str:
    """The code in the page's language (`kind.code` first where one code means two things, e.g. a
    rejected file and a rejected dispute); an unknown code as it is."""
    if code is None:
        return ""
    names = LABELS.get(f"{kind}.{code}") if kind else None
    names = names or LABELS.get(str(code))
    if names is None:
        return str(code)
    return names[1] if lang == "en" else names[0]


def pct(value: Any, digits: int = 2) -> str:
    """A ratio as a percentage: 0.0095 -> '0.95 %'; blank for none."""
    number = _number(value)
    return "" if number is None else f"{number * 100:,.{digits}f} %"


def num(value: Any, digits: int | None = None) -> str:
    """Thousands separators (12,345.67); integers stay integers unless `digits` is given."""
    number = _number(value)
    if number is None:
        return "" if value is None else str(value)
    if digits is None:
        digits = 0 if number == number.to_integral_value() else 2
    return f"{number:,.{digits}f}"


def when(value: Any) -> str:
    """A moment in Beijing time, to the minute, as people write it: '2026-11-30 12:02'."""
    moment = _moment(value)
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def day(value: Any) -> str:
    """The Beijing date of a moment, or a date as it is: '2026-11-30'."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str) and len(value) == 10:
        return value
    moment = _moment(value)
    return "" if moment is None else moment.date().isoformat()


def install(env: Environment) -> None:
    """The filters of every template: label (the page's language), pct, num, when, day."""

    @pass_context
    def label_filter(context: Context, code: Any, kind: str | None = None) -> str:
        return label(code, context.get("lang", "zh"), kind)

    env.filters.update(label=label_filter, pct=pct, num=num, when=when, day=day)


def _number(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _moment(value: Any) -> dt.datetime | None:
    if isinstance(value, str) and value:
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(EXCHANGE_TZ)
