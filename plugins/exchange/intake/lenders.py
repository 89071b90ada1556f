"""The lender registry (会员机构名录): who may submit, and the record of each change."""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg

from exchange.access.tokens import ensure_lender_role
from exchange.core import audit
from exchange.core.errors import ExchangeError

CATEGORIES = {
    "microloan_company": "小额贷款公司",
    "online_microloan_company": "网络小额贷款公司",
    "financing_guarantee_company": "融资担保公司",
}
_CODE = re.compile(r"^[A-Z0-9]{2,16}$")


@dataclass(frozen=True)
class Lender:
    code: str
    name: str
    category: str
    status: str


def add(conn: psycopg.Connection, code: str, name: str, category: str) -> bool:
    """Admit a lender; True if added, False if it already exists with the same name and category."""
    if not _CODE.match(code):
        raise ExchangeError("L_CODE", f"lender code {code!r} must be 2-16 upper-case letters or digits")
    if category not in CATEGORIES:
        raise ExchangeError("L_CATEGORY", f"category must be one of {', '.join(CATEGORIES)}")
    with conn.transaction():
        existing = conn.execute("select name, category from control.lenders where lender_code = %s", (code,)).fetchone()
        if existing:
            if existing != (name, category):
                raise ExchangeError("L_EXISTS", f"lender {code} exists as {existing[0]} ({existing[1]})")
            ensure_lender_role(conn, code)  # a database copied to another server lacks the role
            return False
        conn.execute("insert into control.lenders (lender_code, name, category) values (%s, %s, %s)",
                     (code, name, category))
        ensure_lender_role(conn, code)  # its database role: row-level security shows it its own rows only
        audit.record(conn, "lender_added", code, {"name": name, "category": category})
    return True


def set_status(conn: psycopg.Connection, code: str, status: str, reason: str) -> None:
    """Suspend or reinstate; files from a suspended lender are rejected (F_LENDER_SUSPENDED)."""
    with conn.transaction():
        updated = conn.execute("update control.lenders set status = %s, updated_at = now() where lender_code = %s",
                               (status, code)).rowcount
        if not updated:
            raise ExchangeError("L_UNKNOWN", f"no lender {code}")
        audit.record(conn, f"lender_{status}", code, {"reason": reason})


def list_all(conn: psycopg.Connection) -> list[Lender]:
    rows = conn.execute("select lender_code, name, category, status from control.lenders order by lender_code")
    return [Lender(*r) for r in rows]

