"""Runs the project's DAGs in process through Airflow's own `dag.test`, in dependency order.

`dag.test` neither raises on a failed task nor follows Asset triggers, so this driver
checks each run's state and starts the consumer of an updated Asset itself. The ingest run
updates its Asset when files changed or a later stage is still pending
(exchange.pipeline.stages), so a plain rerun resumes a transform or publication that failed
or was killed. A failed run raises ExchangeError P_DAG_FAILED naming the DAG, the task, the
first lines of its error, the log and the command to rerun. One run per exchange home at a
time (a file lock); runs a killed one left queued or running are marked failed before it
starts, so their stages are resumed, not awaited. Progress goes to a Watcher
(exchange.pipeline.watch) as tasks start and end. Airflow's metadata lives in a SQLite
database under .exchange/airflow (set before Airflow is imported, which is why nothing here
imports it at module level).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from filelock import FileLock, Timeout

from exchange.core.errors import ExchangeError
from exchange.core.settings import PROJECT_ROOT, Settings, get_settings
from exchange.feed.publish import raise_if_gate_failed
from exchange.intake.ingest import landing_files
from exchange.pipeline.dbt import dbt_env, ensure_manifest
from exchange.pipeline.pools import DB_POOL_SLOTS
from exchange.pipeline.stages import forget_announcements
from exchange.pipeline.watch import TaskFailure, Watcher, listening

DAG_ORDER = ("exchange_ingest", "exchange_transform", "exchange_publish")
"""Producer first; each later DAG consumes the Asset of the one before."""
RERUN = "exchange pipeline"
"""The command that resumes the pending stages after a failure (no --force needed)."""


def configure_airflow(settings: Settings) -> Path:
    """Point Airflow at this project's DAGs and a private SQLite metadata DB; return the log dir."""
    home = Path(os.environ.get("AIRFLOW_HOME") or settings.state_dir / "airflow")
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),  # the package is installed; no Airflow plugins
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        # Cosmos keeps dbt's partial-parse file here, not in the machine-wide /tmp/cosmos another
        # exchange or profile would share (as `exchange airflow up` does for a deployment)
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://localhost:8080/execution/",
        "DO_NOT_TRACK": "1",
        "GX_ANALYTICS_ENABLED": "false",
        "EXCHANGE_HOME": str(settings.home),
    })
    # dbt's connection for the Cosmos tasks, set by the runner (as `exchange airflow up` does for a
    # deployment), never while a DAG file is parsed
    os.environ.update(dbt_env())
    logs = settings.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return logs


@dataclass
class DagResult:
    dag_id: str
    state: str
    run_id: str
    task_states: dict[str, str] = field(default_factory=dict)


@dataclass
class PipelineResult:
    runs: list[DagResult]
    log_path: Path


@contextlib.contextmanager
def _output_to(path: Path | None) -> Iterator[TextIO | None]:
    """Send everything written to fds 1 and 2 (Airflow's task logs) to a file, then restore.

    Yields a stream on the terminal as it was (None when nothing is redirected), for progress.
    """
    if path is None:
        yield None
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved[0]), "w", encoding=sys.stdout.encoding or "utf-8", errors="replace",
                         closefd=True)
    with path.open("ab") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield terminal
        finally:
            terminal.close()
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run_pipeline(*, as_of: dt.date | None = None, force: bool = False, quiet: bool = True,
                 only: tuple[str, ...] = DAG_ORDER, settings: Settings | None = None,
                 watcher: Watcher | None = None) -> PipelineResult:
    """Ingest, then (if the raw Asset was updated, or `force`) the DAGs downstream of it.

    `only` limits the run to some of the DAGs (in their dependency order). `watcher` hears of
    each DAG and task as it starts and ends.
    """
    settings = settings or get_settings()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(settings.state_dir / "pipeline.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ExchangeError("P_BUSY", f"another `{RERUN}` is running on this exchange ({settings.home});"
                            " wait for it to end") from None
    try:
        return _run_pipeline(as_of, force, quiet, only, settings, watcher or Watcher())
    finally:
        lock.release()


def _run_pipeline(as_of: dt.date | None, force: bool, quiet: bool, only: tuple[str, ...], settings: Settings,
                  watcher: Watcher) -> PipelineResult:
    logs = configure_airflow(settings)
    log_path = logs / f"pipeline-{dt.datetime.now():%Y%m%d-%H%M%S}.log"
    runs: list[DagResult] = []
    with _output_to(log_path if quiet else None) as terminal:
        watcher.run_started(terminal)
        try:
            from airflow.dag_processing.dagbag import DagBag
            from airflow.utils import db as airflow_db

            airflow_db.upgradedb()
            _fail_interrupted_runs()
            forget_announcements()
            ensure_manifest()  # the transform DAG renders its tasks from dbt's manifest
            bag = DagBag(str(PROJECT_ROOT / "dags"))
            if bag.import_errors:
                raise ExchangeError("P_DAG_IMPORT", f"DAG import errors: {bag.import_errors}; log: {log_path}")
            _ensure_pools(bag.dags.values())
            conf = {"as_of": as_of.isoformat() if as_of else None}
            for dag_id in (d for d in DAG_ORDER if d in only):
                dag = bag.get_dag(dag_id)
                if dag is None:
                    continue
                if runs and not (force or _asset_updated(runs[-1])):
                    break
                result, failures = _run_dag(dag, conf if "as_of" in dag.params else None, watcher, settings)
                runs.append(result)
                if result.state != "success":
                    raise _failure(result, failures, log_path)
        finally:
            watcher.run_finished()
    return PipelineResult(runs, log_path)


def _fail_interrupted_runs() -> None:
    """Mark failed the DAG runs a killed `exchange pipeline` left queued or running in the private
    metadata DB. Under the lock no other run can be in flight, and the ingest's announcement
    waits for runs in flight (exchange.pipeline.stages): left as they are, they would keep their
    stages waiting instead of resumed."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    with create_session() as session:
        for state in (DagRunState.QUEUED, DagRunState.RUNNING):
            for run in DagRun.find(state=state, session=session):
                run.set_state(DagRunState.FAILED)


def _ensure_pools(dags: Any) -> None:
    """Create the pools the tasks name (exchange.pipeline.assets.DB_POOL) in this private metadata
    DB when absent. `dag.test` itself runs scheduled tasks without looking at pools (Airflow 3.3),
    but the scheduler never queues a task whose pool does not exist, so the metadata matches a
    deployment's, which creates its own; an existing pool's slots are left alone. (The name comes
    from the DAGs: importing the assets module here would read Airflow's settings before
    configure_airflow sets them.)"""
    from airflow.models.pool import Pool

    for name in sorted({t.pool for dag in dags for t in dag.tasks} - {Pool.DEFAULT_POOL_NAME}):
        if Pool.get_pool(name) is None:
            Pool.create_or_update_pool(name, slots=DB_POOL_SLOTS, description="exchange: tasks that hold PostgreSQL"
                                       " connections (ingest per lender, gate, publish)", include_deferred=False)


def _run_dag(dag: Any, conf: dict | None, watcher: Watcher, settings: Settings) -> tuple[DagResult, list[TaskFailure]]:
    """One dag.test run, its progress reported as tasks start and end."""
    total, unit, counts = _measure(dag, settings)
    watcher.dag_started(dag.dag_id, total, unit)
    started = time.monotonic()
    polling = _LandingPoll(watcher, dag.dag_id, total, settings) if dag.dag_id == "exchange_ingest" else None
    with listening(watcher, counts) as listener:
        if polling:
            polling.start()
        try:
            dr = dag.test(logical_date=None, run_conf=conf)
        finally:
            if polling:
                polling.stop()
    result = DagResult(dag.dag_id, str(dr.state), dr.run_id,
                       {f"{ti.task_id}[{ti.map_index}]" if ti.map_index >= 0 else ti.task_id: str(ti.state)
                        for ti in dr.get_task_instances()})
    watcher.dag_finished(dag.dag_id, result.state, time.monotonic() - started)
    return result, listener.failures


def _measure(dag: Any, settings: Settings) -> tuple[int, str, Callable[[str], bool]]:
    """What a DAG's progress counts: files for ingest (the landing zone empties as they load),
    the dbt tasks (a model with its tests each) for transform, tasks otherwise."""
    if dag.dag_id == "exchange_ingest":
        return len(landing_files(settings)), "files", lambda task_id: False
    dbt = [t for t in dag.task_ids if t.startswith("dbt.")]
    if dbt:
        return len(dbt), "dbt models", lambda task_id: task_id.startswith("dbt.")
    return len(dag.task_ids), "tasks", lambda task_id: True


class _LandingPoll:
    """Files of the landing zone ingested so far (each leaves landing/ once loaded), every half second."""

    def __init__(self, watcher: Watcher, dag_id: str, total: int, settings: Settings):
        self.watcher, self.dag_id, self.total, self.settings = watcher, dag_id, total, settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="landing-poll", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._report()

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            self._report()

    def _report(self) -> None:
        self.watcher.advanced(self.dag_id, max(0, self.total - len(landing_files(self.settings))))


def _failure(run: DagResult, failures: list[TaskFailure], log_path: Path) -> ExchangeError:
    """The error of a failed DAG run: where it failed, why, the log, and how to resume.

    A failed quality gate is no failure to retry: it raises GateFailed (the version waits for
    `exchange feed approve`)."""
    if run.dag_id == "exchange_publish" and any(f.error.startswith("GateFailed") for f in failures):
        raise_if_gate_failed(f"the pipeline does not retry a failed gate; log: {log_path}")
    failed = [f for f in failures if f.dag_id == run.dag_id] or [
        TaskFailure(run.dag_id, task, "(no error reached the runner; see the log)")
        for task, state in run.task_states.items() if state == "failed"]
    where = ", ".join(f.task for f in failed) or "(no task failed: the run ended " + run.state + ")"
    first = failed[0].error.replace("\n", " | ") if failed else ""
    return ExchangeError(
        "P_DAG_FAILED",
        f"{run.dag_id} failed at task {where}: {first}; log: {log_path}; "
        f"rerun `{RERUN}` to resume: pending stages and waiting files run again, no --force needed")


def _asset_updated(run: DagResult) -> bool:
    """The producer's outlet task succeeded (it skips itself when nothing changed)."""
    return any(state == "success" and task in ("announce", "publish") for task, state in run.task_states.items())
