"""What the web app keeps per process: the database pool, the pseudonymizer, the caches, the
look-up quota and the portal's sessions.

One pool: asyncpg on the event loop, for every query the web makes itself (tokens, look-ups,
the portal's pages). The lower floors' functions the web calls (data-subject reports, disputes,
members' export copies) are written for psycopg, as the CLI runs them: `call_with_connection`
runs one in a worker thread on a connection of its own, at most EXCHANGE_API_POOL (8) at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import asyncpg
import psycopg
from psycopg.conninfo import conninfo_to_dict

from exchange.access import lookup as lk
from exchange.access import tokens as access
from exchange.core import db
from exchange.core.identifiers import load_pseudonymizer
from exchange.core.settings import get_settings
from exchange.web.cache import MISSING, ExpiringCache
from exchange.web.guard import DB_UNAVAILABLE, log
from exchange.web.sessions import login_limiters_from_env, sessions_from_env

T = TypeVar("T")
_AUTH_PG = lk.dollar_params(access.AUTH_SQL)[0]


class State:
    """Created when the app starts (lifespan); routes find it on request.app.state.exchange."""

    def __init__(self) -> None:
        self.settings = get_settings()
        self.url = db.database_url()
        self.pool: asyncpg.Pool | None = None
        """Opened by start()."""
        self.pseudonymizer = load_pseudonymizer(self.settings.state_dir)
        self.quota = lk.LookupQuota()
        self.give_to_get = lk.GiveToGet.from_env()
        self.give_to_get_rows = ExpiringCache(float(os.environ.get("EXCHANGE_GIVE_TO_GET_CACHE_SECONDS", "60")))
        """lender -> its G2G_SQL row: a lender's new submission counts within this time."""
        self.tokens = ExpiringCache(float(os.environ.get("EXCHANGE_TOKEN_CACHE_SECONDS", "10")))
        """token hash -> Caller or None (no clear token kept around)."""
        self.sessions = sessions_from_env()
        self.login_limits = login_limiters_from_env()
        self._library_calls = anyio.CapacityLimiter(int(os.environ.get("EXCHANGE_API_POOL", "8")))

    async def start(self) -> None:
        """Open the pool. EXCHANGE_AUDIT_COMMIT=off trades the audit rows of the last fraction of a
        second before a database crash for not waiting on the disk flush per look-up.

        The pool connects lazily (min_size 0) and one warm-up query is tried: a server started while
        the database is away (crash recovery, a restart) comes up and answers 503 until it is back."""
        params = conninfo_to_dict(self.url)
        commit = "off" if os.environ.get("EXCHANGE_AUDIT_COMMIT", "on") == "off" else "on"
        self.pool = await asyncpg.create_pool(
            host=params.get("host"), port=int(params.get("port") or 5432), user=params.get("user"),
            password=params.get("password"), database=params.get("dbname"),
            min_size=0, max_size=int(os.environ.get("EXCHANGE_API_ASYNC_POOL", "8")),
            # generic plans: the look-up statement reads the member views (one definition of what a
            # member sees, migration 0012), whose custom plans PostgreSQL would otherwise re-plan on
            # every call (measured: 1.0 ms of server CPU per look-up instead of 0.4)
            server_settings={"synchronous_commit": commit, "application_name": "exchange-api",
                             "plan_cache_mode": "force_generic_plan"},
            reset=_no_reset)
        try:
            await self.pool.execute("select 1")
        except DB_UNAVAILABLE as exc:
            log.warning("database unavailable at start (%s): answering 503 until it is back", type(exc).__name__)

    async def close(self) -> None:
        await self.pool.close()

    async def caller_for_token(self, token: str | None) -> access.Caller | None:
        """The token's holder, or None for a malformed, unknown or revoked token or a lender no longer active."""
        if not access.well_formed(token):
            return None
        return await self.caller_for_hash(access.hash_token(token))

    async def caller_for_hash(self, hashed: str) -> access.Caller | None:
        """The one authentication path of the API and the portal's sessions, cached by token hash:
        revocation and suspension take effect within EXCHANGE_TOKEN_CACHE_SECONDS."""
        found = self.tokens.get(hashed)
        if found is MISSING:
            row = await self.pool.fetchrow(_AUTH_PG, hashed)
            found = access.caller_from_row(None if row is None else tuple(row))
            self.tokens.put(hashed, found)
        return found

    async def call_with_connection(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """fn(conn, *args, **kwargs) in a worker thread on an autocommit psycopg connection of its own."""
        def run() -> T:
            with psycopg.connect(self.url, autocommit=True, application_name="exchange-api") as conn:
                return fn(conn, *args, **kwargs)

        return await anyio.to_thread.run_sync(run, limiter=self._library_calls)


async def _no_reset(conn: asyncpg.Connection) -> None:
    """The web leaves no session state (no SET outside a transaction, no LISTEN), so the pool's
    default reset, a whole extra round trip per look-up, is skipped; asyncpg still rolls back a
    transaction left open."""
