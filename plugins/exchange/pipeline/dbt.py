"""The transformation step: dbt builds staging, intermediate and marts from the raw zone.

dbt runs in-process (dbtRunner) against the exchange's own database; its profile
(dbt_project/profiles.yml) reads the EXCHANGE_PG_* variables that `dbt_env` builds from
`exchange.core.db.connection_params`, so dbt, the CLI and the DAGs always talk to one database.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from exchange.core.db import connection_params
from exchange.core.errors import ExchangeError
from exchange.core.settings import DBT_PROJECT_DIR, environment
from exchange.pipeline.forks import ForkHandover
from exchange.pipeline.watch import first_lines

MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
"""What `dbt parse` writes; the transform DAG renders its Cosmos tasks from it (LoadMode.DBT_MANIFEST),
so parsing the DAG file reads one JSON file instead of running dbt."""
TRANSFORM_VARS = {"as_of": "", "tests_scope": "rebuilt"}
"""The vars of every dbt invocation of the monthly transform: as_of, the reporting date from which
every lender's months are rebuilt (empty: what changed; macros/rebuild_detection.sql), and
tests_scope, so that each data test of an incremental model reads the months its run rebuilt
(macros/test_scope.sql). One value for all of them, the transform DAG's model tasks included: dbt
parses the whole project again (about 10 s) when an invocation's vars differ from those of the
partial-parse file it reads, and each Cosmos task reads the newest of the project's target/ and
Cosmos's own cache. When the rule seeds, the run's first dbt task, parse the project (a new
release, another database or profile) they rewrite the project's file, and with other vars every
model task that read it parsed the project again."""


def monthly_vars(as_of: str | None = None) -> tuple[str, str]:
    """`--vars` of a monthly transform's dbt invocation (TRANSFORM_VARS) rebuilding from `as_of`."""
    return "--vars", json.dumps({**TRANSFORM_VARS, "as_of": as_of or ""})


MONTHLY_VARS = monthly_vars()
"""The vars of a monthly transform that rebuilds what changed (the benchmark's month, the tests)."""
COSMOS_DBT_FLAGS = ("--no-write-json", "--log-level-file", "none", "--no-populate-cache")
"""dbt's global flags for the transform's Cosmos tasks, each of which builds one node in a scratch
copy of the project that Cosmos deletes afterwards. --no-write-json: no manifest.json and
run_results.json nobody reads (the manifest's JSON alone took a sixth of a task). --log-level-file
none: no debug-level dbt.log in the scratch copy (a tenth of a task, its threads waiting on the
log lock); the task log keeps dbt's console lines. --no-populate-cache: dbt looks up the relations
the node needs instead of listing every schema of the project first. Measured together with
start_dbt_task on the demo's data, in process, with nothing new: ingest and transform 266 s
before; ingest, transform and publish 138-162 s after (four runs)."""
DBT_PROFILE, DBT_TARGET = "exchange", "default"
"""The profile and target of every dbt invocation, given on the command line as Cosmos gives them to
the transform's model tasks (`--profile`, `--target`). dbt reuses a partial-parse file only when an
invocation's vars, profile and target flags are those of the invocation that wrote it: with
rule_seeds giving neither flag, the first model tasks of every run read rule_seeds' file and parsed
the whole project again (5-6 s each at the transform's start, 2026-12-06 at 200k loans)."""
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")
"""dbt's command line, installed next to the interpreter, which is not necessarily on PATH."""
_NOT_SOURCES = {"target", "logs", "dbt_packages"}


class TransformFailed(ExchangeError):
    """dbt could not run, or some model, seed or test failed.

    Codes: T_DBT_ERROR (dbt itself failed: project, profile, connection) and T_DBT_FAILED
    (dbt ran and nodes failed; `failures` names them).
    """

    def __init__(self, code: str, message: str, failures: list[str] | None = None):
        super().__init__(code, message)
        self.failures = failures or []


# what profiles.yml reads, for a command that opens no connection (run_dbt's connects=False):
# stand-ins, as `dbt parse` renders the profile but connects nowhere
PARSE_ONLY_ENV = {"EXCHANGE_PG_HOST": "localhost", "EXCHANGE_PG_PORT": "5432", "EXCHANGE_PG_USER": "exchange",
                  "EXCHANGE_PG_PASSWORD": "", "EXCHANGE_PG_DBNAME": "exchange", "DO_NOT_TRACK": "1"}


def dbt_env() -> dict[str, str]:
    """Environment for dbt: the connection as EXCHANGE_PG_* plus telemetry off."""
    params = connection_params()
    return {
        "EXCHANGE_PG_HOST": params["host"],
        "EXCHANGE_PG_PORT": params["port"],
        "EXCHANGE_PG_USER": params["user"],
        "EXCHANGE_PG_PASSWORD": params["password"],
        "EXCHANGE_PG_DBNAME": params["dbname"],
        "DO_NOT_TRACK": "1",
    }


def _calling_module() -> str:
    """The module of the nearest caller outside dbt_common.behavior_flags, read from the frames'
    globals: what dbt-common's own lookup answers, without searching sys.modules."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if name and name != "dbt_common.behavior_flags":
            return name
        frame = frame.f_back
    return "Unknown"


def prepare_dbt_process(context: object = None) -> None:
    """Make dbt's start cheap in a process that runs it many times (pre_execute of every Cosmos task,
    and run_dbt), and its threads take the critical nodes first (_critical_nodes_first).

    Each dbt invocation registers its adapter, and dbt-common names the module behind each
    behaviour flag by walking inspect.stack(), which looks up every frame's module by scanning
    sys.modules. In a long-lived process holding Airflow, Cosmos, GX and many parsed DAG files
    (the in-process pipeline of `exchange pipeline` and `exchange demo`, the tests) that scan was
    90% of a dag.test transform's samples (py-spy), and a 72-task transform took over 20 minutes.
    The name is only shown in dbt's warnings. Work whose result nobody reads is skipped too
    (_skip_work_nobody_reads). `context` is the Airflow context a pre_execute hook receives
    (unused). Safe to call again.
    """
    from dbt_common.behavior_flags import BehaviorFlagRendered

    BehaviorFlagRendered._default_source = staticmethod(_calling_module)
    _critical_nodes_first()
    _skip_work_nobody_reads()


def graph_summary(linker: object, manifest: object) -> dict[int, dict[str, object]]:
    """dbt's Linker.get_graph_summary (target/graph_summary.json: each node's name, type and
    successors by index), reading each node's type instead of serializing the whole node to read it."""
    index = {name: position for position, name in enumerate(linker.graph)}
    summary: dict[int, dict[str, object]] = {}
    for name, position in index.items():
        entry: dict[str, object] = {"name": name, "type": str(manifest.expect(name).resource_type)}
        if successors := [index[successor] for successor in linker.graph.successors(name)]:
            entry["succ"] = successors
        summary[position] = entry
    return summary


def _skip_work_nobody_reads() -> None:
    """Spare each dbt invocation four pieces of work whose result nobody reads here; the first three
    about a tenth of a model task's CPU under the scheduler (py-spy over a month's task processes,
    200k loans, 2026-12-07). Installed once; safe to call again.

    - dbt writes target/graph_summary.json, a diagnostic, from every invocation: it serializes
      every node of the project to a dict, twice for `dbt build`, to read one field (3.5%); the
      same file now comes from the node's field (graph_summary).
    - After each dbt invocation Cosmos hands dbt's manifest.json and run_results.json to
      OpenLineage's reader, which first renders the profile and the project; the transform's tasks
      write neither (--no-write-json, COSMOS_DBT_FLAGS), so the reader always ended on a missing
      file (3.6%). With that flag, it is not called; Cosmos skips it as when OpenLineage is absent.
    - Before each task Cosmos unpacks the whole partial-parse file to check that its nodes' root
      paths exist, mending them for dbt releases before 1.6.6 that did not (2.5%). dbt 1.11 finds
      a moved project itself; the check is not made.
    - dbt builds every event into a message (protobuf, its text, a timestamp) and formats its line
      for each logger, whose level then drops it: a node's queries, connections and cache steps
      are debug events, and no logger here logs debug (the console logs info, --log-level-file
      none adds no file log). A node's `dbt build` fires about 170 debug events, each query's with
      its whole SQL (0.9 ms for a 28 KB statement): 26-40 ms of the 0.6-0.85 s of CPU of a node's
      invocation at 200k loans. A debug event is not built when no logger would write it and no
      callback but dbt's own tracking of behaviour-change warnings would see it
      (unlogged_debug_skipped); `--debug` or a debug-level log file still gets every event.
    """
    import cosmos.cache
    from cosmos.operators.local import AbstractDbtLocalBase
    from dbt.compilation import Linker
    from dbt_common.events.event_manager import EventManager

    if getattr(EventManager.fire_event, "skips_unlogged_debug", False):
        return  # installed by an earlier call
    Linker.get_graph_summary = graph_summary
    cosmos.cache.patch_partial_parse_content = _root_paths_left_to_dbt
    lineage = AbstractDbtLocalBase.calculate_openlineage_events_completes

    def lineage_when_written(operator, env, project_dir, dbt_command_line=None) -> bool:
        if dbt_command_line and "--no-write-json" in dbt_command_line:
            return False  # no artifacts to read: as Cosmos does when OpenLineage is not installed
        return lineage(operator, env, project_dir, dbt_command_line)

    AbstractDbtLocalBase.calculate_openlineage_events_completes = lineage_when_written
    EventManager.fire_event = unlogged_debug_skipped(EventManager.fire_event)


def unlogged_debug_skipped(fire_event: Callable[..., None]) -> Callable[..., None]:
    """dbt's EventManager.fire_event, returning before the message is built for a debug event that no
    logger would write and no callback needs (_skip_work_nobody_reads). dbt always registers one
    callback, its tracking of behaviour-change warnings, which reads warnings only."""
    from dbt.tracking import track_behavior_change_warn
    from dbt_common.events.base_types import EventLevel

    debug = {EventLevel.DEBUG, EventLevel.TEST}  # the levels dbt's loggers treat alike

    def fire_when_read(manager, e, level=None, node=None, force_warn_or_error_handling: bool = False) -> None:
        if (not force_warn_or_error_handling and (level or e.level_tag()) in debug
                and not any(logger.level in debug for logger in manager.loggers)
                and all(callback is track_behavior_change_warn for callback in manager.callbacks)):
            return
        fire_event(manager, e, level, node, force_warn_or_error_handling)

    fire_when_read.skips_unlogged_debug = True
    return fire_when_read


def _root_paths_left_to_dbt(partial_parse_filepath: Path, project_path: Path) -> bool:
    """cosmos.cache.patch_partial_parse_content without the check (_skip_work_nobody_reads): False,
    the file was not changed."""
    return False


def _critical_nodes_first() -> None:
    """Make dbt's threads take, of the nodes ready when a thread comes free, the one with the most
    nodes downstream, as Airflow's scheduler orders the transform's tasks (weight rule
    "downstream"). Safe to call again.

    dbt orders ready nodes by their depth in the graph, then by name, and its main loop hands
    each one to its thread pool as soon as it is ready, where it waits its turn first come, first
    served: the order only decides among nodes that become ready at the same moment. In a full
    build the status history's end readies a dozen models at once; int_loan_latest_reports, the
    head of the fraud-signal chain (latest reports -> dim_loan -> int_signal_loans -> co-debt ->
    mart_borrower_signals), came last by name and at a million loans waited 71 s behind
    int_borrower_months, first contacts, promises and the consistency findings (a model or two
    downstream each), and mart_borrower_signals then ran alone on one core for about 45 s at the
    build's end; dim_loan, ready when latest reports ended, waited behind every model readied
    before it. So the queue gives out a node only when fewer nodes are running than dbt has
    threads, and then the ready node with the most downstream. A node still waits for everything
    upstream: only the order among ready nodes changes.
    """
    from dbt.graph import Graph
    from dbt.graph.queue import GraphQueue
    from dbt.task.runnable import GraphRunnableTask

    if getattr(GraphQueue.get, "waits_for_a_thread", False):
        return  # installed by an earlier call
    get, run_queue = GraphQueue.get, GraphRunnableTask.run_queue

    def downstream_first(queue: GraphQueue, graph: object) -> dict[str, tuple[int, str]]:
        selected = Graph(graph)  # dbt's view of the queue's networkx graph
        return {node: (-len(selected.descendants(node)), node) for node in selected.nodes()}

    def get_when_a_thread_is_free(queue: GraphQueue, block: bool = True, timeout: float | None = None):
        with queue.lock:
            while len(queue.in_progress) >= getattr(queue, "threads", float("inf")):
                queue.some_task_done.wait()
        return get(queue, block, timeout)

    def run_queue_with_threads(task: GraphRunnableTask, pool) -> None:
        task.job_queue.threads = pool.max_threads
        run_queue(task, pool)

    get_when_a_thread_is_free.waits_for_a_thread = True
    GraphQueue._get_scores = downstream_first
    GraphQueue.get = get_when_a_thread_is_free
    GraphRunnableTask.run_queue = run_queue_with_threads


def start_dbt_task(context: object = None) -> None:
    """pre_execute of every Cosmos task: prepare the process (prepare_dbt_process), then freeze the
    garbage collector's view of what the process already holds.

    Cosmos ends each dbt invocation with a full gc.collect() (its cosmos.dbt.runner releases the
    adapters' semaphores). A full collection walks every tracked object: in the in-process
    pipeline that is all of Airflow, GX, dbt and the parsed DAGs, 0.75 s a task on the 2-core
    host, a quarter of a model task. Frozen objects are skipped, so the collection walks only what
    the task created. end_dbt_task unfreezes them, so nothing frozen escapes collection for good.
    """
    prepare_dbt_process()
    gc.freeze()


def end_dbt_task(context: object = None, result: object = None) -> None:
    """post_execute of every Cosmos task: hand the objects start_dbt_task froze back to the
    collector. (After a failed task it is the next task's end that does so.)"""
    gc.unfreeze()


def run_dbt(args: list[str], project_dir: Path = DBT_PROJECT_DIR, *, connects: bool = True) -> None:
    """Run one dbt command (e.g. ["build"], ["build", "--full-refresh"]) against the exchange database.

    `project_dir` is the dbt project (default: the exchange's); a test points it at a scratch copy
    whose rules differ (a new rules version), never at another schema. A command that opens no
    connection (`dbt parse`: connects=False) renders the profile from stand-ins, so it neither
    needs a server nor starts the embedded one, and leaves the environment as it found it.

    Raises TransformFailed with T_DBT_ERROR when dbt could not run at all and T_DBT_FAILED when
    any node failed (failures lists them as "name: status"). The message gives each failed node's
    first lines of dbt's message too (the database's error, with a reason code a macro raised, such
    as T_UNLOGGED_LOST), so the task's error says why without the dbt log.
    """
    if connects:
        os.environ.update(dbt_env())
        result = _invoke(args, project_dir)
    else:
        with environment(**PARSE_ONLY_ENV):
            result = _invoke(args, project_dir)
    if result.exception is not None:
        raise TransformFailed("T_DBT_ERROR", f"dbt {' '.join(args)} could not run: {result.exception}")
    if not result.success:
        failed = [r for r in getattr(result.result, "results", None) or []
                  if str(r.status) in ("error", "fail", "runtime error")]
        failures = [f"{r.node.name}: {r.status}" for r in failed]
        details = "".join(f"\n- {failure}: {first_lines(r.message)}" for failure, r in zip(failures, failed, strict=True))
        raise TransformFailed(
            "T_DBT_FAILED",
            f"dbt {' '.join(args)} failed: {', '.join(failures) or 'see the dbt log'}{details}",
            failures,
        )



def _arguments(args: list[str], project_dir: Path) -> list[str]:
    return [*args, "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
            "--profile", DBT_PROFILE, "--target", DBT_TARGET]


def _invoke(args: list[str], project_dir: Path):
    """dbt's result for `args` on `project_dir`, in this process, with the connection in the environment."""
    from dbt.cli.main import dbtRunner  # heavy import: only the commands that run dbt pay for it

    prepare_dbt_process()
    return dbtRunner().invoke(_arguments(args, project_dir))


def warm_dbt(project_dir: Path = DBT_PROJECT_DIR) -> bool:
    """Read the project once, partially parsed, in a process that will fork dbt tasks
    (exchange.pipeline.preload), so each forked task finds dbt's lazily built machinery ready.
    Whether dbt read it.

    dbt builds much of itself on the first invocation of a process, whatever the command: the
    serializers of its dataclasses (mashumaro compiles each on first use: the manifest's, for
    the partial-parse file) and the JSON schemas that validate the project and the profile. A task
    forked from a process that imported dbt (and nothing more) paid that in every task: the first
    `dbt build` of one node took 2.5-2.8 s where the next in the same process took 0.6-0.9 s; after
    this reading in the parent, the first took 1.3-1.9 s (on the development host, with a test run
    beside). Under the real scheduler a model task took 2.2 -> 1.7 s on average (LocalExecutor) and
    3.3 -> 2.0 s (Celery, two workers).

    The full parse that writes the partial-parse file runs in a child process: it starts
    dbt-extractor's thread pool (Rust, rayon), and a process forked after that inherits the pool
    without its threads, so a task's own full parse (a fresh target, a changed project) would
    wait forever. This process then only reads that file back, which parses no model. The
    connection comes from the environment (EXCHANGE_PG_*, which the deployment gives its
    processes); no connection is opened, and no adapter is left behind. A project dbt cannot
    parse is left to the tasks to report: this only makes them cheaper.

    Then every macro of the project is compiled into dbt's template cache (_compile_macros), and the
    project's saved parse is decoded for the tasks (decode_saved_parse).
    """
    from dbt.adapters.factory import reset_adapters

    with tempfile.TemporaryDirectory(prefix="exchange-dbt-warm-") as work:
        parse = [*COSMOS_DBT_FLAGS, "--quiet", "parse", "--target-path", work, "--log-path", work]
        written = subprocess.run([str(DBT_EXECUTABLE), *_arguments(parse, project_dir)], stdin=subprocess.DEVNULL,
                                 capture_output=True, check=False)
        if written.returncode != 0:
            return False
        result = _invoke(parse, project_dir)
    reset_adapters()  # what Cosmos does after each invocation: no adapter state inherited by the forks
    if result.success:
        _compile_macros(result.result)
        decode_saved_parse(project_dir / "target" / "partial_parse.msgpack")
    return result.success


_DECODED = ForkHandover()
"""The saved parse decode_saved_parse decoded: its Manifest by the file's bytes."""


def decode_saved_parse(path: Path) -> bool:
    """Decode the project's partial-parse file once in a process that forks dbt tasks, so that the
    first dbt invocation of each forked process takes the Manifest instead of decoding the file
    again (7.5% of the task processes' CPU, py-spy over a 200k month, 2026-12-07). Whether there
    was a file to decode.

    Each task reads the file Cosmos copied for it, and dbt decodes it with Manifest.from_msgpack.
    The decoded Manifest is a function of the bytes alone, and it is handed over only where the
    bytes dbt read are these exactly: a release that changed the project, or a task that parsed
    anew and saved its parse, gives other bytes, which dbt decodes as always. It is handed over
    once per forked process (dbt then changes it in place), never in this process, and the fork
    gives each task its own copy of the parent's untouched one.
    """
    from dbt.contracts.graph.manifest import Manifest
    from dbt.parser.manifest import extended_mashumuro_decoder

    if not path.is_file():
        return False
    data = path.read_bytes()
    _DECODED.give({data: Manifest.from_msgpack(data, decoder=extended_mashumuro_decoder)})
    decode = Manifest.from_msgpack
    if getattr(decode, "takes_decoded", False):
        return True  # installed by an earlier call

    def decoded_once(cls, data: bytes, *args: object, **kwargs: object):
        manifest = _DECODED.take(data)
        return manifest if manifest is not None else decode(data, *args, **kwargs)

    decoded_once.takes_decoded = True
    Manifest.from_msgpack = classmethod(decoded_once)
    return True


def _compile_macros(manifest: object) -> int:
    """Compile every macro of `manifest` (the project's and dbt's: materializations, adapters) into
    dbt's process-wide template cache, which is keyed by the macro's source; how many.

    dbt compiles a macro's Jinja source into Python the first time a process calls it, and keeps
    it for the process's life. A task forked from a process that never ran a model compiled, in
    every task, each macro its model and tests call (the materialization, the incremental strategy,
    the exchange's rebuild macros): 15% of the task processes' CPU in a month under the scheduler
    (py-spy, 200k loans, 2026-12-06). Compiled once in the parent (0.8 s for the 567 macros), each
    forked task finds them compiled. The source is the key, so a macro changed since is compiled
    afresh by the task that calls it, as before. A macro that does not compile is left to the
    task that calls it to report: this only makes tasks cheaper, and must not stop the scheduler.
    """
    from dbt_common.clients.jinja import template_cache

    compiled = 0
    for macro in manifest.macros.values():
        try:
            template_cache.get_node_template(macro)
        except Exception:  # noqa: BLE001  (any failure is the calling task's to report)
            continue
        compiled += 1
    return compiled


def ensure_manifest(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """Run `dbt parse` when target/manifest.json is missing or older than a file of the project.

    Called where a deployment or a pipeline run starts (`exchange airflow up`, the in-process
    runner), never while a DAG file is parsed. Several processes may start at once (a deployment,
    a pipeline run, parallel test workers) while others parse the DAG file from the manifest:
    one parses at a time (a file lock), into a private target directory, and the manifest is
    moved into place in one rename, so a reader sees the old file or the new one, never half of
    one. The parse opens no connection: it needs no server and starts no embedded one (it once
    started the checkout's own from a test that had no database given, and left it running).
    Returns the manifest's path.
    """
    manifest = project_dir / "target" / "manifest.json"
    manifest.parent.mkdir(exist_ok=True)
    with FileLock(manifest.parent / ".manifest.lock"):
        if not manifest.exists() or manifest.stat().st_mtime < _newest_source(project_dir):
            with tempfile.TemporaryDirectory(dir=manifest.parent, prefix=".parse-") as work:
                run_dbt(["parse", "--target-path", work, "--log-path", str(Path(work) / "logs")], project_dir,
                        connects=False)
                os.replace(Path(work) / "manifest.json", manifest)
    return manifest


def parse_for_tasks(project_dir: Path = DBT_PROJECT_DIR) -> None:
    """Write dbt's partial-parse file in the project's target/ as the monthly transform's tasks read
    it: the deployment's profile (its connection, EXCHANGE_PG_*) and the monthly vars.

    dbt reuses a partial parse only under the same profile and vars. ensure_manifest parses with
    stand-ins and keeps only the manifest, so a new deployment's first transform parsed the whole
    project in rule_seeds (8.6 s at a million loans, on the path of every model task); `exchange
    airflow up` calls this once the connection is known, and the month then starts from this file.
    Opens no connection. Safe to call again: when nothing changed, dbt reads the file and parses
    nothing.
    """
    run_dbt(["parse", "--no-write-json", *monthly_vars()], project_dir)


def _newest_source(project_dir: Path) -> float:
    """mtime of the newest file dbt reads (models, seeds, macros, tests, the project and profile files)."""
    return max(
        (p.stat().st_mtime for p in project_dir.rglob("*")
         if p.is_file() and _NOT_SOURCES.isdisjoint(p.relative_to(project_dir).parts[:1])),
        default=0.0,
    )
