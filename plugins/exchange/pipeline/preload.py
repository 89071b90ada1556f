"""Airflow's command line with dbt already imported, for the processes that fork task processes.

Airflow 3 runs every task in a process forked from the one that executes it: a LocalExecutor
worker, itself forked from the scheduler, or a Celery pool process, forked from `celery worker`.
Each of the transform's dbt tasks then imported dbt itself, 2.1-2.8 s on this project's hosts, in a
task whose model and tests took about a second on a month's files: 64 model tasks paid it every
monthly run. Imported once in the parent, dbt is in every forked task already (copy-on-write).
So are Cosmos's operators, which parsing the transform DAG in the task imports (0.7 s), and the
OpenLineage reader Cosmos imports after each dbt invocation (0.2-0.4 s).

`exchange airflow up` starts the scheduler and the Celery workers as
`python -m exchange.pipeline.preload <airflow arguments>`; the other components fork no task.
Importing these starts no thread and opens no connection: forking after it is safe.
"""

from __future__ import annotations


def main() -> None:
    import cosmos.operators.local  # noqa: F401  what parsing the transform DAG imports
    import dbt.adapters.postgres  # noqa: F401  the adapter every task registers
    import dbt.cli.main  # noqa: F401
    import openlineage.common.provider.dbt.local  # noqa: F401  read by Cosmos after each invocation
    from airflow.__main__ import main as airflow_main

    airflow_main()  # parses sys.argv[1:], as `airflow` does


if __name__ == "__main__":
    main()
