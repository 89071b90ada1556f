"""A local Airflow deployment without Docker: the four Airflow 3 components (and Celery workers) as
background processes on this machine, their metadata on the exchange's own PostgreSQL server.

`up` is the production path on one host: the real scheduler follows the Asset triggers
(ingest -> transform -> publish) that the in-process runner (exchange.pipeline.run) imitates.
Everything lives under `.exchange/airflow-deploy/`: AIRFLOW_HOME, logs, PID files, the state of the
last `up` (executor, port, workers) and the secrets every process must share (Fernet key, JWT
secret, the admin password), kept in a file only the owner may read.

Every listening socket is on 127.0.0.1: the api-server is bound there, and no log server is started
(scheduler, triggerer and workers run with `--skip-serve-logs`: Airflow's log server binds every
interface and has no setting for it). The task logs are files under the deployment's log folder,
which the api-server reads directly because every process runs on this host.

Processes are started in their own sessions; `down` signals exactly the process groups whose PIDs
(with the start time, so a recycled PID is never mistaken for ours) `up` recorded.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg

from exchange.core.db import create_database, database_url, sqlalchemy_url
from exchange.core.errors import ExchangeError
from exchange.core.settings import PROJECT_ROOT, Settings, get_settings
from exchange.pipeline.dbt import dbt_env, ensure_manifest, parse_for_tasks
from exchange.pipeline.pools import DB_POOL, DB_POOL_SLOTS
from exchange.pipeline.preload import COMMAND as PRELOAD_COMMAND

API_SERVER = "api-server"
CORE_COMPONENTS = (API_SERVER, "scheduler", "dag-processor", "triggerer")
"""The processes of every deployment, in start order (Celery workers come after them)."""

EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
ADMIN_USER = "admin"
HEALTHY_PARTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")
"""What the api-server's /api/v2/monitor/health must report healthy before `up` returns."""
SCHEDULER_IDLE_SLEEP_S = "0.5"
"""How long the scheduler sleeps after a loop that found nothing to do (Airflow's default: 1 s).
A transform task whose upstream just ended waits for the next loop to be queued, and the month
has some 60 such waits: at 200k loans a slot of the `exchange_db` pool stood free while a task
waited for 40.8 s of the transform at 1 s, 23.1 s at 0.5 s and 16.7 s at 0.2 s (one run each, the
same clone). 0.5 s costs the idle deployment nothing measurable (busy core-seconds in 30 idle
seconds: 4.6 at 1 s, 4.8 at 0.5 s, 7.2 at 0.2 s). docker-compose.yml sets the same. With the
LocalExecutor the sleep also ends when a worker reports a task's start or end
(exchange.pipeline.wakeup)."""
DAG_FILE_REPARSE_S = "300"
"""How often the dag-processor parses a DAG file that has not changed (Airflow's default: 30 s). A
changed file is parsed at once whatever this says (file_parsing_sort_mode modified_time, the
default). Each parse of the transform DAG renders its 63 model tasks from the dbt manifest (about a
second of CPU); at 30 s a month at a million loans (about 5 minutes) parsed the three DAG files
some ten times, on the two cores the month's tasks use. The manifest changes with a release of the
models, written by `exchange airflow up`: the DAG shows the new models within this interval, or at
once after `exchange airflow down` and `up`. docker-compose.yml sets the same."""
HEALTH_TIMEOUT_S = 240.0
STOP_TIMEOUT_S = 30.0


class DeployError(ExchangeError):
    """The local Airflow deployment could not start, or is not in the state asked for.

    Codes: A_PORT_BUSY, A_CONFIG_CHANGED (running with other options: `down` first), A_START_FAILED
    (a command or process died; the message names its log), A_NOT_HEALTHY (no healthy scheduler in
    time), A_AIRFLOW_DB (the metadata database cannot be created).
    """


@dataclass(frozen=True)
class Options:
    """What `up` was asked for; stored so `status`, `down` and a second `up` know the shape."""

    executor: str = "LocalExecutor"
    port: int = 8080
    workers: int = 0
    worker_concurrency: int = 2
    broker: str = DEFAULT_BROKER
    database: str = "airflow"


@dataclass
class Process:
    name: str
    pid: int | None
    alive: bool
    log: Path


@dataclass
class Status:
    home: Path
    options: Options | None
    processes: list[Process] = field(default_factory=list)

    @property
    def url(self) -> str | None:
        return f"http://127.0.0.1:{self.options.port}" if self.options else None

    @property
    def running(self) -> bool:
        return bool(self.processes) and all(p.alive for p in self.processes)


def deployment_home(settings: Settings | None = None) -> Path:
    """AIRFLOW_HOME of the local deployment (apart from the in-process runner's SQLite home)."""
    return (settings or get_settings()).state_dir / "airflow-deploy"


def worker_hostname() -> str:
    """Airflow's `hostname_callable` in a Celery worker: `<worker>.<host>`, so the task instances'
    hostname in the metadata names the worker that ran them (all workers share one host here)."""
    return f"{os.environ['EXCHANGE_AIRFLOW_WORKER']}.{socket.getfqdn()}"


def component_names(options: Options) -> list[str]:
    return [*CORE_COMPONENTS, *(f"worker-w{i}" for i in range(1, options.workers + 1))]


def status(settings: Settings | None = None) -> Status:
    home = deployment_home(settings)
    options = _read_options(home)
    if options is None:
        return Status(home, None)
    processes = []
    for name in component_names(options):
        pid = _recorded_pid(home, name)
        processes.append(Process(name, pid, pid is not None, home / "logs" / f"{name}.log"))
    return Status(home, options, processes)


def up(options: Options, settings: Settings | None = None, *, echo=print) -> Status:
    """Start what is not running (nothing when all is), wait until the scheduler is healthy.

    Raises DeployError (A_CONFIG_CHANGED) when a deployment with other options still runs.
    """
    settings = settings or get_settings()
    home = deployment_home(settings)
    current = status(settings)
    if any(p.alive for p in current.processes) and current.options != options:
        raise DeployError("A_CONFIG_CHANGED", f"Airflow runs with {current.options}; `exchange airflow down` first")
    if current.running:
        return current
    for sub in ("logs", "run", "plugins"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    for pid_file in (home / "run").glob("*.pid"):  # processes that died since: started again below
        if _recorded_pid(home, pid_file.stem) is None:
            pid_file.unlink()
    if not any(p.alive for p in current.processes):
        _require_free_port(options.port)
        if renew_weak_jwt_secret(home):
            echo(f"JWT 密钥已更换 the JWT secret was shorter than {JWT_SECRET_BYTES} bytes: replaced")
    _write_options(home, options)
    env = airflow_env(options, settings)
    echo("dbt manifest ...")
    ensure_manifest()
    parse_for_tasks()
    echo("airflow db migrate ...")
    _run_airflow(env, home, "migrate", ["db", "migrate"])
    _run_airflow(env, home, "pool", ["pools", "set", DB_POOL, str(DB_POOL_SLOTS),
                                     "Tasks that write the exchange database"])
    # the api-server first: a task the scheduler starts before the Execution API answers fails
    # (the first scheduled ingest run does, as soon as the DAG is parsed)
    names = component_names(options)
    for group, parts in ((names[:1], ("metadatabase",)), (names[1:], HEALTHY_PARTS)):
        for name in group:
            if _recorded_pid(home, name) is None:
                _start(home, name, _command(name, options, env), env)
        echo(f"waiting for {', '.join(parts)} on {status(settings).url} ...")
        _wait_healthy(home, options, parts)
        if group == names[:1]:
            _warm_execution_api(options)
    return status(settings)


def down(settings: Settings | None = None) -> list[str]:
    """Stop the recorded processes (their whole process groups); return the names stopped.

    The api-server goes last: a task stopped mid-run reports its end through it, and with the
    api-server gone first its supervisor retried the calls until the 30 s grace ran out."""
    home = deployment_home(settings)
    options = _read_options(home)
    names = component_names(options) if options else [p.stem for p in (home / "run").glob("*.pid")]
    running = {name: pid for name in names if (pid := _recorded_pid(home, name)) is not None}
    _stop_groups([pid for name, pid in running.items() if name != API_SERVER])
    _stop_groups([pid for name, pid in running.items() if name == API_SERVER])
    for name in names:
        (home / "run" / f"{name}.pid").unlink(missing_ok=True)
    return list(running)


def admin_password(settings: Settings | None = None) -> str:
    return _secrets(deployment_home(settings))["admin_password"]


def airflow_env(options: Options, settings: Settings) -> dict[str, str]:
    """The environment of every Airflow process of the deployment (and of its tasks).

    Built at `up`, never at DAG parse time: dbt's connection (EXCHANGE_PG_*) is set here, so
    parsing a DAG file never starts or reaches a database.
    """
    home = deployment_home(settings)
    secret = _secrets(home)
    create_airflow_database(options.database)
    metadata = sqlalchemy_url(dbname=options.database)
    api = f"http://127.0.0.1:{options.port}"
    env = {
        **os.environ,
        **dbt_env(),
        "EXCHANGE_HOME": str(settings.home),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),  # the package is installed; no Airflow plugins
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",  # the exchange's DAGs are meant to run once deployed
        "AIRFLOW__CORE__EXECUTOR": options.executor,
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": SCHEDULER_IDLE_SLEEP_S,
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": DAG_FILE_REPARSE_S,
        "AIRFLOW__CORE__FERNET_KEY": secret["fernet_key"],
        "AIRFLOW__API_AUTH__JWT_SECRET": secret["jwt_secret"],
        "AIRFLOW__API__SECRET_KEY": secret["api_secret_key"],
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(options.port),
        "AIRFLOW__API__WORKERS": "1",  # its default, 4, is four copies of the app on a small host
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # Cosmos keeps dbt's partial-parse file between tasks; shared with other projects (its default
        # is /tmp/cosmos) a file from another profile forces a full parse in every task
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "DO_NOT_TRACK": "1",
        "GX_ANALYTICS_ENABLED": "false",
    }
    if options.executor == "CeleryExecutor":
        env.update({
            "AIRFLOW__CELERY__BROKER_URL": options.broker,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata.replace("postgresql+psycopg2", "postgresql", 1),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(options.worker_concurrency),
            # a queue of this deployment's own: two deployments on one broker never take each other's tasks
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": _queue(home),
        })
    return env


def create_airflow_database(name: str) -> None:
    """The Airflow metadata database `name` on the exchange's own server, created if missing."""
    url = database_url()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            if not conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
                create_database(conn, name)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise DeployError("A_AIRFLOW_DB", f"cannot create the Airflow database {name!r}: {exc}; "
                                          "create it as the server's owner") from exc


def _command(name: str, options: Options, env: dict[str, str]) -> list[str]:
    if name == API_SERVER:
        return [API_SERVER, "--host", "127.0.0.1", "--port", str(options.port)]
    if name in ("scheduler", "triggerer"):
        return [name, "--skip-serve-logs"]
    if name == "dag-processor":
        return [name]
    worker = name.removeprefix("worker-")
    return ["celery", "worker", "--celery-hostname", f"{worker}@%h", "--concurrency", str(options.worker_concurrency),
            "--queues", env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"], "--skip-serve-logs"]


def _start(home: Path, name: str, args: list[str], env: dict[str, str]) -> None:
    env = dict(env)
    if name.startswith("worker-"):
        env["EXCHANGE_AIRFLOW_WORKER"] = name.removeprefix("worker-")
        env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] = "exchange.pipeline.deploy.worker_hostname"
    log = (home / "logs" / f"{name}.log").open("ab")
    proc = subprocess.Popen([*program(name), *args], env=env, cwd=home, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    (home / "run" / f"{name}.pid").write_text(f"{proc.pid} {_start_time(proc.pid)}\n")


def program(name: str) -> list[str]:
    """How component `name` starts: the scheduler (its LocalExecutor workers fork the tasks) and the
    Celery workers with dbt already imported (exchange.pipeline.preload), the others as `airflow`."""
    if name == "scheduler" or name.startswith("worker-"):
        return list(PRELOAD_COMMAND)
    return [_airflow_bin()]


def _run_airflow(env: dict[str, str], home: Path, label: str, args: list[str]) -> None:
    log = home / "logs" / f"{label}.log"
    with log.open("ab") as fh:
        done = subprocess.run([_airflow_bin(), *args], env=env, cwd=home, stdin=subprocess.DEVNULL,
                              stdout=fh, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise DeployError("A_START_FAILED", f"airflow {' '.join(args)} failed; see {log}")


def _wait_healthy(home: Path, options: Options, parts: tuple[str, ...]) -> None:
    """Until the api-server answers and reports `parts` healthy; raise when a started process died."""
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    health: dict = {}
    while time.monotonic() < deadline:
        dead = [n for n in component_names(options)
                if (home / "run" / f"{n}.pid").exists() and _recorded_pid(home, n) is None]
        if dead:
            raise DeployError("A_START_FAILED", f"{', '.join(dead)} exited; see {home / 'logs'}/<name>.log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{options.port}/api/v2/monitor/health", timeout=5) as r:
                health = json.load(r)
        except (urllib.error.URLError, OSError, ValueError):
            health = {}
        if all((health.get(part) or {}).get("status") == "healthy" for part in parts):
            return
        time.sleep(2)
    raise DeployError("A_NOT_HEALTHY", f"Airflow not healthy after {HEALTH_TIMEOUT_S:.0f} s ({health}); see {home / 'logs'}")


def _warm_execution_api(options: Options) -> None:
    """Make the api-server's first Execution API request, before the scheduler can start a task.

    The api-server builds the Execution API's versioned routes (Cadwyn) on the first request that
    reaches it, and that request waits for them. It was the first task's start call (PATCH
    /execution/task-instances/<id>/run): the scheduled ingest run that a new deployment starts as
    soon as its DAG is parsed waited 2.4-2.5 s to start, against 20 ms for the next task (the
    api-server's access log, 2026-12-07), on the path of the deployment's first month. A request
    that does not answer is left to the first task to wait for, as before."""
    with contextlib.suppress(urllib.error.URLError, OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{options.port}/execution/health", timeout=60).close()


def _stop_groups(pgids: list[int]) -> None:
    """SIGTERM the process groups, wait for them to end, then SIGKILL what is left of them."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pgid in pgids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, sig)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline and any(_group_alive(g) for g in pgids):
            time.sleep(0.5)


def _group_alive(pgid: int) -> bool:
    """Some process that is not a zombie is still in the group."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _recorded_pid(home: Path, name: str) -> int | None:
    """The PID recorded for `name` if that very process (same start time) still runs."""
    try:
        pid_text, started = (home / "run" / f"{name}.pid").read_text().split()
    except (OSError, ValueError):
        return None
    pid = int(pid_text)
    return pid if _start_time(pid) == started else None


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (field 22 of /proc/<pid>/stat); None if gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def _require_free_port(port: int) -> None:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            raise DeployError("A_PORT_BUSY", f"port {port} on 127.0.0.1 is taken ({exc}); use --port") from exc


JWT_SECRET_BYTES = 64
"""Airflow signs the tasks' tokens with HS512, whose key should be at least 64 bytes (PyJWT warns
InsecureKeyLengthWarning below that)."""


def renew_weak_jwt_secret(home: Path) -> bool:
    """Replace a JWT secret shorter than JWT_SECRET_BYTES (deployments made before 2026-12-04 got
    32 random bytes, 43 characters); True when it did. Only while no process of the deployment
    runs (`up` from a stopped state): every process must sign and check with the same secret.
    The secret signs only short-lived task tokens, so nothing kept is lost; the other secrets
    (the Fernet key encrypts connections in the metadata) stay as they are."""
    path = home / "secrets.json"
    if not path.exists():
        return False
    values = json.loads(path.read_text())
    if len(values["jwt_secret"].encode()) >= JWT_SECRET_BYTES:
        return False
    _write_private(path, json.dumps({**values, "jwt_secret": secrets.token_urlsafe(JWT_SECRET_BYTES)}))
    return True


def _secrets(home: Path) -> dict[str, str]:
    """Generated once per deployment, readable by the owner only; every process gets the same."""
    path = home / "secrets.json"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        values = {
            "fernet_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "jwt_secret": secrets.token_urlsafe(JWT_SECRET_BYTES),
            "api_secret_key": secrets.token_urlsafe(32),
            "admin_password": secrets.token_urlsafe(12),
        }
        _write_private(path, json.dumps(values))
        # the simple auth manager reads its users' passwords from this file (it only adds missing users)
        _write_private(home / "passwords.json", json.dumps({ADMIN_USER: values["admin_password"]}))
    return json.loads(path.read_text())


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _queue(home: Path) -> str:
    return "exchange-" + hashlib.sha256(str(home).encode()).hexdigest()[:8]


def _read_options(home: Path) -> Options | None:
    try:
        return Options(**json.loads((home / "options.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write_options(home: Path, options: Options) -> None:
    (home / "options.json").write_text(json.dumps(asdict(options)))


def _airflow_bin() -> str:
    """The `airflow` beside this interpreter (the venv's), which need not be on PATH."""
    beside = Path(sys.executable).with_name("airflow")
    return str(beside) if beside.exists() else (shutil.which("airflow") or "airflow")
