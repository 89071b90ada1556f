"""`exchange pipeline`: the DAGs run in process, in dependency order, with their progress drawn."""

from __future__ import annotations

import datetime as dt
import time
from typing import TextIO

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from exchange.cli.output import console
from exchange.pipeline.run import DAG_ORDER, run_pipeline
from exchange.pipeline.watch import Watcher


@click.command()
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None, help="reporting date passed to the transform")
@click.option("--force", is_flag=True, help="run downstream DAGs even when no data changed and nothing is pending")
@click.option("--verbose", is_flag=True, help="show Airflow's task logs instead of writing them to .exchange/logs")
def pipeline(as_of: dt.datetime | None, force: bool, verbose: bool) -> None:
    """Run the DAGs in process (Airflow dag.test) in dependency order; resume what is pending."""
    run_and_report(as_of.date() if as_of else None, force, verbose)


def run_and_report(as_of: dt.date | None, force: bool, verbose: bool, only: tuple[str, ...] = DAG_ORDER) -> None:
    """Run the pipeline (or the DAGs in `only`) showing each DAG and task as it runs, then the time
    taken, where Airflow's logs went and what is still pending."""
    from exchange.core import db as database  # heavy: psycopg
    from exchange.pipeline.stages import pending

    database.up()
    started = time.monotonic()
    console.print("运行流水线 running the pipeline (Airflow dag.test) ...")
    for stage, state in pending().items():
        console.print(f"  继续 resuming {stage}: pending since {state['since']:%Y-%m-%d %H:%M} ({state['reason']};"
                      f" {state['attempts']} run(s) started since)")
    result = run_pipeline(as_of=as_of, force=force, quiet=not verbose, only=only, watcher=ProgressWatcher())
    if only == DAG_ORDER and (not result.runs or result.runs[-1].dag_id != "exchange_publish"):
        console.print("  nothing changed downstream of ingest: transform and publish not needed")
    console.print(f"  {time.monotonic() - started:.1f}s; Airflow logs: {result.log_path}")
    left = pending()
    if left:
        # a run limited to some DAGs (the demo's first call) leaves the rest pending on purpose
        limited = "" if only == DAG_ORDER else f"; this run was limited to {', '.join(only)}"
        console.print(f"  still pending 待办: {', '.join(left)} (the next `exchange pipeline` runs them{limited})")


class ProgressWatcher(Watcher):
    """Draws the run with rich: a line per DAG with its current task and units done of total.

    On a terminal the lines refresh in place; elsewhere (CI, a pipe) rich prints no live
    display, so each DAG gets one plain line when it ends and each failed task one line."""

    def __init__(self) -> None:
        self.progress: Progress | None = None
        self.bars: dict[str, TaskID] = {}
        self.saved_file: TextIO | None = None
        self.redirected = False

    def run_started(self, terminal: TextIO | None) -> None:
        if terminal is not None:  # fds 1 and 2 now go to the log: draw on the screen as it was
            self.saved_file = console._file  # None: the console follows sys.stdout, as it will again
            console.file = terminal
            self.redirected = True
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description:<20}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[unit]}"), TimeElapsedColumn(),
                                 TextColumn("{task.fields[current]}"), console=console,
                                 # what tasks print goes to the log file, never through the display
                                 redirect_stdout=False, redirect_stderr=False,
                                 disable=not console.is_terminal)
        self.progress.start()
        console.print("  解析 parsing the DAGs (the first parse lists the dbt project: up to a minute) ...")

    def run_finished(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        if self.redirected:
            console.file = self.saved_file

    def dag_started(self, dag_id: str, total: int, unit: str) -> None:
        self.bars[dag_id] = self.progress.add_task(f"  {dag_id}", total=total or None, unit=unit, current="starting")

    def task_started(self, dag_id: str, task: str) -> None:
        # dbt test tasks have names of 100 characters and more: keep the bar on one line
        self.progress.update(self.bars[dag_id], current=task if len(task) <= 48 else task[:47] + "…")

    def advanced(self, dag_id: str, done: int) -> None:
        self.progress.update(self.bars[dag_id], completed=done)

    def task_failed(self, dag_id: str, task: str, error: str) -> None:
        self.progress.console.print(f"  [red]✗[/red] {dag_id}.{task} failed: {error.splitlines()[0]}")

    def dag_finished(self, dag_id: str, state: str, seconds: float) -> None:
        bar = self.bars[dag_id]
        task = next(t for t in self.progress.tasks if t.id == bar)
        if task.total is None:  # nothing to count (no file waited): the bar ends as 0/0, not spinning on
            self.progress.update(bar, total=task.completed)
        self.progress.stop_task(bar)  # its clock shows this DAG's time, not the whole run's
        self.progress.update(bar, current=state)
        if not console.is_terminal:
            total = f"/{task.total:.0f}" if task.total else ""
            console.print(f"  {dag_id}: {state} in {seconds:.0f}s ({task.completed:.0f}{total} {task.fields['unit']})")
