"""The pipeline remembers what it has left to do, and says what it is doing (Airflow dag.test).

- Ingest maps one task per lender (named for the lender), reports files done of total as they
  load, and leaves the transform pending when files changed the raw zone.
- A transform that fails (a seed table it cannot load) stays pending: the failure names the DAG,
  the task, the error and the command to rerun, and the next plain run resumes it. A publish that
  fails after a good transform (its exports directory cannot be made) stays pending too, and the
  next plain run publishes without rebuilding dbt. With nothing pending a plain run stops after
  ingest.
- A pending stage whose run is queued or running (a scheduled ingest run during a long transform),
  or was announced moments ago and not yet taken up by a run, is no reason to announce the raw
  Asset again; runs a killed `exchange pipeline` left running
  are marked failed by the next one, whose stages then resume. One pipeline per exchange at a time.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dbt_scenario
import psycopg
import pytest
from builders import csv_text, land, loan_row, status_row
from conftest import TEST_SECRET
from databases import fresh_database
from filelock import FileLock

from exchange.core.errors import ExchangeError
from exchange.core.settings import PROJECT_ROOT, get_settings
from exchange.intake import lenders
from exchange.pipeline import stages
from exchange.pipeline.run import RERUN, run_pipeline
from exchange.pipeline.watch import Watcher


class Recorder(Watcher):
    """Keeps every progress event, as the CLI would draw it."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def dag_started(self, dag_id: str, total: int, unit: str) -> None:
        self.events.append(("dag", dag_id, total, unit))

    def task_started(self, dag_id: str, task: str) -> None:
        self.events.append(("task", dag_id, task))

    def advanced(self, dag_id: str, done: int) -> None:
        self.events.append(("done", dag_id, done))

    def task_failed(self, dag_id: str, task: str, error: str) -> None:
        self.events.append(("failed", dag_id, task, error))


def test_ingest_maps_one_task_per_lender_and_leaves_the_transform_pending(exchange_home: Path, conn) -> None:
    conn.execute("truncate control.pipeline_pending")
    for code, loans in (("XD01", range(1, 11)), ("WD02", range(11, 21))):
        lenders.add(conn, code, f"测试小额贷款{code}", "microloan_company")
        # statuses land before their loans file; the lender's task still loads the loans first
        land(exchange_home, code, f"{code}_loan_status_20250131.csv",
             csv_text([status_row(i) for i in loans], "loan_status"))
        land(exchange_home, code, f"{code}_loans_20250131.csv", csv_text([loan_row(i) for i in loans]))
    watcher = Recorder()

    result = run_pipeline(only=("exchange_ingest",), watcher=watcher)

    [run] = result.runs
    assert run.state == "success"
    assert {task for task in run.task_states if task.startswith("ingest_lender")} == {"ingest_lender[0]",
                                                                                      "ingest_lender[1]"}
    started = [e[2] for e in watcher.events if e[0] == "task"]
    assert started[0] == "find_lenders" and started[-1] == "announce"
    assert sorted(started[1:-1]) == ["ingest_lender[WD02]", "ingest_lender[XD01]"]
    assert ("dag", "exchange_ingest", 4, "files") in watcher.events
    assert [e for e in watcher.events if e[0] == "done"][-1] == ("done", "exchange_ingest", 4)
    verdicts = conn.execute("select lender_code, kind, verdict from control.submissions order by 1, 2").fetchall()
    assert verdicts == [("WD02", "loan_status", "accepted"), ("WD02", "loans", "accepted"),
                        ("XD01", "loan_status", "accepted"), ("XD01", "loans", "accepted")]
    assert set(stages.pending(conn)) == {stages.TRANSFORM}
    assert run.task_states["announce"] == "success"  # the raw Asset is updated: the transform would start


def test_a_stage_whose_run_is_in_flight_is_not_announced_again_and_a_killed_pipelines_runs_are_resumed(
        exchange_home: Path, conn) -> None:
    conn.execute("truncate control.pipeline_pending")
    stages.mark_pending(conn, stages.TRANSFORM, "files changed the raw zone")
    stages.mark_pending(conn, stages.PUBLISH, "the transform rebuilt the marts")
    first = run_pipeline(only=("exchange_ingest",))  # no file waits: announced for the stalled stages
    assert first.runs[0].task_states["announce"] == "success"
    # Airflow only now: its settings are read at import, from what the run above configured
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    with create_session() as session:  # a transform run under way, as the scheduler would show it
        session.add(DagRun(dag_id="exchange_transform", run_id="in_flight", run_type="manual",
                           state=DagRunState.RUNNING, run_after=dt.datetime.now(dt.UTC)))

    during = DagBag(str(PROJECT_ROOT / "dags")).get_dag("exchange_ingest").test(logical_date=None)

    states = {ti.task_id: str(ti.state) for ti in during.get_task_instances()}
    assert states["announce"] == "skipped"  # the run in flight completes both stages
    assert set(stages.pending(conn)) == {stages.TRANSFORM, stages.PUBLISH}

    after = run_pipeline(only=("exchange_ingest",))  # the run was a killed pipeline's: failed first

    assert after.runs[0].task_states["announce"] == "success"
    with create_session() as session:
        left = session.query(DagRun).filter_by(dag_id="exchange_transform", run_id="in_flight").one()
        assert left.state == DagRunState.FAILED


def test_an_announced_stage_waits_for_its_run_to_appear_and_is_announced_again_if_none_takes_it(
        exchange_home: Path, conn) -> None:
    """The scheduler creates an Asset-triggered run seconds after the event: an ingest run in
    between sees no run queued or running, and without the mark would announce the stage again
    (a second transform run behind the first)."""
    conn.execute("truncate control.pipeline_pending")
    stages.mark_pending(conn, stages.TRANSFORM, "files changed the raw zone")

    def no_run(dag_id: str) -> bool:  # no transform or publish run queued or running
        return False

    assert stages.raw_announcement([], no_run) is not None  # stalled: announced
    assert stages.raw_announcement([], no_run) is None  # its run is about to be created
    assert stages.raw_announcement([{"file_name": "XD01_loans_20250228.csv", "changed": True}], no_run)

    conn.execute("update control.pipeline_pending set announced_at = now() - %s::interval - interval '1 second'",
                 (stages.ANNOUNCEMENT_PICKUP,))
    assert stages.raw_announcement([], no_run) is not None  # no run took it up in time: again

    assert stages.transform_needed()  # a transform run starts: it takes the announcement up ...
    assert stages.raw_announcement([], no_run) is not None  # ... and dies: the next ingest announces


def test_a_second_pipeline_on_the_same_exchange_is_refused_while_one_runs(exchange_home: Path) -> None:
    get_settings().state_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(get_settings().state_dir / "pipeline.lock"), pytest.raises(ExchangeError) as refused:
        run_pipeline(only=("exchange_ingest",))

    assert refused.value.code == "P_BUSY"
    assert str(exchange_home) in str(refused.value)


@pytest.mark.slow
def test_failed_transform_and_publish_stay_pending_and_a_plain_rerun_resumes_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with fresh_database("resume") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            dbt_scenario.insert_lenders(conn)
            for batch in dbt_scenario.deliveries():
                dbt_scenario.insert_delivery(conn, batch)
            # a seed table dbt cannot load (a column it does not fill): the transform's first task fails
            # (the schema rules exists: the migrations create it)
            conn.execute("create table rules.rule_parameters (rules_version text, parameter text, value text,"
                         " unit text, source text, blocker text not null)")
        monkeypatch.setenv("EXCHANGE_DB_URL", url)
        monkeypatch.setenv("EXCHANGE_HOME", str(tmp_path))
        monkeypatch.setenv("EXCHANGE_PSEUDONYM_KEY", TEST_SECRET)

        with pytest.raises(ExchangeError) as failed:
            run_pipeline(force=True)  # nothing pending yet: the raw rows were inserted, not ingested

        assert failed.value.code == "P_DAG_FAILED"
        message = str(failed.value)
        assert "exchange_transform failed at task rule_seeds" in message
        assert "rule_parameters" in message  # the first lines of dbt's error
        assert f"rerun `{RERUN}`" in message and "log: " in message
        with psycopg.connect(url, autocommit=True) as conn:
            assert stages.pending(conn)[stages.TRANSFORM]["attempts"] == 1
            conn.execute("drop table rules.rule_parameters")
        (tmp_path / "exports").write_text("not a directory")  # the publication cannot write its exports

        with pytest.raises(ExchangeError) as failed:
            run_pipeline()  # no --force: the pending transform runs, then the publication

        assert "exchange_publish failed at task publish" in str(failed.value)
        with psycopg.connect(url, autocommit=True) as conn:
            assert set(stages.pending(conn)) == {stages.PUBLISH}
            assert conn.execute("select count(*) from shared.live_version").fetchone() == (0,)
            built = conn.execute("select count(*) from marts.fct_loan_status").fetchone()[0]
        assert built > 0
        (tmp_path / "exports").unlink()

        resumed = run_pipeline()

        ingest, transform, publish = resumed.runs
        assert ingest.task_states["announce"] == "success"  # nothing changed, but the publication was pending
        assert transform.task_states["transform_needed"] == "success"
        assert transform.task_states["rule_seeds"] == "skipped"  # the marts were current: no rebuild
        assert transform.task_states["announce"] == "success"
        assert publish.task_states == {"gate": "success", "publish": "success"}
        with psycopg.connect(url) as conn:
            assert stages.pending(conn) == {}
            assert conn.execute("select version from shared.live_version").fetchone() == (1,)

        quiet = run_pipeline()

        assert [r.dag_id for r in quiet.runs] == ["exchange_ingest"]
        assert quiet.runs[0].task_states["announce"] == "skipped"
