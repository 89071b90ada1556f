"""The processes that fork Airflow's task processes start with dbt imported (exchange.pipeline.preload).

A forked task then finds dbt loaded instead of importing it (2-3 s per dbt task). The real-scheduler
tests (test_airflow_local, test_airflow_celery) run the deployment this starts; they cannot read
which command started a process, as Airflow and Celery rename their processes once running.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

from exchange.core.settings import PROJECT_ROOT
from exchange.pipeline import deploy, preload
from exchange.pipeline.dbt import ensure_manifest

PRELOAD = [sys.executable, "-m", "exchange.pipeline.preload"]

PARSED_DAGS = """
import os, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
from exchange.pipeline import preload
folder, release = Path(sys.argv[1]), Path(sys.argv[2])
preload.DAG_FILE_INPUTS = (release,)  # stands in for the manifest a release rewrites
print("=", "parsed", preload.preparse_dag_files(), "threads", preload.threads())
path = folder / "exchange_transform.py"
parent = next(dag for dag in preload._PARSED.prepared((str(path), str(folder), "dags-folder"))[1].dags
              if dag.dag_id == "exchange_transform")
def dag(file=path):  # as Airflow's task runner parses a task's DAG file (task_runner.parse)
    bag = BundleDagBag(dag_folder=str(file), safe_mode=False, load_op_links=False, bundle_path=folder,
                       bundle_name="dags-folder")
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags[file.stem]
def task(check):
    pid = os.fork()
    if pid == 0:
        print("=", *check(), flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
print("=", "the parent parses", dag() is not parent)
def same_files():
    first, again = dag(), dag()
    return "a task takes it", first is parent, "then parses", again is not parent and len(again.tasks) == len(first.tasks)
task(same_files)
task(lambda: ("another file is parsed", dag(folder / "exchange_publish.py").dag_id == "exchange_publish"))
release.write_text("a release of the models")
task(lambda: ("after a release it is parsed", dag() is not parent, len(dag().tasks) == len(parent.tasks)))
"""


def test_the_launcher_imports_dbt_and_cosmos_before_running_airflows_command_line():
    done = subprocess.run([*PRELOAD, "version"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == importlib.metadata.version("apache-airflow")  # after import warnings
    # what is imported when Airflow's command line starts (-X importtime leaves some packages out)
    probe = ("import sys\n"
             "import airflow.__main__\n"
             "airflow.__main__.main = lambda: print('missing:', *[m for m in sys.argv[1:] if m not in sys.modules])\n"
             "from exchange.pipeline import preload\n"
             "preload.main()\n")
    done = subprocess.run([sys.executable, "-c", probe, *preload.DBT_TASK_IMPORTS], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "missing:"  # none (after import warnings)
    assert "dbt.task.build" in preload.DBT_TASK_IMPORTS


def test_up_starts_the_scheduler_and_the_celery_workers_through_the_launcher():
    assert deploy.program("scheduler") == PRELOAD
    assert deploy.program("worker-w1") == PRELOAD
    assert [deploy.program(name)[0].rsplit("/", 1)[-1] for name in ("api-server", "dag-processor", "triggerer")] \
        == ["airflow"] * 3


def test_the_launcher_warms_dbt_for_the_scheduler_and_the_workers_and_for_no_other_component():
    """exchange.pipeline.preload parses the project before Airflow runs when its command forks tasks
    (test_dbt_task_start pins what that spares each task)."""
    options = deploy.Options(executor="CeleryExecutor", workers=1)
    env = {"AIRFLOW__OPERATORS__DEFAULT_QUEUE": "q"}

    warms = {name: preload.forks_tasks(deploy._command(name, options, env)) for name in deploy.component_names(options)}
    assert warms == {
        "api-server": False, "scheduler": True, "dag-processor": False, "triggerer": False, "worker-w1": True}


def test_the_task_modules_are_imported_before_forking_without_starting_a_thread():
    """A process that forks tasks imports the exchange's other tasks' modules too (pandas, pyarrow,
    Great Expectations: seconds per task otherwise). numpy and pyarrow each start a thread when
    imported, which a fork would have without the thread: FORK_SAFE_ENV keeps them from starting,
    so the launcher's one-thread check still holds."""
    env = {k: v for k, v in os.environ.items() if k not in preload.FORK_SAFE_ENV}
    probe = ("import sys\n"
             "from exchange.pipeline import preload\n"
             "preload.import_task_modules()\n"
             "print(preload.threads(), *[m in sys.modules for m in ('pandas', 'pyarrow', 'great_expectations',"
             " 'exchange.intake.ingest', 'exchange.feed.publish')])\n")
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "True", "True", "True", "True", "True"]
    assert "Skipping registering function" not in done.stderr  # Great Expectations' import chatter


def test_a_forked_task_takes_its_dag_parsed_before_the_fork_while_its_files_are_unchanged(tmp_path: Path):
    """The scheduler and the Celery workers parse the DAG files before forking (preparse_dag_files),
    so a task does not render the transform DAG again to run one model. A task takes the DAG once;
    the parent, a second parse, and a parse after a release rewrote the manifest parse the file.
    In a process of its own: Airflow is configured once per process (AIRFLOW_HOME in tmp_path)."""
    ensure_manifest()  # the transform DAG renders its tasks from it
    folder = tmp_path / "dags"
    shutil.copytree(PROJECT_ROOT / "dags", folder, ignore=shutil.ignore_patterns("__pycache__"))
    release = tmp_path / "release"
    release.write_text("models as parsed")
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": str(folder)}
    done = subprocess.run([sys.executable, "-c", PARSED_DAGS, str(folder), str(release)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [line for line in done.stdout.splitlines() if line.startswith("= ")] == [  # not the log lines
        f"= parsed {len(list(folder.glob('exchange_*.py')))} threads 1",
        "= the parent parses True",
        "= a task takes it True then parses True",
        "= another file is parsed True",
        "= after a release it is parsed True True",
    ]


def test_the_scheduler_starts_when_the_dag_files_cannot_be_parsed_before_forking():
    """The parse before the fork only spares the tasks work: when it fails, the launcher says so and
    runs Airflow's command all the same, and each task parses its own DAG file."""
    probe = ("import sys\n"
             "import airflow.__main__\n"
             "airflow.__main__.main = lambda: print('airflow runs', sys.argv[1:])\n"
             "from exchange.pipeline import preload\n"
             "preload.warm_dbt = lambda: True\n"
             "def fails():\n"
             "    raise RuntimeError('no bundle')\n"
             "preload.preparse_dag_files = fails\n"
             "preload.main()\n")
    done = subprocess.run([sys.executable, "-c", probe, "scheduler"], capture_output=True, text=True, timeout=180,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "airflow runs ['scheduler']"
    assert "the DAG files could not be parsed before forking (RuntimeError('no bundle'))" in done.stderr
