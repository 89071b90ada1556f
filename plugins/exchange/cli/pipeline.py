"""`exchange pipeline`: the DAGs run in process, in dependency order."""

from __future__ import annotations

import datetime as dt
import time

import click

from exchange.cli.output import console
from exchange.pipeline.run import run_pipeline


@click.command()
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None, help="reporting date passed to the transform")
@click.option("--force", is_flag=True, help="run downstream DAGs even when no data changed")
@click.option("--verbose", is_flag=True, help="show Airflow's task logs instead of writing them to .exchange/logs")
def pipeline(as_of: dt.datetime | None, force: bool, verbose: bool) -> None:
    """Run the DAGs in process (Airflow dag.test) in dependency order."""
    run_and_report(as_of.date() if as_of else None, force, verbose)


def run_and_report(as_of: dt.date | None, force: bool, verbose: bool) -> None:
    """Run the pipeline and print each DAG's state, the time taken and where Airflow's logs went."""
    from exchange.core import db as database  # heavy: psycopg

    database.up()
    started = time.monotonic()
    console.print("运行流水线 running the pipeline (Airflow dag.test) ...")
    result = run_pipeline(as_of=as_of, force=force, quiet=not verbose)
    for run in result.runs:
        tasks = len(run.task_states)
        console.print(f"  {run.dag_id}: {run.state} ({tasks} task instances)")
    console.print(f"  {time.monotonic() - started:.1f}s; Airflow logs: {result.log_path}")
