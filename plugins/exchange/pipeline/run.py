"""Runs the project's DAGs in process through Airflow's own `dag.test`, in dependency order.

`dag.test` neither raises on a failed task nor follows Asset triggers, so this driver
checks each run's state and starts the consumer of an updated Asset itself. Airflow's
metadata lives in a SQLite database under .exchange/airflow (set before Airflow is
imported, which is why nothing here imports it at module level).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from exchange.core.errors import ExchangeError
from exchange.core.settings import PROJECT_ROOT, Settings, get_settings
from exchange.feed.publish import raise_if_gate_failed
from exchange.pipeline.dbt import dbt_env, ensure_manifest

DAG_ORDER = ("exchange_ingest", "exchange_transform", "exchange_publish")
"""Producer first; each later DAG consumes the Asset of the one before."""


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
def _output_to(path: Path | None) -> Iterator[None]:
    """Send everything written to fds 1 and 2 (Airflow's task logs) to a file, then restore."""
    if path is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("ab") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run_pipeline(*, as_of: dt.date | None = None, force: bool = False, quiet: bool = True,
                 only: tuple[str, ...] = DAG_ORDER, settings: Settings | None = None) -> PipelineResult:
    """Ingest, then (if the raw Asset was updated, or `force`) the DAGs downstream of it.

    `only` limits the run to some of the DAGs (in their dependency order).
    """
    settings = settings or get_settings()
    logs = configure_airflow(settings)
    log_path = logs / f"pipeline-{dt.datetime.now():%Y%m%d-%H%M%S}.log"
    runs: list[DagResult] = []
    with _output_to(log_path if quiet else None):
        from airflow.dag_processing.dagbag import DagBag
        from airflow.utils import db as airflow_db

        airflow_db.upgradedb()
        ensure_manifest()  # the transform DAG renders its tasks from dbt's manifest
        bag = DagBag(str(PROJECT_ROOT / "dags"))
        if bag.import_errors:
            raise ExchangeError("P_DAG_IMPORT", f"DAG import errors: {bag.import_errors}")
        conf = {"as_of": as_of.isoformat() if as_of else None}
        for dag_id in (d for d in DAG_ORDER if d in only):
            dag = bag.get_dag(dag_id)
            if dag is None:
                continue
            if runs and not (force or _asset_updated(runs[-1])):
                break
            dr = dag.test(logical_date=None, run_conf=conf if "as_of" in dag.params else None)
            result = DagResult(dag_id, str(dr.state), dr.run_id,
                               {f"{ti.task_id}[{ti.map_index}]" if ti.map_index >= 0 else ti.task_id: str(ti.state)
                                for ti in dr.get_task_instances()})
            runs.append(result)
            if result.state != "success":
                if dag_id == "exchange_publish":
                    raise_if_gate_failed(f"see {log_path}")
                raise ExchangeError("P_DAG_FAILED", f"{dag_id} finished {result.state}; see {log_path}")
    return PipelineResult(runs, log_path)


def _asset_updated(run: DagResult) -> bool:
    """The producer's outlet task succeeded (it skips itself when nothing changed)."""
    return any(state == "success" and task in ("announce", "publish") for task, state in run.task_states.items())
