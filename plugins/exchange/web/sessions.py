"""The portal's sessions and log-in limits, held in this process's memory.

A session is a random id in an HttpOnly, SameSite=Strict cookie, bound to the hash of the token
that logged in and carrying its own CSRF token. It is only as good as its token: the request
guard re-checks the token and its lender on every request (exchange.web.auth).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from exchange.access.ratelimit import RateLimiter

SESSION_COOKIE = "exchange_session"
SESSION_SECONDS = 8 * 3600


@dataclass(frozen=True)
class Session:
    token_hash: str
    csrf: str
    started: float


class Sessions:
    """The portal's sessions, at most `per_token` for each token (its oldest gives way to a new
    log-in), so one member logging in over and over can crowd out nobody but itself."""

    def __init__(self, per_token: int, lifetime: float = SESSION_SECONDS):
        self.per_token = max(per_token, 1)
        self.lifetime = lifetime
        self._by_id: dict[str, Session] = {}
        self._by_token: dict[str, OrderedDict[str, None]] = {}
        self._lock = threading.Lock()

    def start(self, token_hash: str) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        session = Session(token_hash, secrets.token_urlsafe(24), time.time())
        with self._lock:
            own = self._by_token.setdefault(token_hash, OrderedDict())
            while len(own) >= self.per_token:
                self._by_id.pop(own.popitem(last=False)[0], None)
            own[sid] = None
            self._by_id[sid] = session
        return sid, session

    def get(self, sid: str) -> Session | None:
        with self._lock:
            session = self._by_id.get(sid)
        if session is not None and time.time() - session.started > self.lifetime:
            self.end(sid)
            return None
        return session

    def end(self, sid: str) -> None:
        with self._lock:
            session = self._by_id.pop(sid, None)
            if session is not None:
                self._by_token.get(session.token_hash, {}).pop(sid, None)

    def end_token(self, token_hash: str) -> None:
        """Every session of a token that no longer authenticates (revoked, lender suspended)."""
        with self._lock:
            for sid in self._by_token.pop(token_hash, {}):
                self._by_id.pop(sid, None)


def sessions_from_env() -> Sessions:
    return Sessions(int(os.environ.get("EXCHANGE_PORTAL_SESSIONS_PER_TOKEN", "5")))


def login_limiters_from_env() -> tuple[RateLimiter, RateLimiter]:
    """(per token, per client address) log-in attempts a minute."""
    return (RateLimiter(float(os.environ.get("EXCHANGE_PORTAL_LOGINS_PER_TOKEN", "10"))),
            RateLimiter(float(os.environ.get("EXCHANGE_PORTAL_LOGINS_PER_ADDRESS", "60"))))
