"""Airflow's command line with dbt already imported, for the processes that fork task processes.

Airflow 3 runs every task in a process forked from the one that executes it: a LocalExecutor
worker, itself forked from the scheduler, or a Celery pool process, forked from `celery worker`.
Each of the transform's dbt tasks then imported dbt itself, 2.1-2.8 s on this project's hosts, in a
task whose model and tests took about a second on a month's files: every model task (63) paid it
every monthly run. Imported once in the parent, dbt is in every forked task already (copy-on-write).
So are Cosmos's operators, which parsing the transform DAG in the task imports (0.7 s), and the
OpenLineage reader Cosmos imports after each dbt invocation (0.2-0.4 s).

Then, in a process that forks tasks (the scheduler, a Celery worker), dbt reads the project once
(exchange.pipeline.dbt.warm_dbt): the first dbt invocation of a process builds dbt's serializers
and schemas, which every forked task otherwise built again (about a second of each model task).

`exchange airflow up` starts the scheduler and the Celery workers as
`python -m exchange.pipeline.preload <airflow arguments>`; the other components fork no task.
Importing these and reading the project open no connection and leave no thread running: forking
after them is safe. Should the reading leave a thread (dbt parsed a model after all, starting
dbt-extractor's thread pool, which a fork inherits without its threads), the process starts
again without it.
"""

from __future__ import annotations

import os
import sys

from exchange.pipeline.dbt import warm_dbt

COMMAND = (sys.executable, "-m", "exchange.pipeline.preload")
"""How a process starts through this launcher, followed by Airflow's arguments."""

TASK_FORKING = (["scheduler"], ["celery", "worker"])
"""The Airflow commands whose process forks task processes (LocalExecutor workers are forked from
the scheduler)."""


COLD = "EXCHANGE_PRELOAD_COLD"
"""Set when the launcher starts again without reading the project (see above)."""


def forks_tasks(airflow_args: list[str]) -> bool:
    """Whether the Airflow command `airflow_args` runs a process that forks task processes."""
    return any(airflow_args[:len(command)] == command for command in TASK_FORKING)


def threads() -> int:
    """Threads of this process as the kernel counts them (Python's threading module does not see
    those a native library starts)."""
    return len(os.listdir("/proc/self/task"))


def main() -> None:
    import cosmos.operators.local  # noqa: F401  what parsing the transform DAG imports
    import dbt.adapters.postgres  # noqa: F401  the adapter every task registers
    import dbt.cli.main  # noqa: F401
    import openlineage.common.provider.dbt.local  # noqa: F401  read by Cosmos after each invocation
    from airflow.__main__ import main as airflow_main

    if forks_tasks(sys.argv[1:]) and not os.environ.get(COLD):
        if not warm_dbt():
            print("exchange.pipeline.preload: dbt could not parse the project; each task will report why",
                  file=sys.stderr)
        if threads() > 1:
            print("exchange.pipeline.preload: reading the project left a thread running; starting again without it",
                  file=sys.stderr)
            os.execve(sys.executable, [*COMMAND, *sys.argv[1:]], {**os.environ, COLD: "1"})
    airflow_main()  # parses sys.argv[1:], as `airflow` does


if __name__ == "__main__":
    main()
