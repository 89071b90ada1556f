"""exchange_transform: when the raw zone changes, dbt builds staging -> intermediate -> marts.

Runs on RAW_ASSET, which the ingest DAG updates. The rule seeds load first in one task (they
change only with a new rule version); Cosmos then renders every model of dbt_project/ as its own
task running `dbt build` on the node, so the node's data and unit tests run right after it
(TestBehavior.BUILD). The tests between models (relationships, tag cross_model) and those of no
model run together in one task once every model is built, and the rule seeds' own tests in
rule_seeds: a task per test
would cost a dbt start each, seconds against milliseconds of work. Unit tests
are not run here: they check the models' SQL on fixed inputs, not the data, and cost seconds per
model every month; `make test` runs them all (tests/test_dbt_models.py). The data tests of an
incremental model read the months its run rebuilt (var tests_scope, dbt_project/macros/
test_scope.sql): rows kept from earlier runs were tested when built. dbt runs
in-process (dbtRunner). The last task updates MARTS_ASSET for the quality gate and publication;
beside it, model_docs regenerates the dbt docs site the portal serves (exchange.pipeline.docs).
A first task skips the rebuild when only the publication is pending (exchange.pipeline.stages).

Parsing this file touches no database: Cosmos renders from dbt_project/target/manifest.json
(LoadMode.DBT_MANIFEST), which `exchange airflow up` and the in-process runner build beforehand
(exchange.pipeline.dbt.ensure_manifest), and dbt's connection (EXCHANGE_PG_*) is in the
environment the deployment gives its processes.

Param `as_of` (YYYY-MM-DD, optional): asset-triggered runs have no logical date, so the
reporting date is an explicit parameter. Empty, the incremental models rebuild what changed in
the raw zone (new or corrected files, changed loan attributes, new rule versions); a date makes
them also rebuild every lender's months from that date on.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

from exchange.pipeline.assets import DB_POOL, MARTS_ASSET, RAW_ASSET
from exchange.pipeline.dbt import (
    COSMOS_DBT_FLAGS,
    DBT_EXECUTABLE,
    DBT_PROFILE,
    DBT_PROJECT_DIR,
    DBT_TARGET,
    MANIFEST_PATH,
    TRANSFORM_VARS,
    end_dbt_task,
    start_dbt_task,
)


@dag(
    dag_id="exchange_transform",
    schedule=[RAW_ASSET],
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,  # incremental models must not be rebuilt by two runs at once
    params={
        "as_of": Param(None, type=["null", "string"], format="date",
                       description="Reporting date from which to rebuild every lender's months; empty: what changed"),
    },
    tags=["exchange", "transform"],
    doc_md=__doc__,
)
def exchange_transform():
    @task(pool=DB_POOL)
    def rule_seeds(params: dict | None = None) -> bool:
        """The rule seeds and their tests in one dbt invocation, when they changed (exchange.pipeline.seeds)."""
        from exchange.pipeline.seeds import load_rule_seeds

        return load_rule_seeds(params["as_of"])

    models = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(DBT_PROJECT_DIR, manifest_path=MANIFEST_PATH,
                                     install_dbt_deps=False),  # no packages: never `dbt deps`
        profile_config=ProfileConfig(  # the names every dbt invocation of the exchange gives (run_dbt)
            profile_name=DBT_PROFILE, target_name=DBT_TARGET, profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml"
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER,
            dbt_executable_path=DBT_EXECUTABLE,
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            exclude=["resource_type:seed", "resource_type:unit_test", "resource_type:operation", "tag:rule_seeds",
                     "tag:cross_model"],
            test_behavior=TestBehavior.BUILD,
            emit_datasets=False,  # the exchange's own Assets (exchange.pipeline.assets) connect its DAGs
        ),
        # tests_scope: each model's data tests read the months its run rebuilt (macros/test_scope.sql);
        # the hooks and flags make a task's dbt start cheap (exchange.pipeline.dbt)
        operator_args={"vars": {**TRANSFORM_VARS, "as_of": "{{ params.as_of or '' }}"}, "pool": DB_POOL,
                       "pre_execute": start_dbt_task, "post_execute": end_dbt_task,
                       "dbt_cmd_global_flags": list(COSMOS_DBT_FLAGS)},
    )

    @task(pool=DB_POOL)
    def cross_model_tests(params: dict | None = None) -> None:
        """The relationships tests between models (a key of one found in another), all in one dbt
        invocation once every model is built; each reads the months its model rebuilt."""
        from exchange.pipeline.dbt import monthly_vars, run_dbt

        run_dbt(["test", "--select", "tag:cross_model", *monthly_vars(params["as_of"]), "--no-write-json"])

    # the pending gate (exchange.pipeline.stages): no rebuild when only the publication waits;
    # its direct downstream is skipped, later tasks follow their trigger rules
    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def transform_needed() -> bool:
        from exchange.pipeline.stages import transform_needed

        return transform_needed()

    @task(outlets=[MARTS_ASSET], trigger_rule="none_failed")
    def announce() -> dict:
        """The marts are rebuilt and tested (or current already): the quality gate may run."""
        from exchange.pipeline.stages import transform_succeeded

        return transform_succeeded()

    @task(pool=DB_POOL)
    def model_docs(params: dict | None = None) -> str:
        """The dbt docs site regenerated from the tables just built (the portal serves it)."""
        from exchange.pipeline.docs import build_dbt_docs

        return str(build_dbt_docs(as_of=params["as_of"]))

    transform_needed() >> rule_seeds() >> models >> cross_model_tests() >> [announce(), model_docs()]


exchange_transform()
