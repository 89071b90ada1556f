"""Driving a local Airflow deployment (`exchange airflow up`) the way an operator's month goes:
trigger the ingest through the REST API and wait for the publication the Assets lead to.

Used by the real-scheduler tests (tests/airflow_world.py) and by `exchange bench scale --path
airflow`, which times the month on the path operators run rather than by direct dbt commands.
Not part of the product: operators watch the deployment in its UI and drive it with
`exchange airflow`.
"""

from __future__ import annotations

import datetime as dt
import socket
import time
from dataclasses import dataclass

import httpx

from exchange.pipeline import deploy

DAGS = ("exchange_ingest", "exchange_transform", "exchange_publish")
PAGE = 100
"""Task instances per REST call: Airflow's default maximum page (a transform run has 66 tasks)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """The deployment's REST API (v2), logged in as the admin that `up` created."""

    def __init__(self, port: int, password: str):
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        login = self.client.post("/auth/token", json={"username": deploy.ADMIN_USER, "password": password})
        login.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"

    def get(self, path: str, **params: object) -> dict:
        response = self.client.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def knows(self, dag_ids: tuple[str, ...]) -> bool:
        """Whether the dag-processor has parsed these DAGs yet."""
        return set(dag_ids) <= {d["dag_id"] for d in self.get("/api/v2/dags")["dags"]}

    def trigger(self, dag_id: str) -> str:
        response = self.client.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})
        response.raise_for_status()
        return response.json()["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        """The DAG's runs, newest first."""
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns", order_by="-run_after")["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        found: list[dict] = []
        while True:
            page = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=PAGE, offset=len(found))
            found += page["task_instances"]
            if not page["task_instances"] or len(found) >= page["total_entries"]:
                return found


class MonthFailed(RuntimeError):
    """A run of the month failed, or the publication did not come in time; the message says which."""


@dataclass(frozen=True)
class Month:
    """Every run of the three DAGs once the month was published (newest first, as the API lists them)."""

    runs: dict[str, list[dict]]

    def states(self) -> dict[str, list[str]]:
        return {dag: [r["state"] for r in runs] for dag, runs in self.runs.items()}

    def publish_run(self) -> dict:
        """The successful publish run waited for."""
        return next(r for r in self.runs["exchange_publish"] if r["state"] == "success")

    def transform_run(self) -> dict:
        """The transform run the publish run followed: the newest one started before it. It may still
        be running when the publication is done (model_docs, off the path to it, runs beside the
        publish run)."""
        publish_start = _time(self.publish_run()["start_date"])
        return next(r for r in self.runs["exchange_transform"]
                    if r["start_date"] and _time(r["start_date"]) <= publish_start)

    def spans(self) -> dict[str, float]:
        """The month as an operator waits for it, from the first ingest run's start to the publish run's
        end, in three spans that add up to it. The first ingest run may be the scheduled one that a new
        deployment starts as soon as the DAG is parsed, before the trigger: whichever runs first ingests
        the landed files. The transform run's own end comes later than the publish run's start: tasks
        off the path to the publication (model_docs) run beside the publish run."""
        first_ingest = min(_time(r["start_date"]) for r in self.runs["exchange_ingest"] if r["start_date"])
        transform, publish = self.transform_run(), self.publish_run()
        return {"exchange_ingest, until the transform run starts": _seconds(first_ingest, transform["start_date"]),
                "exchange_transform, until the publish run starts": _seconds(transform["start_date"],
                                                                             publish["start_date"]),
                "exchange_publish run": _seconds(publish["start_date"], publish["end_date"])}


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _seconds(start: dt.datetime | str, end: str) -> float:
    return (_time(end) - (_time(start) if isinstance(start, str) else start)).total_seconds()


def run_month(api: Api, deadline: float, poll_s: float = 2.0) -> Month:
    """Wait for the DAGs to be parsed, trigger exchange_ingest, and wait until an exchange_publish run
    succeeds (the scheduler follows the Assets from ingest to transform to publish).

    Raises MonthFailed when any run fails or `deadline` (time.monotonic()) passes first."""
    while not api.knows(DAGS):  # `up` returns when the dag-processor runs, maybe before its first parse
        if time.monotonic() > deadline:
            raise MonthFailed("the DAGs were never parsed")
        time.sleep(poll_s)
    api.trigger("exchange_ingest")
    while True:
        month = Month({dag: api.runs(dag) for dag in DAGS})
        states = month.states()
        if "failed" in sum(states.values(), []):
            raise MonthFailed(f"a run failed: {states}")
        if "success" in states["exchange_publish"]:
            return month
        if time.monotonic() > deadline:
            raise MonthFailed(f"no successful publish run in time: {states}")
        time.sleep(poll_s)
