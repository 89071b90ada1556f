"""The data-subject report (本人信用报告): everything the exchange holds about one borrower key.

Current listing and reasons (their texts from the published rule table), default episodes, the
records held back from members (marked as not published, with why), each loan's 24-month
repayment profile, dispute marks, the fraud and multi-lending signals on the record at the latest
signal date (which ones, with their figures, per PIPL the person sees what is inferred about them),
and the look-ups made about the person (when, which institution, the association included, and
its category, purpose).
The association hands it to the person (征信业管理条例 art. 17), as JSON or as an HTML page
(exchange.web.render.report_html).
Nothing past its purge date is shown (exchange.feed.retention): no expired default-feed row, and no
loan whose negative record expired.
Producing a report is itself recorded in control.audit_log.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from exchange.access.lookup import CATEGORY_ZH, HOLD_REASONS, PURPOSES, STATUS_ZH
from exchange.core.clock import local_today
from exchange.feed.retention import expired_loans_sql, models_built

ASSOCIATION_ZH = "行业协会"
"""How the report names the association when it looked (in the language of the lenders' names)."""


RECORD_KINDS_ZH = {"default_episode": "违约信息", "listing": "名单"}

SIGNALS = {  # flag column of marts.mart_borrower_signals -> (signal, 中文, English, the figures shown beside it)
    "is_phone_shared": ("phone_sharing", "您的手机号码也被报送为其他人的手机号码",
                        "your phone number was also reported for other persons", ("keys_per_phone_3m",)),
    "is_identity_mismatch": ("identity_mismatch", "不同机构为您的证件报送了不同的姓名",
                             "lenders reported different names with your ID", ("name_hashes",)),
    "is_loan_stacking": ("loan_stacking", "短期内在多家机构新增借款", "new loans at several lenders within a short time",
                         ("stacking_lenders", "stacking_new_principal")),
    "is_bust_out": ("bust_out", "多家机构新增借款后首期即逾期", "first payments missed at several lenders soon after"
                    " new loans there", ("surge_lenders", "first_payment_default_lenders")),
}
"""The signals a person is shown (analyst guide section 9 defines each and its limits)."""
DISPUTE_MARKS = {"is_phone_shared": "is_phone_link_disputed"}
"""A signal's disputed mark (异议标注) in marts.mart_borrower_signals: phone sharing resting on a phone
link under an open dispute (a link whose dispute was upheld counts in no signal)."""


def _rows(conn: psycopg.Connection, sql: str, params: tuple) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()


def build(conn: psycopg.Connection, borrower_key: str, id_type: str) -> dict[str, Any]:
    today = local_today()  # nothing past its purge date is shown (retention)
    live = conn.execute("select version from shared.live_version").fetchone()
    listing = _rows(conn, "select reason_codes, first_listed_date, lenders_count, total_overdue, max_dpd,"
                          " notice_date, disputed, dispute_deadline from shared.blacklist where borrower_key = %s",
                    (borrower_key,))
    reason_texts = {r["reason_code"]: r for r in _rows(conn, "select reason_code, reason_zh, reason_en"
                                                             " from shared.listing_reasons", ())}
    held = _rows(conn, "select h.record_kind, h.reason_code, h.hold_reason, h.lender_code, l.name as lender_name,"
                       " h.default_date from shared.held_record_rows h"
                       " join shared.live_version v on v.version = h.version"
                       " left join control.lenders l using (lender_code)"
                       " where h.borrower_key = %s order by h.default_date, h.lender_code, h.record_kind",
                 (borrower_key,))
    for h in held:
        h["published"] = False
        h["record_kind_zh"] = RECORD_KINDS_ZH[h["record_kind"]]
        h["hold_reason_zh"], h["hold_reason_en"] = HOLD_REASONS[h["hold_reason"]]
    episodes = _rows(conn, "select f.loan_ref, f.lender_code, l.name as lender_name, f.lender_category, f.product_type,"
                           " f.default_date, f.max_dpd, f.amount_at_default, f.episode_status, f.end_date,"
                           " f.purge_date, f.notice_date, f.disputed from shared.default_feed f"
                           " left join control.lenders l using (lender_code)"
                           " where f.borrower_key = %s and (f.purge_date is null or f.purge_date > %s)"
                           " order by f.default_date", (borrower_key, today))
    loans: list[dict] = []
    if models_built(conn):
        expired, params = expired_loans_sql(one_borrower=True)
        loans = _rows(conn, f"""
            select distinct on (s.lender_code, s.loan_id) s.lender_code, l.name as lender_name, s.loan_id,
                   s.product_type, s.as_of_date, s.account_status, s.outstanding_principal, s.dpd,
                   s.repayment_profile_24m
            from marts.fct_loan_status s left join control.lenders l using (lender_code)
            where s.borrower_key = %(borrower_key)s
                and (s.lender_code, s.loan_id) not in (select lender_code, loan_id from ({expired}) as expired)
            order by s.lender_code, s.loan_id, s.as_of_date desc""",
                      {**params, "borrower_key": borrower_key, "today": today})
    corrected = _corrected_months(conn, borrower_key) if loans else {}
    for loan in loans:
        months = corrected.get((loan["lender_code"], loan["loan_id"]))
        if months:
            loan["repayment_profile_24m"] = mask_profile(loan["repayment_profile_24m"], loan["as_of_date"], months)
            loan["profile_corrected"] = True
    signals = _signals(conn, borrower_key)
    disputes = _rows(conn, "select dispute_id, record_kind, lender_code, loan_ref, opened_at, deadline, status,"
                           " resolved_at, resolution_reason from control.disputes where borrower_key = %s"
                           " order by dispute_id", (borrower_key,))
    # every institution that looked, the association included (DOMAIN section 5), by name
    lookups = _rows(conn, "select a.at, a.party, l.name as institution, l.category as lender_category, a.purpose"
                          " from control.lookup_audit a left join control.lenders l using (lender_code)"
                          " where a.borrower_key = %s and a.outcome = 'answered' order by a.at desc", (borrower_key,))
    for lk_row in lookups:
        if lk_row["party"] == "association":
            lk_row["institution"] = ASSOCIATION_ZH
        lk_row["lender_category_zh"] = CATEGORY_ZH.get(lk_row["lender_category"], lk_row["lender_category"])
        lk_row["purpose_zh"], lk_row["purpose_en"] = PURPOSES.get(lk_row["purpose"], ("", ""))
    for e in episodes:
        e["status_zh"] = STATUS_ZH.get(e["episode_status"], e["episode_status"])
    blacklist = None
    if listing:
        b = listing[0]
        blacklist = b | {"reasons": [{"code": c, "message_zh": reason_texts[c]["reason_zh"],
                                      "message_en": reason_texts[c]["reason_en"]}
                                     for c in b["reason_codes"].split(",")]}
    conn.execute("insert into control.audit_log (action, object, detail) values ('subject_report', %s, %s)",
                 (borrower_key, json.dumps({"id_type": id_type})))
    return _plain({
        "title_zh": "本人信用报告", "title_en": "Data-subject credit report",
        "generated_at": dt.datetime.now(dt.UTC),
        "feed_version": live[0] if live else None,
        "id_type": id_type,
        "borrower_key": borrower_key,
        "blacklist": blacklist,
        "default_episodes": episodes,
        "held_records": held,
        "loans": loans,
        "disputes": disputes,
        "signals": signals,
        "lookups": lookups,
    })


def _signals(conn: psycopg.Connection, borrower_key: str) -> list[dict]:
    """The signals on the person's record at the latest signal date, each with its figures; none
    before the signal models are first built. Built from keys only, and from publishable records
    where they count defaults (a held-back record never raises one)."""
    if not conn.execute("select to_regclass('marts.mart_borrower_signals') is not null").fetchone()[0]:
        return []
    found = _rows(conn, "select * from marts.mart_borrower_signals where borrower_key = %s"
                        " and signal_date = (select max(signal_date) from marts.mart_borrower_signals)", (borrower_key,))
    if not found:
        return []
    row = found[0]
    return [{"signal": signal, "message_zh": zh, "message_en": en, "signal_date": row["signal_date"],
             "figures": {figure: row[figure] for figure in figures},
             "disputed": bool(row.get(DISPUTE_MARKS.get(flag, ""), False))}
            for flag, (signal, zh, en, figures) in SIGNALS.items() if row[flag]]


def _corrected_months(conn: psycopg.Connection, borrower_key: str) -> dict[tuple[str, str], list[tuple]]:
    """Per loan, the (first, last) reporting dates of its episodes corrected by an upheld dispute."""
    found: dict[tuple[str, str], list[tuple]] = {}
    for lender, loan_id, start, end in conn.execute(
            "select lender_code, loan_id, default_date, coalesce(end_date, last_report_date)"
            " from intermediate.int_episode_publishability where borrower_key = %s and hold_reason = 'dispute_upheld'",
            (borrower_key,)):
        found.setdefault((lender, loan_id), []).append((start, end))
    return found


def mask_profile(profile: str, as_of: dt.date, spans: list[tuple[dt.date, dt.date]]) -> str:
    """The 24-month profile (newest month first) with the months of corrected episodes as '/'.

    An upheld dispute (异议成立) says those months were reported wrongly; the exchange cannot know
    the right values, so the person sees them blanked out rather than as reported."""
    def index(day: dt.date) -> int:
        return (as_of.year - day.year) * 12 + as_of.month - day.month

    chars = list(profile or "")
    for start, end in spans:
        for i in range(max(index(end), 0), min(index(start), len(chars) - 1) + 1):
            chars[i] = "/"
    return "".join(chars)


def _plain(value: Any) -> Any:
    """JSON-ready: dates as ISO strings, decimals as strings."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
