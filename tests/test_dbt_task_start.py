"""Each Cosmos task of the transform starts dbt cheaply (exchange.pipeline.dbt).

The transform runs a dbt invocation per model, so what an invocation pays besides its SQL (a full
garbage collection, JSON artifacts, a debug log, listing every schema) is paid 64 times a month.
The transform DAG's own runs (test_transform_dag, test_pipeline_resume, the real-scheduler tests)
run the tasks with these hooks and flags; the tests here pin what each one does.
"""

from __future__ import annotations

import gc
from pathlib import Path

from exchange.pipeline.dbt import COSMOS_DBT_FLAGS, end_dbt_task, run_dbt, start_dbt_task


def test_a_dbt_tasks_garbage_collection_skips_what_the_process_held_before_the_task():
    held = [object()]
    start_dbt_task()
    try:
        created = [object()]
        walked = {id(o) for o in gc.get_objects()}
        assert id(held) not in walked  # frozen: Cosmos's gc.collect() after dbt does not walk it
        assert id(created) in walked
    finally:
        end_dbt_task()
    assert gc.get_freeze_count() == 0
    assert id(held) in {id(o) for o in gc.get_objects()}  # collectable again once the task ends


def test_the_cosmos_flags_write_no_json_artifacts_and_no_debug_log(tmp_path: Path):
    target, logs = tmp_path / "target", tmp_path / "logs"
    run_dbt([*COSMOS_DBT_FLAGS, "parse", "--target-path", str(target), "--log-path", str(logs)])
    assert (target / "partial_parse.msgpack").exists()  # the next task's partial parse still has its file
    assert not (target / "manifest.json").exists()
    assert not (logs / "dbt.log").exists()
