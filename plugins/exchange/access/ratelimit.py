"""Token buckets by key: the one rate limiter of the exchange (look-ups per caller, portal log-ins
per token and per client address)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """`per_minute` events a minute for each key, in bursts up to `burst` (by default the minute's
    number, at least one).

    Memory stays bounded: past `max_keys` keys, buckets that have refilled (idle long enough to
    carry no history) are dropped; none that still limits someone is. `clock` is time.monotonic
    except in tests."""

    def __init__(self, per_minute: float, burst: float | None = None, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.capacity = max(per_minute, 1.0) if burst is None else burst
        self.rate_per_s = per_minute / 60.0
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        """key -> (tokens left, when last refilled)"""
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Spend one event of `key`'s allowance; False (nothing spent) when there is none left."""
        now = self._clock()
        with self._lock:
            if len(self._buckets) > self.max_keys:
                self._buckets = {k: b for k, b in self._buckets.items() if self._level(b, now) < self.capacity}
            level = self._level(self._buckets.get(key, (self.capacity, now)), now)
            if level < 1.0:
                self._buckets[key] = (level, now)
                return False
            self._buckets[key] = (level - 1.0, now)
            return True

    def _level(self, bucket: tuple[float, float], now: float) -> float:
        return min(self.capacity, bucket[0] + (now - bucket[1]) * self.rate_per_s)
