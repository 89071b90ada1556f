"""The scheduler's idle sleep ends when a LocalExecutor worker reports (exchange.pipeline.wakeup).

Each probe runs in a process of its own: the waking sleep is installed in Airflow's scheduler module
for the life of the process, as in the scheduler. The real-scheduler tests (test_airflow_local) run
the deployment whose scheduler has it.
"""

from __future__ import annotations

import subprocess
import sys

SLEEPS = """
import os, time
from airflow.executors.local_executor import LocalExecutor
from airflow.jobs import scheduler_job_runner
from exchange.pipeline.wakeup import wake_on_results
print("=", "installed", wake_on_results(), "again", wake_on_results())
def slept(seconds):
    start = time.monotonic()
    scheduler_job_runner.time.sleep(seconds)  # as the scheduler loop sleeps when idle
    return time.monotonic() - start
print("=", "no executor: sleeps its time", slept(0.3) >= 0.3)
executor = LocalExecutor(parallelism=1)
executor.start()
print("=", "no result: sleeps its time", slept(0.3) >= 0.3)
if os.fork() == 0:  # a worker reporting a task's end, as LocalExecutor's workers do
    time.sleep(0.5)
    executor.result_queue.put((None, "success", None))
    os._exit(0)
print("=", "a result ends the sleep", slept(120) < 60, "and is left to the executor", not executor.result_queue.empty())
executor.result_queue.get()
executor.end()
print("=", "ended: sleeps its time", slept(0.3) >= 0.3)
"""


def _probe(code: str, *args: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return [line[2:] for line in done.stdout.splitlines() if line.startswith("= ")]


def test_the_schedulers_idle_sleep_ends_when_a_local_executor_worker_reports_and_lasts_its_time_otherwise():
    assert _probe(SLEEPS) == [
        "installed True again True",
        "no executor: sleeps its time True",
        "no result: sleeps its time True",
        "a result ends the sleep True and is left to the executor True",
        "ended: sleeps its time True",
    ]


def test_the_launcher_installs_the_waking_sleep_in_the_scheduler_only():
    probe = ("import sys\n"
             "import airflow.__main__\n"
             "from airflow.jobs import scheduler_job_runner\n"
             "from exchange.pipeline import preload, wakeup\n"
             "airflow.__main__.main = lambda: print('=', sys.argv[1],"
             " isinstance(scheduler_job_runner.time, wakeup._WakingTime))\n"
             "preload.warm_dbt = lambda: True\n"
             "preload.preparse_dag_files = lambda: 0\n"
             "preload.main()\n")
    assert _probe(probe, "scheduler") == ["scheduler True"]
    assert _probe(probe, "celery", "worker") == ["celery False"]
