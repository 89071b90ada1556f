"""The real-scheduler deployment tests' world (test_airflow_local, test_airflow_celery).

A fresh exchange (scratch database, scratch home, so a scratch AIRFLOW_HOME under it) gets one
lender and a tiny month of loans and statuses in landing/; `exchange airflow up` starts the
deployment as an operator would, the test triggers exchange_ingest through the REST API, and the
scheduler follows the Assets to exchange_transform and exchange_publish: a live feed version must
appear. Each run has an overall deadline and always ends with `down`, after which no recorded
process may be left.

Each dbt model runs as its own task process under the scheduler (61 of the transform's 66 tasks): on the shared 2-core
development host each run took about 6 minutes at load 4-5, up to 19 under load 12-16, hence
the generous deadline. The two executors' tests are two modules, so parallel test workers
(pytest-xdist, `make test`) run them side by side.
"""


from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from builders import csv_text, land, loan_row, status_row
from conftest import TEST_SECRET
from databases import fresh_database
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from exchange.intake import lenders
from exchange.pipeline import deploy

EXCHANGE = str(Path(sys.executable).with_name("exchange"))
DEADLINE_S = 1800
DAGS = ("exchange_ingest", "exchange_transform", "exchange_publish")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """The deployment's REST API as the admin `up` printed."""

    def __init__(self, port: int, password: str):
        self.base = f"http://127.0.0.1:{port}"
        self.token = self._call("POST", "/auth/token", {"username": deploy.ADMIN_USER, "password": password},
                                auth=False)["access_token"]

    def _call(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> dict:
        request = urllib.request.Request(self.base + path, method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        if auth:
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def get(self, path: str) -> dict:
        return self._call("GET", path)

    def knows(self, dag_ids: tuple[str, ...]) -> bool:
        return set(dag_ids) <= {d["dag_id"] for d in self.get("/api/v2/dags")["dags"]}

    def trigger(self, dag_id: str) -> str:
        return self._call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns?order_by=-run_after")["dag_runs"]


@contextmanager
def scratch_exchange(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A scratch exchange database with one lender and its files landed, and a scratch Airflow
    metadata database beside it (dropped afterwards)."""
    airflow_db = f"exchange_test_airflow_{uuid.uuid4().hex[:10]}"
    with fresh_database("deploy") as url:
        monkeypatch.setenv("EXCHANGE_DB_URL", url)
        monkeypatch.setenv("EXCHANGE_HOME", str(tmp_path))
        monkeypatch.setenv("EXCHANGE_PSEUDONYM_KEY", TEST_SECRET)
        with psycopg.connect(url, autocommit=True) as conn:
            lenders.add(conn, "XD01", "甲小额贷款有限公司", "microloan_company")
        land(tmp_path, "XD01", "XD01_loans_20250131.csv", csv_text([loan_row(i) for i in range(1, 6)]))
        land(tmp_path, "XD01", "XD01_loan_status_20250131.csv",
             csv_text([status_row(i) for i in range(1, 6)], "loan_status"))
        try:
            yield tmp_path, airflow_db
        finally:
            # the server of `url`: server_url() would follow the EXCHANGE_HOME set above to a new
            # embedded server when the tests run without xdist workers
            admin = make_conninfo(**{**conninfo_to_dict(url), "dbname": "postgres"})
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'drop database if exists "{airflow_db}" with (force)')


def _exchange(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([EXCHANGE, *args], capture_output=True, text=True, timeout=timeout, check=False)


def run_pipeline_under_scheduler(airflow_db: str, *executor_args: str) -> None:
    """`up` (twice: the second starts nothing), trigger the ingest, wait for the publish run the
    Assets start; `down` in any case, after which none of the recorded processes may be left.

    One transform run only: the DAG's scheduled ingest run (created when the scheduler first sees
    it) and the one triggered here run one after the other, and the second finds the transform
    pending with its run in flight, which is no reason to announce the raw Asset again."""
    port = free_port()
    deadline = time.monotonic() + DEADLINE_S
    up = ("airflow", "up", "--port", str(port), "--database", airflow_db, *executor_args)
    pids: dict[str, int | None] = {}
    try:
        started = _exchange(*up, timeout=DEADLINE_S)
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"http://127.0.0.1:{port}" in started.stdout
        pids = {p.name: p.pid for p in deploy.status().processes}
        again = _exchange(*up, timeout=120)
        assert again.returncode == 0, again.stdout + again.stderr
        assert {p.name: p.pid for p in deploy.status().processes} == pids and all(pids.values()), pids

        api = Api(port, deploy.admin_password())
        while not api.knows(DAGS):  # `up` returns when the dag-processor runs, maybe before its first parse
            assert time.monotonic() < deadline, "the DAGs were never parsed"
            time.sleep(2)
        api.trigger("exchange_ingest")
        states: dict[str, list[str]] = {}
        while time.monotonic() < deadline:
            states = {dag: [r["state"] for r in api.runs(dag)] for dag in DAGS}
            assert "failed" not in sum(states.values(), []), states
            if "success" in states["exchange_publish"]:
                assert len(states["exchange_transform"]) == 1, states
                return
            time.sleep(5)
        raise AssertionError(f"no successful publish run within {DEADLINE_S} s: {states}")
    finally:
        stopped = _exchange("airflow", "down", timeout=300)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        for name, pid in pids.items():
            assert pid is None or _gone(pid), f"{name} (pid {pid}) outlived `down`"
        assert not any(p.alive for p in deploy.status().processes)


def _gone(pid: int) -> bool:
    """No such process, or only its exit status is left (a zombie its parent has not reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def live_version() -> int | None:
    with psycopg.connect(os.environ["EXCHANGE_DB_URL"]) as conn:
        row = conn.execute("select version from shared.live_version").fetchone()
    return row[0] if row else None
