"""What a process that forks Airflow's tasks prepares for them before forking (exchange.pipeline.preload).

The scheduler and the Celery workers decode dbt's saved parse and parse the DAG files once; each
forked task then takes the result instead of computing it again. The rule is the same for both and
lives here: a forked process takes a value at most once (the task may then change it, and its
copy is its own after the fork), and the process that prepared it never takes it, so its own work
is done as always.
"""

from __future__ import annotations

import os
from collections.abc import Hashable


class ForkHandover:
    """Values by key, prepared in one process for the processes forked from it."""

    def __init__(self) -> None:
        self._pid: int | None = None
        self._values: dict[Hashable, object] = {}

    def give(self, values: dict[Hashable, object]) -> None:
        """Replace what is handed over with `values`, prepared by this process."""
        self._values = dict(values)
        self._pid = os.getpid()

    def take(self, key: Hashable) -> object | None:
        """The value of `key`, once, in a process forked after give(); None in the preparing process,
        for an unknown key, and for a key already taken."""
        if self._pid in (None, os.getpid()):
            return None
        return self._values.pop(key, None)

    def prepared(self, key: Hashable) -> object | None:
        """The value of `key` without taking it (for the preparing process and its tests)."""
        return self._values.get(key)
