"""The administrative audit trail (control.audit_log): who admitted, suspended, issued or revoked what.

One writer for every wing, so every action is recorded the same way: the actor is the database
role (current_user, the column default), the detail is JSON with Chinese kept as is.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg


def record(conn: psycopg.Connection, action: str, obj: str, detail: dict[str, Any]) -> None:
    """Append one audit row in the caller's transaction (it commits or rolls back with the action)."""
    conn.execute("insert into control.audit_log (action, object, detail) values (%s, %s, %s)",
                 (action, obj, json.dumps(detail, ensure_ascii=False, default=str)))
