"""Each Cosmos task of the transform starts dbt cheaply (exchange.pipeline.dbt).

The transform runs a dbt invocation per model, so what an invocation pays besides its SQL (a full
garbage collection, JSON artifacts, a debug log, listing every schema) is paid once per model a month.
The transform DAG's own runs (test_transform_dag, test_pipeline_resume, the real-scheduler tests)
run the tasks with these hooks and flags; the tests here pin what each one does, what a task
forked from a process that read the project first (exchange.pipeline.preload) is spared, and that
the DAG file gives every model task the hooks and the flags. A whole-project invocation (`dbt run`
of a full build, the benchmark) hands ready models to its threads critical ones first.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import networkx as nx

from exchange.core.settings import DBT_PROJECT_DIR, PROJECT_ROOT, environment
from exchange.pipeline.dbt import (
    COSMOS_DBT_FLAGS,
    PARSE_ONLY_ENV,
    _arguments,
    _compile_macros,
    _invoke,
    end_dbt_task,
    ensure_manifest,
    graph_summary,
    monthly_vars,
    prepare_dbt_process,
    run_dbt,
    start_dbt_task,
)

DAG_WIRING = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
assert bag.import_errors == {}, bag.import_errors
name = lambda hook: f"{hook.__module__}.{hook.__qualname__}" if hook else None
print(json.dumps({t.task_id: [t.dbt_cmd_global_flags, name(t._pre_execute_hook), name(t._post_execute_hook)]
                  for t in bag.dags["exchange_transform"].tasks if t.task_id.startswith("dbt.")}))
"""

MODEL_TASK_VARS = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
task = DagBag(dag_folder=sys.argv[1]).dags["exchange_transform"].get_task("dbt.dim_lender_model_build")
task.vars = task.render_template(task.vars, {"params": {"as_of": None}})  # a run without as_of
flags = task.add_global_flags()  # the global flags Cosmos gives dbt
profile = task.profile_config  # Cosmos gives dbt --profile and --target from it
print(json.dumps({"vars": flags[flags.index("--vars"):][:2], "profile": [profile.profile_name, profile.target_name]}))
"""

FORKED_TASK = """
import cProfile, os, pstats, signal, sys, tempfile
import dbt.cli.main
from exchange.pipeline.dbt import COSMOS_DBT_FLAGS, run_dbt, warm_dbt
if sys.argv[1] == "warm":
    assert warm_dbt()
pid = os.fork()
if pid == 0:  # as a task forked from the scheduler or a Celery worker
    from dbt_common.clients.jinja import template_cache
    compiled = len(template_cache.file_cache)  # macros compiled before the fork
    profile = cProfile.Profile()
    profile.enable()
    run_dbt([*COSMOS_DBT_FLAGS, "parse", "--target-path", sys.argv[2], "--log-path", sys.argv[2]], connects=False)
    profile.disable()
    built = {name: 0 for name in ("add_unpack_method", "add_pack_method", "build_json_schema")}
    for (_, _, name), (calls, *_) in pstats.Stats(profile).stats.items():
        if name in built:
            built[name] += calls
    print("built", sum(built.values()), built, flush=True)
    print("macros compiled", compiled, flush=True)
    signal.alarm(240)  # a parse waiting forever on a thread pool the fork lost ends here
    with tempfile.TemporaryDirectory() as fresh:  # a task's parse from scratch (a changed project)
        run_dbt([*COSMOS_DBT_FLAGS, "parse", "--target-path", fresh, "--log-path", fresh], connects=False)
    print("parsed from scratch", flush=True)
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("task exit status", status)
"""


DECODED_PARSE = """
import os, sys
from pathlib import Path
from dbt.contracts.graph.manifest import Manifest
from dbt.parser.manifest import extended_mashumuro_decoder
from exchange.pipeline import dbt as exchange_dbt
saved, other = Path(sys.argv[1]).read_bytes(), Path(sys.argv[2]).read_bytes()
assert exchange_dbt.decode_saved_parse(Path(sys.argv[1]))
parent = exchange_dbt._DECODED.prepared(saved)
read = lambda data: Manifest.from_msgpack(data, decoder=extended_mashumuro_decoder)
print("the parent decodes", read(saved) is not parent)
def task(check):
    pid = os.fork()
    if pid == 0:
        print(*check(), flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
def same_file():
    first, again = read(saved), read(saved)
    return "a task takes it", first is parent, "then decodes", again is not parent and len(again.nodes) == len(first.nodes)
task(same_file)
task(lambda: ("another file is decoded", read(other) is not parent, len(read(other).nodes) == len(parent.nodes)))
"""

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
    run_dbt([*COSMOS_DBT_FLAGS, "parse", "--target-path", str(target), "--log-path", str(logs)], connects=False)
    assert (target / "partial_parse.msgpack").exists()  # the next task's partial parse still has its file
    assert not (target / "manifest.json").exists()
    assert not (logs / "dbt.log").exists()


def test_the_graph_summary_dbt_writes_is_the_same_without_serializing_every_node(tmp_path: Path):
    """target/graph_summary.json: dbt built each node's entry from the whole node serialized to a dict
    (its type read from the dict); graph_summary reads the type from the node."""
    from dbt.compilation import Linker

    with environment(**PARSE_ONLY_ENV):
        manifest = _invoke(["parse", "--target-path", str(tmp_path), "--log-path", str(tmp_path)], DBT_PROJECT_DIR)
    linker = Linker()
    linker.link_graph(manifest.result)
    linker.add_test_edges(manifest.result)
    index = {name: position for position, name in enumerate(linker.graph)}
    as_dbt_wrote_it = {
        index[name]: {"name": name, "type": manifest.result.expect(name).to_dict(omit_none=True)["resource_type"],
                      **({"succ": [index[s] for s in successors]}
                         if (successors := list(linker.graph.successors(name))) else {})}
        for name in linker.graph}

    assert json.dumps(graph_summary(linker, manifest.result)) == json.dumps(as_dbt_wrote_it)
    prepare_dbt_process()
    assert json.dumps(linker.get_graph_summary(manifest.result)) == json.dumps(as_dbt_wrote_it)


def test_cosmos_reads_no_lineage_after_an_invocation_that_wrote_no_artifacts():
    """Cosmos hands manifest.json and run_results.json to OpenLineage's reader after each dbt
    invocation; the transform's tasks write neither (--no-write-json), so the reader is not called."""
    from cosmos.operators.local import AbstractDbtLocalBase

    readers: list[int] = []
    prepare_dbt_process()
    operator = SimpleNamespace(log=logging.getLogger("probe"),  # the reader None: as if OpenLineage were absent
                               _get_dbt_local_artifact_processor=lambda: readers.append(1))
    read = AbstractDbtLocalBase.calculate_openlineage_events_completes

    assert read(operator, {}, Path("p"), ["dbt", *COSMOS_DBT_FLAGS, "build"]) is False
    assert readers == []
    assert read(operator, {}, Path("p"), ["dbt", "build"]) is False  # artifacts written: Cosmos reads them
    assert readers == [1]


def test_a_debug_event_is_built_only_when_a_logger_writes_it_or_a_callback_may_read_it(monkeypatch):
    """dbt built every event into a message and formatted its line, then each logger dropped those
    under its level; the debug events of a node (each query, connection, cache step) reached no
    logger in a transform task. Now they are not built, unless a logger logs debug or a callback
    other than dbt's tracking of behaviour-change warnings is registered."""
    import io

    from dbt.tracking import track_behavior_change_warn
    from dbt_common.events import event_manager
    from dbt_common.events.base_types import EventLevel
    from dbt_common.events.logger import LoggerConfig
    from dbt_common.events.types import Note

    built: list[str] = []
    build = event_manager.msg_from_base_event
    monkeypatch.setattr(event_manager, "msg_from_base_event",
                        lambda e, level=None: built.append(e.message()) or build(e, level=level))
    prepare_dbt_process()

    def manager(level: EventLevel, *callbacks) -> tuple[event_manager.EventManager, io.StringIO]:
        stream = io.StringIO()
        events = event_manager.EventManager()
        events.add_logger(LoggerConfig(name=f"probe-{level}", level=level, output_stream=stream))
        for callback in (track_behavior_change_warn, *callbacks):
            events.add_callback(callback)
        return events, stream

    console, written = manager(EventLevel.INFO)  # as a transform task's dbt: console at info, no file log
    console.fire_event(Note(msg="a query"), level=EventLevel.DEBUG)
    console.fire_event(Note(msg="model built"))
    assert built == ["model built"]
    assert "a query" not in written.getvalue() and "model built" in written.getvalue()

    debugging, written = manager(EventLevel.DEBUG)  # `--debug`, or a debug-level log file
    debugging.fire_event(Note(msg="a query"), level=EventLevel.DEBUG)
    assert "a query" in written.getvalue()

    seen: list[str] = []
    listened, _ = manager(EventLevel.INFO, lambda message: seen.append(message.info.msg))
    listened.fire_event(Note(msg="for a callback"), level=EventLevel.DEBUG)
    assert seen == ["for a callback"]


def test_cosmos_copies_the_partial_parse_file_for_a_task_without_unpacking_it(tmp_path: Path, monkeypatch):
    import cosmos.cache
    import msgpack

    saved = tmp_path / "saved" / "target"
    run_dbt(["parse", "--target-path", str(saved), "--log-path", str(tmp_path / "logs")], connects=False)
    prepare_dbt_process()

    def unpack(*args: object, **kwargs: object) -> None:
        raise AssertionError("the partial-parse file was unpacked")

    monkeypatch.setattr(msgpack, "unpack", unpack)
    task_project = tmp_path / "task"
    task_project.mkdir()
    cosmos.cache._copy_partial_parse_to_project(saved / "partial_parse.msgpack", task_project)
    copied = task_project / "target" / "partial_parse.msgpack"
    assert copied.read_bytes() == (saved / "partial_parse.msgpack").read_bytes()


def test_a_forked_task_takes_the_saved_parse_its_parent_decoded_only_for_the_same_bytes_and_once(tmp_path: Path):
    """warm_dbt decodes the project's partial-parse file in the scheduler (decode_saved_parse): a
    forked task whose dbt reads those bytes takes that Manifest once; other bytes (a release, a
    new parse), a second read, or the parent itself decode the file as dbt always did."""
    saved, other = tmp_path / "saved", tmp_path / "other"
    for target, as_of in ((saved, ""), (other, "2025-01-31")):  # other vars: other bytes
        run_dbt(["parse", "--target-path", str(target), "--log-path", str(tmp_path / "logs"),
                 "--vars", json.dumps({"as_of": as_of})], connects=False)
    assert (saved / "partial_parse.msgpack").read_bytes() != (other / "partial_parse.msgpack").read_bytes()

    done = subprocess.run([sys.executable, "-c", DECODED_PARSE, str(saved / "partial_parse.msgpack"),
                           str(other / "partial_parse.msgpack")], capture_output=True, text=True, timeout=300,
                          check=True)
    assert done.stdout.splitlines()[-3:] == [
        "the parent decodes True", "a task takes it True then decodes True", "another file is decoded True True"]


def test_a_task_forked_after_the_warm_up_builds_none_of_dbts_serializers_and_can_still_parse_anew(tmp_path: Path):
    """The scheduler and the Celery workers read the project before forking (exchange.pipeline.preload):
    the forked task's partial parse then compiles no (de)serializer and builds no JSON schema, and
    its parse from scratch does not hang on dbt-extractor's thread pool (a full parse in the parent
    started it, and the fork had it without its threads)."""
    target = tmp_path / "target"
    run_dbt(["parse", "--target-path", str(target), "--log-path", str(tmp_path / "logs")],
            connects=False)  # the task's saved parse
    env = {**os.environ, **PARSE_ONLY_ENV}  # as a deployment gives its processes, without a server

    def forked_task(parent: str) -> list[str]:
        done = subprocess.run([sys.executable, "-c", FORKED_TASK, parent, str(target)], env=env,
                              capture_output=True, text=True, timeout=600, check=True)
        return [line for line in done.stdout.splitlines()
                if line.startswith(("built", "macros compiled", "parsed", "task exit"))]

    def built(lines: list[str]) -> int:
        return int(lines[0].split()[1])

    def compiled(lines: list[str]) -> int:
        return int(lines[1].split()[2])

    cold = forked_task("cold")  # a parent that only imported dbt
    assert built(cold) > 100
    assert compiled(cold) == 0
    warm = forked_task("warm")
    assert built(warm) == 0
    assert compiled(warm) > 500  # every macro, dbt's own and the project's: none compiled in a task
    assert warm[2:] == ["parsed from scratch", "task exit status 0"]


def test_the_warm_up_compiles_every_macro_it_can_and_leaves_a_broken_one_to_its_task():
    """warm_dbt runs in the scheduler before it forks tasks: a macro that does not compile must
    not stop it (the task that calls the macro reports the error, as dbt always did)."""
    from dbt_common.clients.jinja import template_cache

    def macro(name: str, body: str) -> SimpleNamespace:
        return SimpleNamespace(macro_sql=f"{{% macro {name}() %}}{body}{{% endmacro %}}", name=name,
                               unique_id=f"macro.exchange.{name}", original_file_path="macros/probe.sql")

    ok, broken = macro("exchange_probe_ok", "1"), macro("exchange_probe_broken", "{% if %}")

    assert _compile_macros(SimpleNamespace(macros={"ok": ok, "broken": broken})) == 1
    assert ok.macro_sql in template_cache.file_cache
    assert broken.macro_sql not in template_cache.file_cache


def test_every_model_task_of_the_transform_dag_gets_the_start_hooks_and_flags(tmp_path: Path):
    """The DAG file wires the above into Cosmos. Parsed by Airflow's DagBag in a process of its own
    (AIRFLOW_HOME in tmp_path): importing Airflow here would configure it before the in-process
    runner of later tests in this worker sets its own home."""
    manifest = ensure_manifest()  # the DAG renders its Cosmos tasks from it, as a deployment does
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    done = subprocess.run([sys.executable, "-c", DAG_WIRING, str(PROJECT_ROOT / "dags" / "exchange_transform.py")],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    models = json.loads(done.stdout.strip().splitlines()[-1])
    nodes = json.loads(manifest.read_text())["nodes"].values()
    assert len(models) == sum(node["resource_type"] == "model" for node in nodes) > 60
    hooks = [f"{hook.__module__}.{hook.__qualname__}" for hook in (start_dbt_task, end_dbt_task)]
    assert {task: wiring for task, wiring in models.items() if wiring != [list(COSMOS_DBT_FLAGS), *hooks]} == {}


def test_a_model_task_parses_nothing_again_after_the_rule_seeds_of_its_run(tmp_path: Path):
    """Each Cosmos task reads the newest partial-parse file. When the rule seeds task parses the
    project (a new release, another database) it rewrites the one in the project's target/, the
    newest then; with other vars than the seeds' (the model tasks had as_of, the seeds not) dbt
    parsed the whole project again in the first model tasks: 11.8 and 14.1 s instead of about 2
    at 200k loans under the scheduler, and in every new deployment the tests start. So did other
    profile or target flags: Cosmos gives `--profile` and `--target`, run_dbt gave neither."""
    manifest = ensure_manifest()
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    done = subprocess.run([sys.executable, "-c", MODEL_TASK_VARS, str(PROJECT_ROOT / "dags" / "exchange_transform.py")],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    model_task = json.loads(done.stdout.strip().splitlines()[-1])
    model_task_vars = model_task["vars"]
    given = _arguments([], DBT_PROJECT_DIR)  # what run_dbt adds to every invocation, the seeds' included
    assert [given[given.index("--profile") + 1], given[given.index("--target") + 1]] == model_task["profile"]
    target = tmp_path / "target"
    assert manifest.exists()

    def parse(*flags: str) -> int:
        run_dbt(["parse", "--target-path", str(target), "--log-path", str(tmp_path), *flags], connects=False)
        return json.loads((target / "perf_info.json").read_text())["parsed_path_count"]

    assert parse(*monthly_vars(None)) > 300  # as the rule seeds task of a run without as_of
    assert parse(*model_task_vars) == 0
    assert parse("--vars", "{tests_scope: rebuilt}") > 300  # the seeds' vars before: all parsed again


def test_when_the_status_history_is_built_dbt_starts_the_signal_chain_and_keeps_it_first(tmp_path: Path, monkeypatch):
    """dbt's own order among ready models is depth, then name, and each goes to its thread pool as
    soon as it is ready: int_borrower_months, first contacts, promises and the consistency findings
    took the threads before int_loan_latest_reports, and what latest reports readied (the
    publication rules, dim_loan) queued behind everything readied before it. The signal chain
    (the publication rules, the signal models, mart_borrower_signals; dim_loan too, until the
    signal loans took the first report date from latest reports) then ended the build alone."""
    from dbt.graph.queue import GraphQueue

    for name, value in PARSE_ONLY_ENV.items():
        monkeypatch.setenv(name, value)
    prepare_dbt_process()
    manifest = _invoke(["parse", "--target-path", str(tmp_path), "--log-path", str(tmp_path)], DBT_PROJECT_DIR).result
    graph = nx.DiGraph()
    for node_id, node in manifest.nodes.items():
        if node.resource_type == "model":
            graph.add_node(node_id)
            graph.add_edges_from((parent, node_id) for parent in node.depends_on.nodes if parent.startswith("model."))
    # the history built, and everything that does not read it: what is left is what follows it
    waiting = graph.subgraph(nx.descendants(graph, "model.exchange.int_loan_status_history")).copy()
    queue = GraphQueue(waiting, manifest, set(waiting))
    queue.threads = 1

    first = queue.get()
    taken: list[str] = []
    second = threading.Thread(target=lambda: taken.append(queue.get().unique_id))
    second.start()
    second.join(timeout=1)
    waited_for_the_thread = second.is_alive()  # int_default_episodes was ready, but no thread was free
    queue.mark_done(first.unique_id)  # the publication rules and dim_loan are ready now
    second.join()

    assert first.unique_id == "model.exchange.int_loan_latest_reports"
    assert waited_for_the_thread
    assert taken == ["model.exchange.int_loan_publishability"]  # 17 models downstream: the chain's next
