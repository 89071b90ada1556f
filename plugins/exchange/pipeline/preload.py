"""Airflow's command line with dbt already imported, for the processes that fork task processes.

Airflow 3 runs every task in a process forked from the one that executes it: a LocalExecutor
worker, itself forked from the scheduler, or a Celery pool process, forked from `celery worker`.
Each of the transform's dbt tasks then imported dbt itself, 2.1-2.8 s on this project's hosts, in a
task whose model and tests took about a second on a month's files: every model task (63) paid it
every monthly run. Imported once in the parent, dbt is in every forked task already (copy-on-write).
So is what each dbt task imports besides (DBT_TASK_IMPORTS): Cosmos and the Task SDK's decorators,
which parsing the transform DAG imports (0.7 s), and the modules dbt imports only when a `dbt build`
runs its first query.

Then, in a process that forks tasks (the scheduler, a Celery worker), dbt reads the project once
(exchange.pipeline.dbt.warm_dbt): the first dbt invocation of a process builds dbt's serializers
and schemas, which every forked task otherwise built again (about a second of each model task).
The DAG files are parsed there too (preparse_dag_files), and each forked task takes its DAG
instead of parsing the file again.
Such a process imports what the exchange's other tasks import too (TASK_IMPORTS): the ingest's,
the gate's and the publication's modules, pandas and Great Expectations with them, which each of
those tasks imported itself (about a second each, and 3-5 s more in the gate), one after the
other on the month's path. numpy and pyarrow start a thread when imported (OpenBLAS's pool,
jemalloc's background thread), and a fork has them without their threads; FORK_SAFE_ENV keeps
both from starting, and the check below still holds.

`exchange airflow up` starts the scheduler and the Celery workers as
`python -m exchange.pipeline.preload <airflow arguments>`; the other components fork no task. In the
scheduler it also installs the idle sleep that a LocalExecutor worker's report ends
(exchange.pipeline.wakeup).
Importing these and reading the project open no connection and leave no thread running: forking
after them is safe. Should the reading leave a thread (dbt parsed a model after all, starting
dbt-extractor's thread pool, which a fork inherits without its threads), the process starts
again without it.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from exchange.pipeline.dbt import MANIFEST_PATH, warm_dbt
from exchange.pipeline.forks import ForkHandover
from exchange.pipeline.wakeup import wake_on_results

COMMAND = (sys.executable, "-m", "exchange.pipeline.preload")
"""How a process starts through this launcher, followed by Airflow's arguments."""

TASK_FORKING = (["scheduler"], ["celery", "worker"])
"""The Airflow commands whose process forks task processes (LocalExecutor workers are forked from
the scheduler)."""


COLD = "EXCHANGE_PRELOAD_COLD"
"""Set when the launcher starts again without reading the project (see above)."""

DBT_TASK_IMPORTS = (
    "dbt.cli.main", "dbt.adapters.postgres",  # dbt, and the adapter every task registers
    "dbt.task.build", "dbt_common.clients.agate_helper",  # what `dbt build` imports as it runs a node
    "cosmos.operators.local", "cosmos.airflow.task_group", "cosmos.profiles",  # what parsing the transform DAG
    "airflow.sdk.definitions.decorators",  # imports (`@dag`, `@task`: airflow.sdk imports them on first use)
)
"""What a dbt task of the transform imports: about 8% of a model task's CPU when each task imported
these itself (py-spy over a month's task processes, 2026-12-07)."""

TASK_IMPORTS = ("exchange.pipeline.stages", "great_expectations")
"""What the exchange's tasks other than dbt's import: the ingest, the pending-stage checks, the
gate (Great Expectations, imported only when the gate runs) and the publication."""

FORK_SAFE_ENV = {"OPENBLAS_NUM_THREADS": "1", "JE_ARROW_MALLOC_CONF": "background_thread:false"}
"""Read by numpy's OpenBLAS and pyarrow's bundled jemalloc when they load: no thread pool, no
background thread (pyarrow allocates through mimalloc; jemalloc's thread only purges its own
arenas). Set for the processes that fork tasks only, and for their tasks, which inherit them."""


def forks_tasks(airflow_args: list[str]) -> bool:
    """Whether the Airflow command `airflow_args` runs a process that forks task processes."""
    return any(airflow_args[:len(command)] == command for command in TASK_FORKING)


def threads() -> int:
    """Threads of this process as the kernel counts them (Python's threading module does not see
    those a native library starts)."""
    return len(os.listdir("/proc/self/task"))


def import_task_modules() -> None:
    """Import TASK_IMPORTS, with numpy's and pyarrow's threads kept from starting (FORK_SAFE_ENV)."""
    for name, value in FORK_SAFE_ENV.items():
        os.environ.setdefault(name, value)
    # Great Expectations logs a line per function its API docs skip (a few hundred) at INFO on import
    logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)
    for module in TASK_IMPORTS:
        importlib.import_module(module)


DAG_FILE_INPUTS = (MANIFEST_PATH,)
"""What a DAG file's parse reads besides the file and the code imported with it: the transform DAG
renders its model tasks from the dbt manifest, which a release of the models rewrites."""

_PARSED = ForkHandover()
"""What preparse_dag_files parsed: by (file, bundle path, bundle name), the stat of each file the
parse read and the importer's result."""


def preparse_dag_files() -> int:
    """Parse every DAG file of the deployment's bundles once in a process that forks tasks, so that a
    forked task takes its DAG instead of parsing the file again; how many files were parsed.

    Airflow's task runner parses the task's DAG file in every task process (task_runner.parse): for a
    model task, Cosmos renders the whole transform DAG, 63 operators from the 2.5 MB manifest, to run
    one of them. That was 17% of the task processes' CPU in a month under the scheduler (py-spy,
    200k loans, 2026-12-07). A DAG here is a function of its file, the modules it imports and the
    manifest (DAG_FILE_INPUTS): it reads no clock, variable or connection when parsed. The modules are
    the ones this process imported (a change to them needs `exchange airflow down` and `up` anyway),
    so the result is handed over only while the file and the manifest are as they were when parsed
    (same inode, size and modification time): a changed file, or a release that rewrote the
    manifest, is parsed by the task as always. It is handed over once per forked process, never in
    this one, and the fork gives each task its own copy of the DAG, which the task is free to
    change. A file that does not parse here is left to the tasks to report, and so is any failure of
    this parse (main goes on without it).
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.importers import get_importer_registry
    from airflow.dag_processing.importers.python_importer import PythonDagImporter

    parsed: dict[tuple[str, str, str], tuple[dict[str, tuple[int, int, int] | None], object]] = {}
    registry = get_importer_registry()
    for bundle in DagBundlesManager().get_all_dag_bundles():
        if bundle.supports_versioning:
            continue  # a task reads its own version of such a bundle, at another path
        bundle.initialize()
        if str(bundle.path) not in sys.path:
            sys.path.append(str(bundle.path))  # as the task runner's BundleDagBag does
        for path in registry.list_dag_files(bundle.path, safe_mode=True):
            importer = registry.get_importer(path)
            if not isinstance(importer, PythonDagImporter):
                continue
            inputs = _stats([path, *DAG_FILE_INPUTS])
            result = importer.import_file(path, bundle_path=bundle.path, bundle_name=bundle.name, safe_mode=False)
            if not result.errors:
                parsed[(os.path.normpath(path), str(bundle.path), bundle.name)] = (inputs, result)
    _PARSED.give(parsed)
    import_file = PythonDagImporter.import_file
    if not getattr(import_file, "takes_parsed", False):
        def parsed_once(importer, file_path, *, bundle_path=None, bundle_name=None, safe_mode=True):
            if not safe_mode:  # the task runner's call
                entry = _PARSED.take((os.path.normpath(file_path), str(bundle_path), bundle_name))
                if entry is not None and entry[0] == _stats(entry[0]):
                    return entry[1]
            return import_file(importer, file_path, bundle_path=bundle_path, bundle_name=bundle_name,
                               safe_mode=safe_mode)

        parsed_once.takes_parsed = True
        PythonDagImporter.import_file = parsed_once
    return len(parsed)


def _stats(paths: Iterable[str | Path]) -> dict[str, tuple[int, int, int] | None]:
    """Inode, size and modification time of each path (None when missing)."""
    stats = {}
    for path in paths:
        try:
            found = Path(path).stat()
        except FileNotFoundError:
            stats[str(path)] = None
        else:
            stats[str(path)] = (found.st_ino, found.st_size, found.st_mtime_ns)
    return stats


def main() -> None:
    for module in DBT_TASK_IMPORTS:
        importlib.import_module(module)
    from airflow.__main__ import main as airflow_main

    if forks_tasks(sys.argv[1:]) and not os.environ.get(COLD):
        import_task_modules()
        if not warm_dbt():
            print("exchange.pipeline.preload: dbt could not parse the project; each task will report why",
                  file=sys.stderr)
        try:
            preparse_dag_files()
        except Exception as failed:  # noqa: BLE001  (only makes tasks cheaper: must not stop the scheduler)
            print(f"exchange.pipeline.preload: the DAG files could not be parsed before forking ({failed!r});"
                  " each task parses its own", file=sys.stderr)
        if threads() > 1:
            print("exchange.pipeline.preload: importing the task modules, reading the project or parsing the DAG"
                  " files left a thread running; starting again without them",
                  file=sys.stderr)
            os.execve(sys.executable, [*COMMAND, *sys.argv[1:]], {**os.environ, COLD: "1"})
    if sys.argv[1:2] == ["scheduler"] and not wake_on_results():
        print("exchange.pipeline.preload: this Airflow's scheduler loop is not the one expected; it sleeps"
              " its idle time whatever the workers report", file=sys.stderr)
    airflow_main()  # parses sys.argv[1:], as `airflow` does


if __name__ == "__main__":
    main()
