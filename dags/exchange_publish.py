"""exchange_publish: the quality gate, then the publication of the blacklist and default feed.

Runs on MARTS_ASSET, which the transform DAG updates once dbt has rebuilt and tested the
models (the publication candidates among them). Thin wiring over exchange.pipeline.stages,
which calls exchange.feed.publish and keeps the publication pending until it completes:

- `gate` stages the candidates as a new version and runs the Great Expectations suites over
  the raw batch and the candidates. A failure marks the version failed, keeps the live version
  and fails the run with the names of the failed expectations (only `exchange feed approve`
  can publish it then; the pipeline does not retry it). Content identical to the live version
  is not published again.
- `publish` writes exports/<version>/ and switches shared.live_version in one transaction;
  it updates FEED_ASSET. A publish that fails or is killed stays pending and runs again.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task

from exchange.pipeline.assets import DB_POOL, FEED_ASSET, MARTS_ASSET


@dag(
    dag_id="exchange_publish",
    schedule=[MARTS_ASSET],
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,  # versions are numbered and switched one at a time
    tags=["exchange", "publish"],
    doc_md=__doc__,
)
def exchange_publish():
    @task(pool=DB_POOL)
    def gate() -> dict:
        from exchange.pipeline import stages

        return stages.gate()

    @task(pool=DB_POOL, outlets=[FEED_ASSET])
    def publish(staged: dict) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from exchange.pipeline import stages

        if staged["unchanged"]:
            raise AirflowSkipException(f"same content as the live version {staged['version']}: nothing to publish")
        return stages.publish(staged)

    publish(gate())


exchange_publish()
