"""Who is asking: per-lender database roles and API tokens (接口令牌).

Each lender gets a PostgreSQL role `lender_<code>` (member of `member_lender`) when it is
admitted, recorded in control.role_lenders; row-level security (migrations 0004, 0008) then shows
that role, and any login role that inherits it, its own rows only. API and
portal tokens are random strings given once to their holder; the exchange keeps only
their SHA-256, so a copy of the database cannot be used to call the API.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

import psycopg
from psycopg import sql

from exchange.core import audit
from exchange.core.errors import ExchangeError
from exchange.core.registry import lender_status

TOKEN_PREFIX = "cx_"
_TOKEN_RE = re.compile(r"^cx_[A-Za-z0-9_-]{20,80}$")
_CODE = re.compile(r"^[A-Z0-9]{2,16}$")


def lender_role(code: str) -> str:
    """The database role of a lender: lender_<code in lower case>."""
    if not _CODE.match(code):
        raise ExchangeError("L_CODE", f"lender code {code!r} must be 2-16 upper-case letters or digits")
    return f"lender_{code.lower()}"


def ensure_lender_role(conn: psycopg.Connection, code: str) -> str:
    """Create the lender's role if the server has none yet (roles are server-wide) and make it a member."""
    role = lender_role(code)
    conn.execute(sql.SQL("""
        do $$ begin
            if not exists (select 1 from pg_roles where rolname = {name}) then
                begin
                    create role {role} nologin in role member_lender;
                exception when duplicate_object or unique_violation then null;
                end;
            end if;
        end $$""").format(name=sql.Literal(role), role=sql.Identifier(role)))
    conn.execute(sql.SQL("grant member_lender to {}").format(sql.Identifier(role)))
    # the role is the lender: row-level security finds the code here (migration 0008), never in a setting
    conn.execute("insert into control.role_lenders (role_name, lender_code) values (%s, %s) on conflict do nothing",
                 (role, code))
    return role


@dataclass(frozen=True)
class Caller:
    """The holder of a valid token: a lender (with its code), the association, or an analyst
    (portal dashboards and docs only)."""

    party: str
    lender_code: str | None
    token_id: int

    @property
    def is_association(self) -> bool:
        return self.party == "association"

    @property
    def is_analyst(self) -> bool:
        return self.party == "analyst"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(conn: psycopg.Connection, *, lender_code: str | None, label: str = "",
                analyst: bool = False) -> tuple[int, str]:
    """A new token for a lender, or without lender_code for the association (or, `analyst`, for an
    analyst's portal login); returns (id, token).

    The token is shown once; only its hash is stored.
    """
    if analyst and lender_code is not None:
        raise ExchangeError("K_PARTY", "an analyst token belongs to no lender")
    if lender_code is not None:
        lender_status(conn, lender_code)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    party = "lender" if lender_code is not None else "analyst" if analyst else "association"
    with conn.transaction():
        token_id = conn.execute(
            "insert into control.api_tokens (party, lender_code, token_hash, token_prefix, label)"
            " values (%s, %s, %s, %s, %s) returning token_id",
            (party, lender_code, hash_token(token), token[:9], label)).fetchone()[0]
        audit.record(conn, "token_issued", lender_code or party, {"token_id": token_id, "label": label})
    return token_id, token


def revoke_token(conn: psycopg.Connection, token_id: int, reason: str) -> None:
    with conn.transaction():
        row = conn.execute("update control.api_tokens set revoked_at = now() where token_id = %s"
                           " and revoked_at is null returning coalesce(lender_code, party)",
                           (token_id,)).fetchone()
        if row is None:
            raise ExchangeError("K_UNKNOWN", f"no active token {token_id}")
        audit.record(conn, "token_revoked", row[0], {"token_id": token_id, "reason": reason})


def list_tokens(conn: psycopg.Connection, lender_code: str | None = None) -> list[dict]:
    rows = conn.execute(
        "select token_id, party, lender_code, token_prefix, label, issued_at, revoked_at from control.api_tokens"
        " where %(lender)s::text is null or lender_code = %(lender)s order by token_id", {"lender": lender_code})
    keys = ("token_id", "party", "lender_code", "prefix", "label", "issued_at", "revoked_at")
    return [dict(zip(keys, r, strict=True)) for r in rows]


AUTH_SQL = ("select t.token_id, t.party, t.lender_code from control.api_tokens t"
            " left join control.lenders l on l.lender_code = t.lender_code"
            " where t.token_hash = %s and t.revoked_at is null and (t.party <> 'lender' or l.status = 'active')")


def well_formed(token: str | None) -> bool:
    return bool(token) and bool(_TOKEN_RE.match(token))


def caller_from_row(row: tuple | None) -> Caller | None:
    return None if row is None else Caller(party=row[1], lender_code=row[2], token_id=row[0])


def authenticate(conn: psycopg.Connection, token: str | None) -> Caller | None:
    """The caller a token belongs to; None for a missing, malformed, unknown or revoked token,
    or a lender no longer active."""
    if not well_formed(token):
        return None
    return caller_from_row(conn.execute(AUTH_SQL, (hash_token(token),)).fetchone())

