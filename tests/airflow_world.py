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

import os
import subprocess
import sys
import time
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
from exchange_tools.deployment import Api, free_port, run_month

EXCHANGE = str(Path(sys.executable).with_name("exchange"))
DEADLINE_S = 1800


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

        month = run_month(Api(port, deploy.admin_password()), deadline)
        assert len(month.runs["exchange_transform"]) == 1, month.states()
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
