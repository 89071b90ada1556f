"""exchange_ingest: load lenders' files from landing/<lender_code>/, one mapped task per lender.

Thin wiring over exchange.pipeline.stages (and through it exchange.intake.ingest). Each lender's
task loads that lender's files in order (a month's loans before its statuses), so lenders
ingest in parallel, each file keyed by its arrival and safe to rerun. The last task updates the
raw Asset, which starts exchange_transform, when some file changed data OR a downstream stage
is still pending (a transform or publication that failed or was interrupted) with no run of it
queued or running.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task

from exchange.pipeline.assets import DB_POOL, RAW_ASSET


@dag(
    dag_id="exchange_ingest",
    schedule=dt.timedelta(minutes=10),
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["exchange", "ingest"],
    doc_md=__doc__,
)
def exchange_ingest():
    @task
    def find_lenders() -> list[str]:
        from exchange.intake.ingest import landing_lenders

        return landing_lenders()

    @task(pool=DB_POOL, map_index_template="{{ task.op_kwargs['lender_code'] }}")
    def ingest_lender(lender_code: str) -> list[dict]:
        from exchange.pipeline.stages import ingest_lender_files

        return ingest_lender_files(lender_code)

    # none_failed: with no file waiting the mapped task is skipped, and a pending stage still goes on
    @task(outlets=[RAW_ASSET], trigger_rule="none_failed")
    def announce(outcomes: list[list[dict]]) -> dict:
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowSkipException

        from exchange.pipeline.stages import raw_announcement

        ti = get_current_context()["ti"]
        announcement = raw_announcement([o for lender in outcomes for o in lender],
                                        lambda dag_id: ti.get_dr_count(dag_id, states=["queued", "running"]) > 0)
        if announcement is None:
            raise AirflowSkipException("no file changed the raw zone; nothing pending waits without a run queued or running")
        return announcement

    announce(ingest_lender.expand(lender_code=find_lenders()))


exchange_ingest()
