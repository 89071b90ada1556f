"""Look-up (查询): may this applicant be lent to? Answered from the published feed, always audited.

The caller sends the applicant's ID; the exchange computes the borrower key, reads the
current published version (shared schema) and answers with the blacklist status, its
reasons and dispute mark, the default episodes (other lenders shown only as their
category), a summary, and the signals section (exchange.access.signals: the key's published
fraud and multi-lending signals, and inquiry velocity counted from the look-up audit). The
answer and its audit row are one SQL statement, so no answer leaves without its record. The
clear ID is never stored or logged.

Refusals (audited when the caller is known): no or unknown purpose, no consent reference,
an invalid ID, a lender that has not reported recently or whose latest status file leaves out
loans it reported before (give-to-get), and too many look-ups per minute, valid or not (rate
limit; a flood of those is audited as counts, not row by row).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from exchange.access import signals
from exchange.access.ratelimit import RateLimiter
from exchange.access.tokens import Caller
from exchange.core.errors import ExchangeError
from exchange.core.identifiers import Pseudonymizer, check_id, normalise

PURPOSES = {
    "loan_application": ("贷款审批", "loan application"),
    "credit_limit_review": ("授信额度审查", "credit limit review"),
    "post_loan_management": ("贷后管理", "post-loan management"),
    "guarantee_review": ("担保资格审查", "guarantee review"),
}
ID_TYPES = ("RESIDENT_ID", "USCC", "PASSPORT")
STATUS_ZH = {"ongoing": "未结束", "cured": "已纠正", "settled": "已结清", "compensated": "已代偿",
             "transferred": "已转出", "written_off": "已核销"}
CATEGORY_ZH = {"microloan_company": "小额贷款公司", "online_microloan_company": "网络小额贷款公司",
               "financing_guarantee_company": "融资担保公司", "member": "会员机构"}
"""What other members are shown in place of a lender's code; 'member' where fewer than three share a category."""
HOLD_REASONS = {
    "pending_notice": ("未在逾期开始后告知借款人（缺少或早于逾期的不良信息告知日期）",
                       "no notice to the borrower on or after the delinquency began"),
    "unreported": ("该贷款已连续两期未在贵机构的账户状态文件中报送", "missing from your last two loan_status files"),
    "dispute_upheld": ("异议成立，该记录已更正", "corrected after an upheld dispute"),
}
"""Why a negative record is held back from other members (不予发布), as the reporting lender and the person read it."""
MAX_ID_CHARS = 32
MAX_CONSENT_CHARS = 64
_CONSENT_RE = re.compile(r"^[\w\-/.#()（）]{1,64}$")
"""Letters (Chinese too), digits and - _ / . # ( ): a reference number, not free text."""


class LookupRefused(ExchangeError):
    """A refusal with a bilingual message; `status` is the HTTP status the API answers with."""

    def __init__(self, code: str, zh: str, en: str, status: int = 400, attempts: int = 1):
        super().__init__(code, f"{zh} / {en}")
        self.zh = zh
        self.en = en
        self.status = status
        self.attempts = attempts
        """How many refused attempts its audit row records; 0: counted, audited later (rate limit)."""

    def as_dict(self) -> dict:
        return {"code": self.code, "message_zh": self.zh, "message_en": self.en}


@dataclass(frozen=True)
class LookupRequest:
    id_type: str
    id_number: str
    purpose: str | None
    consent_ref: str | None


@dataclass(frozen=True)
class Checked:
    """A request that passed the field checks; the clear ID is gone, only the key remains."""

    id_type: str
    borrower_key: str
    purpose: str
    consent_ref: str


def check_request(req: LookupRequest, pseudonymizer: Pseudonymizer) -> Checked:
    """Field checks, cheapest first; raises LookupRefused (never echoing a value)."""
    if not req.purpose or req.purpose not in PURPOSES:
        raise LookupRefused("Q_PURPOSE", "缺少或无法识别的查询目的（可选：" + "、".join(PURPOSES) + "）",
                            "missing or unknown purpose (one of: " + ", ".join(PURPOSES) + ")")
    if not req.consent_ref or not req.consent_ref.strip():
        raise LookupRefused("Q_CONSENT", "缺少信息主体的查询授权书编号", "missing the applicant's consent reference")
    if not _CONSENT_RE.match(req.consent_ref):
        raise LookupRefused("Q_CONSENT", f"授权书编号须为1至{MAX_CONSENT_CHARS}个字母、数字或 -_/.#()",
                            f"the consent reference must be 1 to {MAX_CONSENT_CHARS} letters, digits or -_/.#()")
    if req.id_type not in ID_TYPES:
        raise LookupRefused("Q_ID_TYPE", "证件类型须为 " + " / ".join(ID_TYPES), "id_type must be " + " / ".join(ID_TYPES))
    if not req.id_number or len(req.id_number) > MAX_ID_CHARS:
        raise LookupRefused("Q_ID", "证件号码无效", "the ID number is not valid")
    value = normalise(req.id_type, req.id_number)
    if check_id(req.id_type, value) is not None:
        raise LookupRefused("Q_ID", "证件号码无效（格式或校验位错误）", "the ID number is not valid (format or check digit)")
    return Checked(req.id_type, pseudonymizer.borrower_key(req.id_type, value), req.purpose, req.consent_ref.strip())


# ---- give-to-get and rate limit --------------------------------------------------------------

RATE_AUDIT_SECONDS = 60.0
"""While a caller is over its rate limit, at most one audit row per this many seconds records its
refused attempts (control.lookup_audit.attempts): a flood is counted, not written row by row."""


def rate_bucket(caller: Caller) -> str:
    """Whose allowance a look-up spends: the lender's, or the association's (one for all its tokens)."""
    return caller.lender_code or "association"


@dataclass
class _Flood:
    counted: int = 0
    """Refused attempts not yet written to the audit."""
    audited_at: float | None = None


class LookupQuota:
    """The look-up allowance of each caller in one process: a rate limit, and the counts of the
    attempts it refused that are still to be audited.

    EXCHANGE_LOOKUP_RATE look-ups per minute per lender, and for the association, (default 600)
    with bursts up to EXCHANGE_LOOKUP_BURST (default 60). Every request spends one, valid or
    not, so a stream of invalid IDs is throttled like one of valid ones. `clock` is
    time.monotonic except in tests of the audit aggregation.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._limiter = RateLimiter(float(os.environ.get("EXCHANGE_LOOKUP_RATE", "600")),
                                    float(os.environ.get("EXCHANGE_LOOKUP_BURST", "60")), clock=clock)
        self._clock = clock
        self._floods: dict[str, _Flood] = {}
        self._lock = threading.Lock()

    def take(self, caller: Caller) -> LookupRefused | None:
        """Spend one look-up of the caller's allowance, or raise Q_RATE_LIMIT.

        A refusal's `attempts` says how many refused attempts its audit row stands for: 1 for the
        first of a flood, then 0 (counted only) until RATE_AUDIT_SECONDS have passed, when one row
        carries the count. Returned when the caller is admitted again: the Q_RATE_LIMIT refusal
        whose row carries the attempts still counted, to be audited now (else None).
        """
        key = rate_bucket(caller)
        allowed = self._limiter.allow(key)
        if allowed and key not in self._floods:  # the common case: nothing was ever refused
            return None
        with self._lock:
            flood = self._floods.get(key)
            if allowed:
                if flood is None or not flood.counted:
                    return None
                pending, flood.counted = flood.counted, 0
                return self._rate_limited(pending)
            if flood is None:
                flood = self._floods[key] = _Flood()
            flood.counted += 1
            now = self._clock()
            if flood.audited_at is not None and now - flood.audited_at < RATE_AUDIT_SECONDS:
                raise self._rate_limited(0)
            attempts, flood.counted, flood.audited_at = flood.counted, 0, now
        raise self._rate_limited(attempts)

    def _rate_limited(self, attempts: int) -> LookupRefused:
        per_minute = f"{self._limiter.per_minute:.0f}"
        return LookupRefused("Q_RATE_LIMIT", f"查询过于频繁（每分钟上限 {per_minute} 次），请稍后再试",
                             f"too many look-ups (limit {per_minute} per minute); retry shortly",
                             status=429, attempts=attempts)


G2G_SQL = "select latest_as_of, age_days, previous_active, covered from control.give_to_get(%s)"
"""The latest accepted loan_status file's date and age, and how many of the loans the previous file
reported active it covers (migration 0008); no row when the lender never had one accepted."""


@dataclass(frozen=True)
class GiveToGet:
    """Give to get (先报送后查询): a lender looks up only while its latest accepted loan_status file
    is at most `days` old (EXCHANGE_GIVE_TO_GET_DAYS, 45) and reports again at least `min_share`
    (EXCHANGE_GIVE_TO_GET_SHARE, 0.8) of the loans its previous file reported active."""

    days: int
    min_share: float

    @classmethod
    def from_env(cls) -> GiveToGet:
        return cls(int(os.environ.get("EXCHANGE_GIVE_TO_GET_DAYS", "45")),
                   float(os.environ.get("EXCHANGE_GIVE_TO_GET_SHARE", "0.8")))

    def check(self, row: tuple | None) -> None:
        """Raise the refusal for the lender's G2G_SQL row, naming the date, or the share found and the
        share required; a new one each time (a cached exception raised again grows its traceback)."""
        days, min_share = self.days, self.min_share
        if row is None:
            raise LookupRefused("Q_GIVE_TO_GET",
                                f"贵机构尚无被接受的账户状态（loan_status）报送，须先报送数据方可查询（近{days}天内）",
                                f"your institution has no accepted loan_status submission; report data first"
                                f" (within {days} days)", status=403)
        as_of, age, active, covered = row
        if age > days:
            raise LookupRefused("Q_GIVE_TO_GET",
                                f"贵机构最近一次被接受的账户状态报送的数据日期为 {as_of}，已超过{days}天，须先报送最新数据方可查询",
                                f"your last accepted loan_status submission is as of {as_of}, older than {days} days;"
                                " report current data before looking up", status=403)
        if active and covered < min_share * active:
            share = covered / active
            raise LookupRefused("Q_GIVE_TO_GET_COVERAGE",
                                f"贵机构最近一次账户状态报送（数据日期 {as_of}）只报送了上一次报送中 {active} 笔未结清贷款的"
                                f" {covered} 笔（{share:.1%}），低于要求的 {min_share:.0%}，须报送全部贷款的状态方可查询",
                                f"your latest loan_status submission (as of {as_of}) reports {covered} of the {active}"
                                f" active loans of your previous one ({share:.1%}), below the required {min_share:.0%};"
                                " report the status of all your loans before looking up", status=403)


def dollar_params(sql: str) -> tuple[str, list[str]]:
    """psycopg placeholders (%s, %(name)s) as asyncpg's $n; the names in $n order for named ones."""
    names: list[str] = []
    counter = iter(range(1, 1000))

    def named(m: re.Match) -> str:
        if m.group(1) not in names:
            names.append(m.group(1))
        return f"${names.index(m.group(1)) + 1}"

    sql = re.sub(r"%\((\w+)\)s", named, sql)
    return re.sub(r"%s", lambda _m: f"${next(counter)}", sql), names


# ---- the answer ---------------------------------------------------------------------------------

# One statement: read the current listing and episodes of the key, write the audit row, return both.
# A lender asking reads what a member may see (the member views of migration 0012: its own code on
# its own episodes, only the category on others', its own held records); the association reads
# the whole default feed.
LOOKUP_SQL = """
with listing as (
    select b.reason_codes, b.first_listed_date, b.lenders_count, b.disputed, b.dispute_deadline,
           (select json_agg(json_build_object('code', r.reason_code, 'message_zh', r.reason_zh,
                                              'message_en', r.reason_en) order by r.reason_code)
            from shared.listing_reason_rows r
            where r.version = b.version and r.reason_code = any(string_to_array(b.reason_codes, ','))) as reasons
    from shared.member_blacklist b
    where b.version = (select version from shared.live_version) and b.borrower_key = %(key)s
),
episodes as (
    select m.reporting_lender, m.reporting_lender = %(lender)s as own, m.loan_ref, m.product_type, m.default_date,
           m.max_dpd, m.amount_at_default, m.episode_status as status, m.end_date, m.disputed
    from shared.member_default_feed m
    where m.version = (select version from shared.live_version) and m.borrower_key = %(key)s
      and m.viewing_lender = %(lender)s
    union all
    select f.lender_code, true, f.loan_ref, f.product_type, f.default_date, f.max_dpd, f.amount_at_default,
           f.episode_status, f.end_date, f.disputed
    from shared.default_feed f
    where %(party)s = 'association' and f.borrower_key = %(key)s
),
held as (
    select h.record_kind, h.reason_code, h.hold_reason, h.default_date
    from shared.member_held_records h
    where h.version = (select version from shared.live_version) and h.borrower_key = %(key)s
      and h.viewing_lender = %(lender)s
),
signals as (
    select s.*
    from shared.borrower_signal_rows s
    where s.version = (select version from shared.live_version) and s.borrower_key = %(key)s
),
signal_rules as (
    -- the rules published with the live version (one scan): every parameter for the labels, and the
    -- inquiry windows
    select json_object_agg(r.parameter, r.value) as parameters,
           max(r.value) filter (where r.parameter = 'inquiry_window_short_days') as short_days,
           max(r.value) filter (where r.parameter = 'inquiry_window_long_days') as long_days
    from shared.signal_rule_rows r
    where r.version = (select version from shared.live_version)
),
inquiries as (
    -- distinct members whose look-ups of the key were answered within the windows, per purpose and
    -- overall (purpose null: an answered look-up always has one); this statement's own audit row is
    -- not seen here (one snapshot)
    select a.purpose,
           count(distinct a.lender_code)
               filter (where a.at > now() - make_interval(days => (select short_days from signal_rules)))
               as members_short,
           count(distinct a.lender_code) as members_long
    from control.lookup_audit a
    -- the window as a scalar: one index range (borrower_key, at), however often the key was asked about
    where a.borrower_key = %(key)s and a.at > now() - make_interval(days => (select long_days from signal_rules))
      and a.outcome = 'answered' and a.party = 'lender'
    group by grouping sets ((a.purpose), ())
),
audit as (
    insert into control.lookup_audit (party, lender_code, channel, purpose, consent_ref, id_type, borrower_key, hit,
                                      outcome, feed_version)
    select %(party)s, %(lender)s, %(channel)s, %(purpose)s, %(consent)s, %(id_type)s, %(key)s,
           exists (select 1 from listing) or exists (select 1 from episodes), 'answered',
           (select version from shared.live_version)
    returning lookup_id, feed_version, at
)
select audit.lookup_id, audit.feed_version, audit.at,
       (select json_agg(listing) from listing),
       (select json_agg(episodes order by episodes.default_date desc) from episodes),
       (select json_agg(held order by held.default_date desc) from held),
       (select json_agg(signals) from signals),
       -- the rules only when something is shown (most keys: nothing to label, nothing to parse)
       case when exists (select from signals) or exists (select from inquiries where members_long > 0)
            then (select parameters from signal_rules) end,
       (select json_agg(inquiries) from inquiries where members_long > 0)
from audit
"""


def lookup_params(caller: Caller, checked: Checked, channel: str) -> dict[str, Any]:
    return {"key": checked.borrower_key, "lender": caller.lender_code, "party": caller.party, "channel": channel,
            "purpose": checked.purpose, "consent": checked.consent_ref, "id_type": checked.id_type}


def lookup(conn: psycopg.Connection, caller: Caller, checked: Checked, channel: str) -> dict[str, Any]:
    """Answer and audit in one statement (autocommit connection: committed before returning)."""
    row = conn.execute(LOOKUP_SQL, lookup_params(caller, checked, channel), prepare=True).fetchone()
    return build_answer(*row)


REFUSAL_SQL = ("insert into control.lookup_audit (party, lender_code, channel, purpose, consent_ref, id_type,"
               " borrower_key, outcome, refusal_code, attempts) values (%s, %s, %s, %s, %s, %s, %s, 'refused', %s, %s)")


def refusal_params(caller: Caller, channel: str, refusal: LookupRefused, checked: Checked | None = None,
                   req: LookupRequest | None = None) -> tuple:
    """Who, when, why; purpose and consent only when they were valid (never an invalid value)."""
    purpose = checked.purpose if checked else (req.purpose if req and req.purpose in PURPOSES else None)
    return (caller.party, caller.lender_code, channel, purpose, checked.consent_ref if checked else None,
            checked.id_type if checked else None, checked.borrower_key if checked else None, refusal.code,
            refusal.attempts)


def audit_refusal(conn: psycopg.Connection, caller: Caller, channel: str, refusal: LookupRefused,
                  checked: Checked | None = None, req: LookupRequest | None = None) -> None:
    """Record a refused look-up, unless it is one of a flood being counted (attempts 0)."""
    if refusal.attempts:
        conn.execute(REFUSAL_SQL, refusal_params(caller, channel, refusal, checked, req))


def build_answer(lookup_id: int, version: int | None, at, listing: list | None, episodes: list | None,
                 held: list | None = None, signal_rows: list | None = None, signal_rules: dict | None = None,
                 inquiries: list | None = None) -> dict:
    """The answer from the look-up statement's columns (already parsed JSON), in LookupAnswer's shape."""
    listing = (listing or [None])[0]
    episodes = episodes or []
    blacklist: dict[str, Any] = {"listed": listing is not None}
    if listing:
        blacklist.update({
            "reasons": listing["reasons"] or [],
            "first_listed_date": listing["first_listed_date"],
            "lenders_count": listing["lenders_count"],
            "disputed": bool(listing["disputed"]),
            "disputed_zh": "异议处理中" if listing["disputed"] else None,
            "dispute_deadline": listing["dispute_deadline"],
        })
    shown = []
    for e in episodes:
        shown.append({
            "reporting_lender": e["reporting_lender"],
            "reporting_lender_zh": e["reporting_lender"] if e["own"]
            else CATEGORY_ZH.get(e["reporting_lender"], e["reporting_lender"]),
            "own": bool(e["own"]),
            "loan_ref": e["loan_ref"],
            "product_type": e["product_type"],
            "default_date": e["default_date"],
            "max_dpd": e["max_dpd"],
            "amount_at_default": e["amount_at_default"],
            "status": e["status"],
            "status_zh": STATUS_ZH.get(e["status"], e["status"]),
            "end_date": e["end_date"],
            "disputed": bool(e["disputed"]),
        })
    ongoing = sum(1 for e in shown if e["status"] == "ongoing")
    if blacklist["listed"]:
        codes = ", ".join(r["code"] for r in blacklist["reasons"])
        zh = f"在恶意逾期名单上（{codes}）" + ("，存在异议" if blacklist["disputed"] else "")
        en = f"on the blacklist ({codes})" + (", disputed" if blacklist["disputed"] else "")
    else:
        zh, en = "不在恶意逾期名单上", "not on the blacklist"
    zh += f"；违约记录 {len(shown)} 条，其中未结束 {ongoing} 条。"
    en += f"; {len(shown)} default episode(s), {ongoing} ongoing."
    return {
        "lookup_id": lookup_id,
        "feed_version": version,
        "looked_up_at": at.isoformat(),
        "hit": bool(blacklist["listed"] or shown),
        "blacklist": blacklist,
        "default_episodes": shown,
        "held_records": [{"record_kind": h["record_kind"], "reason_code": h["reason_code"],
                          "hold_reason": h["hold_reason"], "default_date": h["default_date"],
                          "message_zh": "贵机构报送的负面记录暂未发布：" + HOLD_REASONS[h["hold_reason"]][0],
                          "message_en": "your negative record is not published: " + HOLD_REASONS[h["hold_reason"]][1]}
                         for h in held or []],
        "summary": {"listed": blacklist["listed"], "episodes": len(shown), "ongoing_episodes": ongoing,
                    "message_zh": zh, "message_en": en},
        "signals": signals.build_section((signal_rows or [None])[0], signal_rules, inquiries, PURPOSES),
    }
