"""The tools' commands on `exchange`: `generate`, `demo` and `bench ingest|transform|lookup|scale`.

They are attached to the `exchange` group through the `exchange.commands` entry points in
pyproject.toml, so the product never imports exchange_tools. Like the product's commands, these
import what they run (the generator with xlsxwriter, psycopg, pandas, pyarrow) when they run: the
product's `exchange --help` must not pay for the tools.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from exchange.cli.output import console


@click.command()
@click.option("--lenders", "n_lenders", default=5, show_default=True)
@click.option("--months", default=13, show_default=True)
@click.option("--loans", default=2000, show_default=True, help="loans per lender")
@click.option("--seed", default=1, show_default=True)
@click.option("--error-rate", default=0.01, show_default=True)
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="last reporting date (a month end); default: the last month end before today")
@click.option("--out", type=click.Path(path_type=Path), required=True)
def generate(n_lenders: int, months: int, loans: int, seed: int, error_rate: float, end: dt.datetime | None,
             out: Path) -> None:
    """Write synthetic lenders' files, with a truth file of every injected error."""
    from exchange_tools.synthetic.progress import generate_with_progress, last_month_end  # heavy: xlsxwriter

    result = generate_with_progress(console, out, n_lenders, months, loans, seed, error_rate,
                                    end.date() if end else last_month_end())
    console.print(f"{len(result.files)} files for {len(result.lenders)} lenders in {out}; truth: {out / 'truth.csv'}")


@click.command()
def demo() -> None:
    """The main job end to end: generate 5 lenders x 13 months, register, submit, run the pipeline."""
    from exchange_tools.demo import run_demo  # heavy: psycopg, pandas and pyarrow (the ingest)

    run_demo()


@click.group()
def bench() -> None:
    """Benchmarks: ratios measured in one run (never timed tests)."""


@bench.command("ingest")
@click.option("--rows", default=1_000_000, show_default=True)
def bench_ingest(rows: int) -> None:
    """Ingest throughput for a loan_status file vs plain COPY and pandas to_sql, plus peak memory."""
    from exchange_tools.bench.ingest import ingest_benchmark  # heavy: psycopg, numpy and pyarrow

    ingest_benchmark(rows, console)


@bench.command("transform")
@click.option("--loans", default=200_000, show_default=True, help="loans of the large book (one lender, 24 months)")
def bench_transform(loans: int) -> None:
    """dbt full build at the demo scale and on a large book; one more month on 6 vs 24 months of history."""
    from exchange_tools.bench.transform import transform_benchmark  # heavy: psycopg, pandas and pyarrow

    transform_benchmark(console, loans)


@bench.command("lookup")
@click.option("--keys", default=1_000_000, show_default=True, help="borrower keys in the published feed")
@click.option("--requests", "n_requests", default=20_000, show_default=True)
@click.option("--concurrency", default=4, show_default=True, help="keep-alive connections of the load generator")
def bench_lookup(keys: int, n_requests: int, concurrency: int) -> None:
    """HTTP look-up latency and throughput with auditing on, against a bare indexed SELECT."""
    from exchange_tools.bench.lookup import run  # heavy: psycopg

    run(keys, n_requests, concurrency, console)


@bench.command("scale")
@click.option("--loans", default=1_000_000, show_default=True, help="loans of the book (one lender)")
@click.option("--months", default=24, show_default=True, help="months of history before the month added")
@click.option("--cache", type=click.Path(path_type=Path), default=None,
              help="where the generated book is kept between runs; default .exchange/bench-cache")
@click.option("--path", "path", type=click.Choice(["direct", "airflow"]), default="direct", show_default=True,
              help="run the month as direct commands (each stage timed) or through a local Airflow deployment "
                   "(`exchange airflow up`, LocalExecutor: the operator's path)")
def bench_scale(loans: int, months: int, cache: Path | None, path: str) -> None:
    """Province scale: one month's ingest and publication, full build rate, month ratio, peak memory."""
    from exchange_tools.bench.scale import scale_benchmark  # heavy: psycopg, the generator, dbt

    scale_benchmark(console, loans, months, cache, path)
