"""A small cache whose entries expire: the web keeps token checks and give-to-get verdict rows in
it, so revocation, suspension and new submissions take effect within its time to live."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any

MISSING: Any = object()
"""What get() answers for a key not held or held too long (None is a value worth caching)."""


class ExpiringCache:
    """Values kept `ttl` seconds, at most `max_entries` of them: past that the oldest gives way,
    one for each new entry, so a burst of new keys never empties the cache of everyone else's."""

    def __init__(self, ttl: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._items: dict[Hashable, tuple[float, Any]] = {}
        """key -> (when stored, value), oldest first: put() re-inserts at the end"""

    def get(self, key: Hashable) -> Any:
        hit = self._items.get(key)
        if hit is None or self._clock() - hit[0] >= self.ttl:
            return MISSING
        return hit[1]

    def put(self, key: Hashable, value: Any) -> None:
        self._items.pop(key, None)
        if len(self._items) >= self.max_entries:
            del self._items[next(iter(self._items))]
        self._items[key] = (self._clock(), value)
