"""What a pipeline run is doing, as it happens: the events the in-process runner reports.

`dag.test` runs each task in this process through the Task SDK's task runner, which calls the
SDK listener manager's hooks (on_task_instance_running / success / failed / skipped) around
every task. `listening` registers a listener there for the length of a run and turns the hooks
into Watcher calls; the runner adds what no hook tells (files left in the landing zone). The CLI
draws them (exchange.cli.pipeline); the runner keeps each failed task's first error lines for
its failure message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

ERROR_LINES = 4
"""Lines of a failed task's error kept for the failure message (the full trace is in the log)."""


class Watcher:
    """Receives a run's progress; every method does nothing unless overridden."""

    def run_started(self, terminal: TextIO | None) -> None:
        """The run begins. While it lasts, fds 1 and 2 go to the log file: `terminal` is the
        screen as it was (None when nothing is redirected, under --verbose)."""

    def run_finished(self) -> None:
        """The run ended (after its last DAG, or on the way out of a failure)."""

    def dag_started(self, dag_id: str, total: int, unit: str) -> None:
        """A DAG run begins: `total` units (files, models, tasks) to get through."""

    def task_started(self, dag_id: str, task: str) -> None:
        """A task (with its map label, e.g. `ingest_lender[XD01]`) starts."""

    def advanced(self, dag_id: str, done: int) -> None:
        """`done` of the DAG's units are through."""

    def task_failed(self, dag_id: str, task: str, error: str) -> None:
        """A task failed with these first lines of its error."""

    def dag_finished(self, dag_id: str, state: str, seconds: float) -> None:
        """The DAG run ended in `state`."""


@dataclass
class TaskFailure:
    dag_id: str
    task: str
    error: str


@dataclass(eq=False)  # registered by identity
class _Listener:
    """The Airflow listener: pluggy finds its hook methods by name (hookimpl markers)."""

    watcher: Watcher
    counts: Callable[[str], bool]  # whether a finished task (by id) is one unit of the DAG's progress
    done: int = 0
    failures: list[TaskFailure] = field(default_factory=list)

    def _label(self, ti: Any) -> str:
        mapped = getattr(ti, "map_index", -1)
        if mapped is None or mapped < 0:
            return ti.task_id
        return f"{ti.task_id}[{getattr(ti, 'rendered_map_index', None) or mapped}]"

    def _finished(self, ti: Any) -> None:
        if self.counts(ti.task_id):
            self.done += 1
            self.watcher.advanced(ti.dag_id, self.done)


def first_lines(error: object) -> str:
    """The first non-empty lines of an error, each cut to 240 characters."""
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error or "")
    lines = [line.strip()[:240] for line in text.splitlines() if line.strip()]
    return "\n".join(lines[:ERROR_LINES]) or "(no message)"


def _hooks() -> type:
    """The hook methods, marked for pluggy (imported late: Airflow reads its settings on import)."""
    from airflow.listeners import hookimpl

    class Hooks(_Listener):
        @hookimpl
        def on_task_instance_running(self, previous_state: Any, task_instance: Any) -> None:
            self.watcher.task_started(task_instance.dag_id, self._label(task_instance))

        @hookimpl
        def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
            self._finished(task_instance)

        @hookimpl
        def on_task_instance_skipped(self, previous_state: Any, task_instance: Any) -> None:
            self._finished(task_instance)

        @hookimpl
        def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
            failure = TaskFailure(task_instance.dag_id, self._label(task_instance), first_lines(error))
            self.failures.append(failure)
            self.watcher.task_failed(failure.dag_id, failure.task, failure.error)
            self._finished(task_instance)

    return Hooks


@contextlib.contextmanager
def listening(watcher: Watcher, counts: Callable[[str], bool]) -> Iterator[_Listener]:
    """Register a listener with the Task SDK's listener manager for one DAG run."""
    from airflow.sdk.listener import get_listener_manager

    listener = _hooks()(watcher, counts)
    manager = get_listener_manager()
    manager.add_listener(listener)
    try:
        yield listener
    finally:
        manager.pm.unregister(listener)
