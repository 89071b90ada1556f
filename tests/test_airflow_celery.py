"""`exchange airflow up --executor celery --workers 2` runs the pipeline on two Celery workers on Redis.

The task instances' hostnames (each worker names itself, exchange.pipeline.deploy.worker_hostname)
must show both workers at work. The world is tests/airflow_world.py.
"""

from __future__ import annotations

import os

import psycopg
import pytest
from airflow_world import live_version, run_pipeline_under_scheduler
from psycopg.conninfo import conninfo_to_dict, make_conninfo


@pytest.mark.slow
def test_celery_deployment_spreads_tasks_over_both_workers(fresh_exchange) -> None:
    home, airflow_db = fresh_exchange

    run_pipeline_under_scheduler(airflow_db, "--executor", "celery", "--workers", "2")

    assert live_version() == 1
    metadata = make_conninfo(**{**conninfo_to_dict(os.environ["EXCHANGE_DB_URL"]), "dbname": airflow_db})
    with psycopg.connect(metadata) as conn:
        hosts = {h for (h,) in conn.execute("select distinct hostname from task_instance where state = 'success'")}
    assert {h.split(".", 1)[0] for h in hosts} == {"w1", "w2"}, hosts
    assert (home / ".exchange" / "airflow-deploy" / "logs" / "worker-w2.log").stat().st_size > 0
