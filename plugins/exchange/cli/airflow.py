"""`exchange airflow up|down|status`: Airflow as local background processes (no Docker), on the
exchange's own PostgreSQL; see exchange.pipeline.deploy."""

from __future__ import annotations

import click

from exchange.cli.output import console, print_rows


@click.group("airflow")
def airflow_group() -> None:
    """Run the DAGs under Airflow's own scheduler on this host (api-server, scheduler, dag-processor,
    triggerer, Celery workers)."""


@airflow_group.command("up")
@click.option("--executor", type=click.Choice(["local", "celery"]), default="local", show_default=True)
@click.option("--workers", type=click.IntRange(1, 16), default=None,
              help="Celery workers, each its own process (default 2 with --executor celery)")
@click.option("--concurrency", type=click.IntRange(1, 64), default=2, show_default=True,
              help="task slots per Celery worker")
@click.option("--broker", default=None,
              help="Celery broker (default redis://127.0.0.1:6379/0; RabbitMQ: amqp://guest:guest@127.0.0.1:5672//)")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="api-server port on 127.0.0.1")
@click.option("--database", default="airflow", show_default=True,
              help="Airflow's metadata database, on the exchange's PostgreSQL server (created if missing)")
def up_cmd(executor: str, workers: int | None, concurrency: int, broker: str | None, port: int, database: str) -> None:
    """Start what is not running yet (twice is harmless) and wait until the scheduler is healthy."""
    from exchange.core import db as exchange_db  # heavy: psycopg
    from exchange.pipeline import deploy

    if executor == "local" and (workers or broker):
        raise click.UsageError("--workers and --broker need --executor celery")
    exchange_db.up()
    options = deploy.Options(
        executor=deploy.EXECUTORS[executor], port=port, database=database,
        workers=(workers or 2) if executor == "celery" else 0, worker_concurrency=concurrency,
        broker=broker or deploy.DEFAULT_BROKER,
    )
    state = deploy.up(options, echo=console.print)
    _print(state)
    console.print(f"Airflow 界面 UI: {state.url}   登录 login: {deploy.ADMIN_USER} / {deploy.admin_password()}")


@airflow_group.command("down")
def down_cmd() -> None:
    """Stop exactly the processes `up` started (by their recorded PIDs and process groups)."""
    from exchange.pipeline import deploy

    stopped = deploy.down()
    console.print(f"已停止 stopped: {', '.join(stopped)}" if stopped else "没有运行中的进程 nothing running")


@airflow_group.command("status")
def status_cmd() -> None:
    """Each process alive or dead, and the UI's address."""
    from exchange.pipeline import deploy

    state = deploy.status()
    if state.options is None:
        console.print("尚未部署 not deployed (exchange airflow up)")
        return
    _print(state)


def _print(state) -> None:
    print_rows([{"process": p.name, "pid": p.pid, "state": "alive" if p.alive else "dead", "log": p.log}
                for p in state.processes])
    console.print(f"{state.options.executor}, UI {state.url}, home {state.home}")
