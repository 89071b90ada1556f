"""The lender registry's one read: whether a lender code is registered, and its status.

Every wing asks it (the door, tokens, alerts, submissions, look-ups), and an unknown code must
fail the same way everywhere (L_UNKNOWN) rather than as an empty list that reads like a lender
with nothing yet.
"""

from __future__ import annotations

from typing import Any

import psycopg

from exchange.core.errors import ExchangeError


def lender_status(conn: psycopg.Connection[Any], lender_code: str) -> str:
    """'active' or 'suspended'; raises L_UNKNOWN for a code the registry does not hold."""
    row = conn.execute("select status from control.lenders where lender_code = %s", (lender_code,)).fetchone()
    if row is None:
        raise ExchangeError("L_UNKNOWN", f"no lender {lender_code}")
    return row[0]
