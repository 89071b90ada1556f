"""The data-subject report (本人信用报告): everything the exchange holds about one borrower key.

Current listing and reasons, default episodes, each loan's 24-month repayment profile,
dispute marks, and the look-ups made about the person (when, which institution, the association
included, and its category, purpose).
The association hands it to the person (征信业管理条例 art. 17), as JSON or as an HTML page.
Producing a report is itself recorded in control.audit_log.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from .lookup import CATEGORY_ZH, PURPOSES, REASONS, STATUS_ZH

ASSOCIATION_ZH = "行业协会"
"""How the report names the association when it looked (in the language of the lenders' names)."""


def _rows(conn: psycopg.Connection, sql: str, params: tuple) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()


def _exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


def build(conn: psycopg.Connection, borrower_key: str, id_type: str) -> dict[str, Any]:
    live = conn.execute("select version from shared.live_version").fetchone()
    listing = _rows(conn, "select reason_codes, first_listed_date, lenders_count, total_overdue, max_dpd,"
                          " notice_date, disputed, dispute_deadline from shared.blacklist where borrower_key = %s",
                    (borrower_key,))
    episodes = _rows(conn, "select f.loan_ref, f.lender_code, l.name as lender_name, f.lender_category, f.product_type,"
                           " f.default_date, f.max_dpd, f.amount_at_default, f.episode_status, f.end_date,"
                           " f.purge_date, f.notice_date, f.disputed from shared.default_feed f"
                           " left join control.lenders l using (lender_code)"
                           " where f.borrower_key = %s order by f.default_date", (borrower_key,))
    loans: list[dict] = []
    if _exists(conn, "marts.fct_loan_status"):
        loans = _rows(conn, """
            select distinct on (s.lender_code, s.loan_id) s.lender_code, l.name as lender_name, s.loan_id,
                   s.product_type, s.as_of_date, s.account_status, s.outstanding_principal, s.dpd,
                   s.repayment_profile_24m
            from marts.fct_loan_status s left join control.lenders l using (lender_code)
            where s.borrower_key = %s
            order by s.lender_code, s.loan_id, s.as_of_date desc""", (borrower_key,))
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
        blacklist = b | {"reasons": [{"code": c, "message_zh": REASONS[c][0], "message_en": REASONS[c][1]}
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
        "loans": loans,
        "disputes": disputes,
        "lookups": lookups,
    })


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


def render_html(data: dict[str, Any]) -> str:
    from .portal import templates

    return templates.get_template("report.html").render(r=data)
