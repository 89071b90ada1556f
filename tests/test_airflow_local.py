"""`exchange airflow up` with the LocalExecutor runs the pipeline under Airflow's real scheduler.

The world (a scratch exchange with a lender's files landed, the REST API, the run that waits for
the publish DAG) is tests/airflow_world.py.
"""

from __future__ import annotations

import re

import pytest
from airflow_world import live_version, run_pipeline_under_scheduler


@pytest.mark.slow
def test_local_executor_deployment_runs_ingest_transform_publish_to_a_live_version(fresh_exchange) -> None:
    home, airflow_db = fresh_exchange
    assert live_version() is None

    run_pipeline_under_scheduler(airflow_db)

    assert live_version() == 1
    logs = home / ".exchange" / "airflow-deploy" / "logs"
    assert (logs / "scheduler.log").stat().st_size > 0
    # the Execution API's first request is up's, before any task's start call waits for its routes
    # to be built (exchange.pipeline.deploy._warm_execution_api)
    execution_paths = re.findall(r"path=(/execution/\S*)", (logs / "api-server.log").read_text())
    assert execution_paths[0] == "/execution/health"
    assert any(path.endswith("/run") for path in execution_paths[1:])
    assert oct((home / ".exchange" / "airflow-deploy" / "secrets.json").stat().st_mode & 0o777) == "0o600"
