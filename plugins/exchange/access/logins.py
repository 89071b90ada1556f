"""Database logins for analysts (分析人员登录账号): a person reads the marts as a role of their own.

An analyst login is a PostgreSQL role `analyst_<name>` that can log in and is a member of the
`analyst` group, which reads the marts schema and nothing else (no raw zone, no shared feed, no
control tables: migration 0004). Each person gets their own role so that access is granted,
audited and withdrawn per person: pseudonymized keys in the marts are still personal data
(个人信息保护法 art. 73). The password is generated here and shown once; only PostgreSQL keeps
its hash.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from exchange.core import audit
from exchange.core.errors import ExchangeError

ANALYST_GROUP = "analyst"
ANALYST_PREFIX = "analyst_"
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


@dataclass
class AnalystLogin:
    role: str
    password: str
    conninfo: str
    """Where to connect as this login (psql, DBeaver, psycopg, pandas): the exchange's server and database."""


def login_role(name: str) -> str:
    """`analyst_<name>`; the name is lowercase letters, digits and underscores (a role name unquoted)."""
    if not _NAME.match(name):
        raise ExchangeError("A_LOGIN_NAME", f"{name!r}: use 2-41 lowercase letters, digits or _, starting with a letter")
    return ANALYST_PREFIX + name


def add_analyst(conn: psycopg.Connection, name: str, database_url: str) -> AnalystLogin:
    """Create the login in the analyst group with a new password; A_LOGIN_EXISTS if it is there."""
    role = login_role(name)
    if conn.execute("select 1 from pg_catalog.pg_roles where rolname = %s", (role,)).fetchone():
        raise ExchangeError("A_LOGIN_EXISTS",
                            f"{role} exists; `exchange analysts remove {name}` first to give a new password")
    password = secrets.token_urlsafe(24)
    with conn.transaction():
        conn.execute(sql.SQL("create role {} login password {} in role {}").format(
            sql.Identifier(role), sql.Literal(password), sql.Identifier(ANALYST_GROUP)))
        audit.record(conn, "analyst_login_added", role, {})
    where = conninfo_to_dict(database_url)
    return AnalystLogin(role, password, make_conninfo(**{**where, "user": role, "password": password}))


def remove_analyst(conn: psycopg.Connection, name: str) -> bool:
    """Drop the login (it owns nothing: the group holds the privileges); False if it did not exist."""
    role = login_role(name)
    if not _is_analyst_login(conn, role):
        return False
    with conn.transaction():
        conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))
        audit.record(conn, "analyst_login_removed", role, {})
    return True


def list_analysts(conn: psycopg.Connection) -> list[dict]:
    """The analyst logins with when each was added (from the audit trail)."""
    return [{"role": role, "added_at": added} for role, added in conn.execute(
        "select r.rolname, (select max(a.at) from control.audit_log a"
        "                   where a.action = 'analyst_login_added' and a.object = r.rolname)"
        " from pg_catalog.pg_roles r"
        " where r.rolcanlogin and r.rolname like %s"
        "   and pg_catalog.pg_has_role(r.oid, %s, 'MEMBER') order by 1",
        (ANALYST_PREFIX + "%", ANALYST_GROUP))]


def _is_analyst_login(conn: psycopg.Connection, role: str) -> bool:
    return conn.execute(
        "select 1 from pg_catalog.pg_roles r where r.rolname = %s and r.rolcanlogin"
        " and pg_catalog.pg_has_role(r.oid, %s, 'MEMBER')", (role, ANALYST_GROUP)).fetchone() is not None
