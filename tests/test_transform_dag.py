"""The transform DAG (dags/exchange_transform.py) runs end to end through Airflow's dag.test().

A fresh database gets the first four deliveries of the crafted data and a dbt build; then the
rest arrive and the pipeline driver runs the DAG with the Param as_of (no logical date, as for
an asset-triggered run), so its Cosmos tasks take the incremental path, rebuild from as_of and
pick up the new months.
"""

from __future__ import annotations

from pathlib import Path

import dbt_scenario
import psycopg
import pytest
from databases import fresh_database
from dbt_support import dbt

from exchange.pipeline.run import run_pipeline


@pytest.mark.slow
def test_transform_dag_runs_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deliveries = dbt_scenario.deliveries()
    with fresh_database("dag") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            dbt_scenario.insert_lenders(conn)
            for batch in deliveries[:4]:
                dbt_scenario.insert_delivery(conn, batch)
            dbt(url, tmp_path, "build")
            for batch in deliveries[4:]:
                dbt_scenario.insert_delivery(conn, batch)
        monkeypatch.setenv("EXCHANGE_DB_URL", url)
        monkeypatch.setenv("EXCHANGE_HOME", str(tmp_path))

        result = run_pipeline(as_of=dbt_scenario.MONTHS[2], only=("exchange_transform",))

        [run] = result.runs
        assert run.state == "success"
        # the seeds in one task, then a Cosmos task per model (with its tests), the tests between
        # models in one task, then the outlet; no task for a single test
        assert {"rule_seeds", "dbt.stg_raw__loan_status_model_build", "dbt.int_loan_status_history_model_build",
                "dbt.fct_loan_status_model_build", "cross_model_tests", "announce"} <= set(run.task_states), \
            sorted(run.task_states)
        assert not [task for task in run.task_states if task.endswith("_test")]
        assert all(state == "success" for state in run.task_states.values()), run.task_states
        with psycopg.connect(url) as conn:
            months = conn.execute("select count(distinct report_month) from marts.fct_loan_status").fetchone()[0]
            cured = conn.execute("select end_date::text from marts.fct_default_episodes where loan_id = 'E2'").fetchone()
            summary_months = conn.execute("select max(report_month)::text from marts.mart_portfolio_quality").fetchone()
    assert months == 8
    assert cured == ("2025-08-31",)  # E2, clean from 02-28: cured six months later
    assert summary_months == ("2025-08-01",)
