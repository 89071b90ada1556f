"""exchange_ingest: load lenders' files from landing/<lender_code>/, one mapped task per file.

Thin wiring over exchange.intake.ingest. Each task is keyed by its file and safe to rerun; the
last task updates the raw Asset only when some file changed data, which starts
exchange_transform.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task

from exchange.pipeline.assets import RAW_ASSET


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
    def find_files() -> list[str]:
        from exchange.intake.ingest import landing_files

        return [str(p) for p in landing_files()]

    # one file at a time, in ingest order: a month's loans file must load before its statuses
    @task(max_active_tis_per_dagrun=1, map_index_template="{{ task.op_kwargs['path'].rsplit('/', 1)[-1] }}")
    def ingest_file(path: str) -> dict:
        from pathlib import Path

        from exchange.intake.ingest import ingest_path

        return ingest_path(Path(path)).as_dict()

    @task(outlets=[RAW_ASSET])
    def announce(outcomes: list[dict]) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        changed = [o["file_name"] for o in outcomes if o["changed"]]
        if not changed:
            raise AirflowSkipException("no file changed the raw zone")
        return {"changed_files": changed}

    announce(ingest_file.expand(path=find_files()))


exchange_ingest()
