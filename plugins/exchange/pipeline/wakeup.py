"""The scheduler's idle sleep, cut short when a LocalExecutor worker reports a task's end.

Airflow's scheduler loop sleeps `scheduler_idle_sleep_time` after a loop that queued no task and
received no event, and only the next loop sees that a task ended and queues the next one. With the
LocalExecutor the month's transform runs some 65 tasks on the `exchange_db` pool's two slots one
after the other, and a slot stood free for each task while its successor waited for the loop:
27.4 slot-seconds of a 169 s transform at a million loans, 27.2 of 72 s at 200k loans (the time a
slot was free while a task whose upstream had ended waited; a local deployment's month,
2026-12-07). A shorter sleep costs CPU on every idle loop, which the month's own tasks need on two
cores (exchange.pipeline.deploy.SCHEDULER_IDLE_SLEEP_S).

So in a scheduler process the sleep waits on the LocalExecutors' result queues as well, and ends
when a worker puts a result there: a task picked up or ended. Nothing else changes: the loop still
sleeps the configured time when no result comes, reads the results itself, and with another
executor (Celery) sleeps as before. A worker reports after the task's final state is in the
metadata database (the task's supervisor sets it through the Execution API first), so the loop it
wakes sees the upstream done and queues what follows.
"""

from __future__ import annotations

import time
from multiprocessing import SimpleQueue
from multiprocessing.connection import wait
from types import ModuleType

_RESULT_QUEUES: list[SimpleQueue] = []
"""The result queues of the LocalExecutors started in this process."""


class _WakingTime(ModuleType):
    """The `time` module as the scheduler loop sees it: its sleep also ends on a worker's result."""

    def __init__(self) -> None:
        super().__init__("time")

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        readers = [queue._reader for queue in _RESULT_QUEUES if not queue._reader.closed]
        if readers:
            wait(readers, timeout=seconds)
        else:
            time.sleep(seconds)


def wake_on_results() -> bool:
    """Install the waking sleep in this process's scheduler loop (before the scheduler starts);
    whether it is installed. An Airflow whose scheduler module no longer sleeps through the module
    `time`, or whose LocalExecutor has no result queue, keeps its own sleep. Safe to call again."""
    from airflow.executors.local_executor import LocalExecutor
    from airflow.jobs import scheduler_job_runner

    if isinstance(scheduler_job_runner.__dict__.get("time"), _WakingTime):
        return True
    if scheduler_job_runner.__dict__.get("time") is not time or "result_queue" not in LocalExecutor.__annotations__:
        return False
    start = LocalExecutor.start

    def start_and_register(executor: LocalExecutor) -> None:
        start(executor)
        _RESULT_QUEUES.append(executor.result_queue)

    LocalExecutor.start = start_and_register
    scheduler_job_runner.time = _WakingTime()
    return True
