"""Disputes (异议): a data subject contests a listing, a default episode or a phone link.

Entered by the association or by the lender that reported the record, for a borrower key
and a record: the listing (`listing`), one default episode, named by its loan
reference as the feed shows it (or, for the operator, by lender code and contract number),
or one phone link (`phone_link`, 手机号关联): the phone as one loan reported it for the person,
which the fraud signals build on (phone sharing, clusters). The loan is named the same way;
the phone is held as its keyed hash only: the one the loan reported, or, when it reported
several, the number the person gives, hashed at once and never stored or logged in clear.
The publication reads control.disputes (dbt: stg_control__disputes, macro dispute_covers): an
open dispute marks the record (异议标注) from the next version; one upheld removes that record
only - the default episode, or the listing reason(s) - and everything built from it, from the
next version (an upheld phone link counts in no signal); one rejected or withdrawn ends the
mark. A dispute is bound to the records that
exist when it is opened: a loan's dispute names its current episode (default_episode_no), a
borrower-wide listing dispute covers the episodes begun by that day, so a later record of the
same person is published as usual. Each must be resolved within 20 days (征信业管理条例 art. 25):
the deadline is set when it is opened and overdue ones are flagged.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import psycopg
from psycopg.rows import dict_row

from exchange.access.tokens import Caller
from exchange.core.errors import ExchangeError
from exchange.core.identifiers import Pseudonymizer, check_phone, load_pseudonymizer
from exchange.core.settings import get_settings

_LOAN_REF = re.compile(r"^[0-9a-f]{64}$")
_REASON_CODE = re.compile(r"^B[0-9]{1,3}$")
STATUS_ZH = {"open": "处理中", "upheld": "异议成立", "rejected": "异议不成立", "withdrawn": "已撤回"}
OUTCOMES = ("upheld", "rejected", "withdrawn")


def _today(conn: psycopg.Connection) -> dt.date:
    return conn.execute("select (now() at time zone 'Asia/Shanghai')::date").fetchone()[0]


def find_loan(conn: psycopg.Connection, pseudonymizer: Pseudonymizer, borrower_key: str, loan_ref: str,
              lender_code: str | None) -> tuple[str, str] | None:
    """(lender_code, loan_id) of the borrower's loan whose reference is loan_ref; a lender only among its own."""
    rows = conn.execute(
        "select distinct lender_code, loan_id from raw.loans where borrower_key = %s"
        " and (%s::text is null or lender_code = %s)", (borrower_key, lender_code, lender_code)).fetchall()
    for code, loan_id in rows:
        if pseudonymizer.loan_ref(code, loan_id) == loan_ref:
            return code, loan_id
    return None


def current_episode(conn: psycopg.Connection, lender_code: str, loan_id: str) -> int | None:
    """The loan's latest default episode as the transform last built it (None before any transform)."""
    if not conn.execute("select to_regclass('intermediate.int_default_episodes') is not null").fetchone()[0]:
        return None
    return conn.execute("select max(default_episode_no) from intermediate.int_default_episodes"
                        " where lender_code = %s and loan_id = %s", (lender_code, loan_id)).fetchone()[0]


def open_dispute(conn: psycopg.Connection, who: Caller, borrower_key: str, record: str, reason: str,
                 pseudonymizer: Pseudonymizer | None = None, *, lender_code: str | None = None,
                 loan_id: str | None = None, reason_code: str | None = None, loan_ref: str | None = None,
                 phone: str | None = None) -> dict[str, Any]:
    """Open a dispute on `record` ('listing', 'phone_link' or a loan reference); returns it with its deadline.

    `reason_code` narrows a listing dispute to one reason (B1, B2, ...). A phone link names its loan
    by `loan_ref` (or, for the association, `lender_code` and `loan_id`); `phone` picks the number
    when the loan reported more than one (it must be one the loan reported)."""
    pseudonymizer = pseudonymizer or load_pseudonymizer(get_settings().state_dir)
    reason = (reason or "").strip()
    if not reason or len(reason) > 1000:
        raise ExchangeError("D_REASON", "异议理由必填（最多1000字） / a reason is required (at most 1000 characters)")
    if reason_code is not None and (record != "listing" or not _REASON_CODE.match(reason_code)):
        raise ExchangeError("D_REASON_CODE", "原因代码仅适用于名单异议，格式如 B1 / a reason code (e.g. B1) applies to a"
                                             " listing dispute only")
    own = who.lender_code
    episode_no, phone_hash = None, None
    if record == "phone_link":
        kind = "phone_link"
        lender_code, loan_id, loan_ref = _disputed_loan(conn, pseudonymizer, who, borrower_key, loan_ref,
                                                        lender_code, loan_id)
        phone_hash = _disputed_phone(conn, pseudonymizer, borrower_key, lender_code, loan_id, phone)
    elif record == "listing":
        kind = "listing"
        if own is not None:
            reported = conn.execute("select 1 from raw.loans where borrower_key = %s and lender_code = %s limit 1",
                                    (borrower_key, own)).fetchone()
            if reported is None:
                raise ExchangeError("D_NOT_REPORTER", "贵机构未报送该借款人的记录，不能代为提出异议"
                                                      " / your institution reported no record of this borrower")
        lender_code, loan_id, loan_ref = own, None, None
    else:
        kind = "default_episode"
        lender_code, loan_id, loan_ref = _disputed_loan(conn, pseudonymizer, who, borrower_key, record,
                                                        lender_code, loan_id)
        episode_no = current_episode(conn, lender_code, loan_id)
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "insert into control.disputes (borrower_key, record_kind, lender_code, loan_id, loan_ref, opened_by,"
            " opened_party, opened_reason, default_episode_no, reason_code, phone_hash)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " returning dispute_id, record_kind, lender_code, loan_ref, default_episode_no, reason_code, opened_at,"
            " deadline, status",
            (borrower_key, kind, lender_code, loan_id, loan_ref, _actor(who), who.party, reason, episode_no,
             reason_code, phone_hash)).fetchone()
        cur.execute("insert into control.audit_log (action, object, detail) values ('dispute_opened', %s, %s)",
                    (str(row["dispute_id"]), json.dumps({"by": _actor(who), "record_kind": kind})))
    return _shape(row, _today(conn), who)


def _disputed_loan(conn: psycopg.Connection, pseudonymizer: Pseudonymizer, who: Caller, borrower_key: str,
                   loan_ref: str | None, lender_code: str | None, loan_id: str | None) -> tuple[str, str, str]:
    """(lender_code, loan_id, loan_ref) of the borrower's loan a dispute names: by lender code and
    contract number (the association), or by the loan reference members see (a lender among its own)."""
    if lender_code and loan_id and who.is_association:
        exists = conn.execute("select 1 from raw.loans where borrower_key = %s and lender_code = %s and loan_id = %s",
                              (borrower_key, lender_code, loan_id)).fetchone()
        if exists is None:
            raise ExchangeError("D_RECORD", "未找到该借款人的此笔贷款 / no such loan of this borrower")
        return lender_code, loan_id, pseudonymizer.loan_ref(lender_code, loan_id)
    if not loan_ref or not _LOAN_REF.match(loan_ref):
        raise ExchangeError("D_RECORD", "记录须为 listing、phone_link 或贷款编号(loan_ref)"
                                        " / record must be 'listing', 'phone_link' or a loan_ref")
    found = find_loan(conn, pseudonymizer, borrower_key, loan_ref, who.lender_code)
    if found is None:
        raise ExchangeError("D_RECORD", "未找到该借款人的此笔记录（机构只能对本机构报送的记录提出异议）"
                                        " / no such record of this borrower (a lender may dispute its own records only)")
    return found[0], found[1], loan_ref


def _disputed_phone(conn: psycopg.Connection, pseudonymizer: Pseudonymizer, borrower_key: str, lender_code: str,
                    loan_id: str, phone: str | None) -> str:
    """The phone hash of the contested link: the one the loan reported, or the given number's among
    them. The number is hashed here and goes no further (no clear phone in any table or log)."""
    reported = {h for (h,) in conn.execute(
        "select distinct phone_hash from raw.loans where borrower_key = %s and lender_code = %s and loan_id = %s"
        " and phone_hash is not null", (borrower_key, lender_code, loan_id))}
    if phone is not None:
        phone = phone.strip()
        if not check_phone(phone):
            raise ExchangeError("D_PHONE", "手机号码须为1开头的11位数字 / a mobile number is 11 digits starting with 1")
        wanted = pseudonymizer.phone_hash(phone)
        if wanted not in reported:
            raise ExchangeError("D_PHONE", "该笔贷款未报送此手机号码 / the loan did not report this mobile number")
        return wanted
    if len(reported) != 1:
        raise ExchangeError("D_PHONE", "该笔贷款未报送手机号码或报送了多个，请提供所异议的手机号码"
                                       " / the loan reported no or several mobile numbers: give the one contested")
    return reported.pop()


def resolve(conn: psycopg.Connection, who: Caller | None, dispute_id: int, outcome: str, reason: str) -> dict[str, Any]:
    """Association only: upheld (the record is corrected in the next version), rejected, or withdrawn by the
    person, with a reason. Only an upheld dispute changes what is published; the others end the mark."""
    if who is not None and not who.is_association:
        raise ExchangeError("D_FORBIDDEN", "仅行业协会可处理异议 / only the association resolves disputes")
    if outcome not in OUTCOMES:
        raise ExchangeError("D_OUTCOME", "处理结果须为 upheld、rejected 或 withdrawn / outcome must be upheld, rejected"
                                         " or withdrawn")
    reason = (reason or "").strip()
    if not reason or len(reason) > 1000:
        raise ExchangeError("D_REASON", "处理理由必填 / a reason is required (at most 1000 characters)")
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "update control.disputes set status = %s, resolution_reason = %s, resolved_by = %s, resolved_at = now()"
            " where dispute_id = %s and status = 'open'"
            " returning dispute_id, record_kind, lender_code, loan_ref, default_episode_no, reason_code, opened_at,"
            " deadline, status, resolved_at, resolution_reason", (outcome, reason, _actor(who), dispute_id)).fetchone()
        if row is None:
            raise ExchangeError("D_UNKNOWN", f"没有待处理的异议 {dispute_id} / no open dispute {dispute_id}")
        cur.execute("insert into control.audit_log (action, object, detail) values ('dispute_resolved', %s, %s)",
                    (str(dispute_id), json.dumps({"by": _actor(who), "outcome": outcome})))
    return _shape(row, _today(conn), who)


def list_disputes(conn: psycopg.Connection, who: Caller | None, *, status: str | None = None,
                  borrower_key: str | None = None) -> list[dict[str, Any]]:
    """Disputes newest first; a lender sees those on its own records. Overdue = open past the deadline."""
    lender = who.lender_code if who is not None else None
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "select dispute_id, borrower_key, record_kind, lender_code, loan_ref, default_episode_no, reason_code,"
            " opened_at, opened_party,"
            " opened_reason, deadline, status, resolved_at, resolution_reason from control.disputes"
            " where (%(lender)s::text is null or lender_code = %(lender)s)"
            " and (%(status)s::text is null or status = %(status)s)"
            " and (%(key)s::text is null or borrower_key = %(key)s)"
            " order by dispute_id desc", {"lender": lender, "status": status, "key": borrower_key}).fetchall()
    today = _today(conn)
    return [_shape(r, today, who) for r in rows]


def _shape(row: dict, today: dt.date, who: Caller | None) -> dict[str, Any]:
    out = dict(row)
    if who is not None and not who.is_association:
        out.pop("borrower_key", None)  # the key stays with the exchange; a lender knows its borrower
    out["status_zh"] = STATUS_ZH[out["status"]]
    out["days_left"] = (out["deadline"] - today).days if out["status"] == "open" else None
    out["overdue"] = out["status"] == "open" and out["deadline"] < today
    return out


def _actor(who: Caller | None) -> str:
    if who is None:
        return "association:cli"
    return "association" if who.is_association else f"lender:{who.lender_code}"
