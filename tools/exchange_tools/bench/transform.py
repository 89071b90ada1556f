"""`exchange bench transform`: the dbt build at two scales, and the cost of one more month.

Measured in one run, each scenario in its own throw-away database on the exchange's server
(EXCHANGE_DB_URL, or the embedded default), dropped at the end:

- full build at the demo scale (the lenders, months and loans of `exchange demo`) and at
  `loans` loans x 24 months of one lender: `dbt seed` then `dbt run` (models and seeds, no
  tests), timed together;
- one more month added incrementally on top of 6 and of 24 months of history, for the same
  loans: the history is built, the next month's files are ingested, and the plain
  incremental `dbt run` that follows is timed. Both scenarios add the very same month's files
  (history of 6 months = the 6 months before it, on the same loan book), so only the length
  of the history differs. Target: ratio 24 / 6 at most 1.3.

The data is the generator's (realistic books, one lender's style of CSV, no injected errors at
the large scale) loaded through the real ingest (`ingest_path`); loading is setup and timed
only to show where the time goes. Each dbt command runs in a child process of its own, as each
Airflow task does: a dbt command peaks at about 6 GB at 1M loans, and in a child that memory goes
back to the system (and the server's page cache) when the command ends.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table

from exchange.core import db
from exchange.core.errors import ExchangeError
from exchange.core.settings import environment
from exchange.intake import lenders as registry
from exchange.intake.ingest import ingest_order, ingest_path
from exchange.intake.readers import parse_file_name
from exchange.pipeline.dbt import run_dbt
from exchange.pipeline.seeds import load_rule_seeds
from exchange_tools.bench.scratch import create_scratch, drop_scratch, scratch_url
from exchange_tools.demo import DEMO
from exchange_tools.synthetic.generate import generate

BIG_MONTHS = 24
SHORT_HISTORY = 6
END = dt.date(2025, 12, 31)  # last reporting date of the generated large book (month 25)
TARGET_RATIO = 1.3
_TOP_MODELS = 5


class Scenario:
    """A scratch database plus an EXCHANGE_HOME (landing, archive, feedback, key) of its own."""

    def __init__(self, label: str, tmp: Path):
        self.name = f"exchange_bench_tx_{label}_{os.getpid()}"
        self.url = scratch_url(self.name)
        self.home = tmp / label
        self.home.mkdir(parents=True)
        self.work = tmp / f"{label}-dbt"

    def create(self) -> None:
        create_scratch(self.name)
        with psycopg.connect(self.url, autocommit=True) as conn:
            db.migrate(conn)

    def drop(self) -> None:
        drop_scratch(self.name)

    def env(self):
        return environment(EXCHANGE_DB_URL=self.url, EXCHANGE_HOME=str(self.home))

    def register(self, lenders) -> None:
        with self.env(), db.connect(autocommit=True) as conn:
            for lender in lenders:
                registry.add(conn, lender.code, lender.name_zh, lender.category)

    def land(self, files: list[Path]) -> list[Path]:
        """Copy `files` under landing/<lender>/, as a lender's upload leaves them; the copies."""
        landed = []
        for path in files:
            target = self.home / "landing" / path.parent.name / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            landed.append(target)
        return landed

    def ingest(self, files: list[Path]) -> tuple[float, int]:
        """Land `files` and ingest them in the exchange's order; (seconds, rows)."""
        landed = self.land(files)
        rows = 0
        start = time.perf_counter()
        with self.env():
            for target in sorted(landed, key=ingest_order):
                outcome = ingest_path(target)
                if outcome.verdict not in ("accepted", "accepted_with_errors", "duplicate"):
                    raise RuntimeError(f"benchmark ingest refused {target.name}: {outcome}")
                rows += outcome.rows_accepted if not outcome.resumed else 0
        return time.perf_counter() - start, rows

    def dbt(self, *args: str) -> tuple[float, dict[str, float]]:
        """One dbt command; (seconds, seconds per model/seed from run_results.json)."""
        target = self.work / "target"  # one per scenario: later commands parse partially, as in production
        seconds = self._in_child(run_dbt, [*args, *self.dbt_paths()])
        results = json.loads((target / "run_results.json").read_text())["results"]
        return seconds, {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results
                         if not r["unique_id"].startswith("operation.")}  # not the project's hooks

    def rule_seeds(self) -> float:
        """The month's rule seeds as exchange_transform loads them (only when changed:
        exchange.pipeline.seeds); seconds."""
        return self._in_child(load_rule_seeds, None, self.dbt_paths())

    def dbt_paths(self) -> list[str]:
        """dbt's target and log paths of this scenario."""
        return ["--target-path", str(self.work / "target"), "--log-path", str(self.work / "logs")]

    def _in_child(self, function: Callable[..., object], *args: object) -> float:
        """`function(*args)` in a spawned child with the scenario's environment, as each Airflow
        task runs dbt in a process of its own; seconds."""
        start = time.perf_counter()
        with self.env(), ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
            failure = child.submit(_child, function, *args).result()
        seconds = time.perf_counter() - start
        if failure:
            raise RuntimeError(f"benchmark {function.__name__}{args} failed: {failure}")
        return seconds

    def full_build(self) -> tuple[float, dict[str, float]]:
        seed_s, _ = self.dbt("seed")
        run_s, models = self.dbt("run")
        return seed_s + run_s, models

    def count(self, sql: str) -> int:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql).fetchone()[0]


def _child(function: Callable[..., object], *args: object) -> str | None:
    """`function(*args)` in a spawned child (it inherits the scenario's environment); the failure as
    text, as an ExchangeError does not survive pickling."""
    try:
        function(*args)
    except ExchangeError as exc:
        return str(exc)
    return None


def files_by_month(out: Path, files: list[Path]) -> dict[dt.date, list[Path]]:
    """The generated files to submit, by reporting date (not the byte-identical re-send under resend/)."""
    by_month: dict[dt.date, list[Path]] = {}
    for path in files:
        if path.parent.parent == out:
            by_month.setdefault(parse_file_name(path.name).as_of, []).append(path)
    return by_month


def slowest(models: dict[str, float]) -> str:
    slowest = sorted(models.items(), key=lambda kv: -kv[1])[:_TOP_MODELS]
    return ", ".join(f"{name} {seconds:.1f}" for name, seconds in slowest)


def transform_benchmark(console: Console, loans: int = 200_000) -> dict:
    """Prints and returns the build times and the incremental ratio; scratch databases are dropped."""
    results: dict = {"loans": loans}
    started = time.perf_counter()

    def phase(text: str, seconds: float) -> None:
        console.print(f"  {text}: {seconds:.1f} s  (elapsed {time.perf_counter() - started:.0f} s)")

    with tempfile.TemporaryDirectory(prefix="exchange-bench-transform-") as tmp_dir:
        tmp = Path(tmp_dir)
        scenarios: list[Scenario] = []
        try:
            # -- demo scale ----------------------------------------------------------------------
            console.print(f"1/3 演示规模 demo scale: {DEMO['lenders']} lenders x {DEMO['months']} months x "
                          f"{DEMO['loans']:,} loans")
            t = time.perf_counter()
            demo_data = generate(tmp / "demo-files", lenders=DEMO["lenders"], months=DEMO["months"],
                                 loans=DEMO["loans"], seed=DEMO["seed"], error_rate=DEMO["error_rate"], end=END)
            phase("generate", time.perf_counter() - t)
            demo = Scenario("demo", tmp)
            scenarios.append(demo)
            demo.create()
            demo.register(demo_data.lenders)
            files = [p for p in demo_data.files if p.parent.parent == demo_data.out]  # not the re-sent duplicate
            seconds, rows = demo.ingest(files)
            phase(f"ingest {len(files)} files, {rows:,} rows", seconds)
            results["demo_build_s"], models = demo.full_build()
            results["demo_status_rows"] = demo.count("select count(*) from marts.fct_loan_status")
            phase(f"full build (dbt seed + dbt run), {results['demo_status_rows']:,} loan-months",
                  results["demo_build_s"])
            console.print(f"    slowest: {slowest(models)}")
            demo.drop()
            scenarios.remove(demo)

            # -- large book: one lender, BIG_MONTHS + 1 months -----------------------------------
            months = BIG_MONTHS + 1
            console.print(f"2/3 大规模 large book: 1 lender x {months} months x {loans:,} loans "
                          f"(month {months} is the one added incrementally)")
            t = time.perf_counter()
            big_data = generate(tmp / "big-files", lenders=1, months=months, loans=loans, seed=DEMO["seed"],
                                error_rate=0.0, end=END)
            phase("generate", time.perf_counter() - t)
            by_month = files_by_month(big_data.out, big_data.files)
            dates = sorted(by_month)
            if len(dates) != months:
                raise RuntimeError(f"expected {months} reporting months, got {len(dates)}")
            new_month = by_month[dates[-1]]
            loans_files = [p for d in dates[:-1] for p in by_month[d] if "_loans_" in p.name]

            def history_files(n: int) -> list[Path]:
                kept = dates[-1 - n:-1]
                # status and collection files of the kept months (the collection models read all of them)
                return loans_files + [p for d in kept for p in by_month[d] if "_loans_" not in p.name]

            for n in (BIG_MONTHS, SHORT_HISTORY):
                scenario = Scenario(f"h{n}", tmp)
                scenarios.append(scenario)
                step = "3/3" if n == SHORT_HISTORY else "   "
                if n == SHORT_HISTORY:
                    console.print(f"3/3 增量 the same month on {n} months of history")
                scenario.create()
                scenario.register(big_data.lenders)
                seconds, rows = scenario.ingest(history_files(n))
                phase(f"ingest {n} months of history, {rows:,} rows", seconds)
                build_s, models = scenario.full_build()
                results[f"h{n}_build_s"] = build_s
                results[f"h{n}_status_rows"] = scenario.count("select count(*) from marts.fct_loan_status")
                phase(f"full build (dbt seed + dbt run), {results[f'h{n}_status_rows']:,} loan-months", build_s)
                console.print(f"    slowest: {slowest(models)}")
                seconds, rows = scenario.ingest(new_month)
                phase(f"ingest month {dates[-1]:%Y-%m}, {rows:,} rows", seconds)
                inc_s, models = scenario.dbt("run")
                results[f"h{n}_increment_s"] = inc_s
                results[f"h{n}_increment_models"] = models
                added = scenario.count(
                    f"select count(*) from marts.fct_loan_status where as_of_date = date '{dates[-1]}'")
                phase(f"incremental dbt run adding {added:,} loan-months {step}".rstrip(), inc_s)
                console.print(f"    slowest: {slowest(models)}")
                scenario.drop()
                scenarios.remove(scenario)
        finally:
            for scenario in scenarios:
                scenario.drop()

    ratio = results[f"h{BIG_MONTHS}_increment_s"] / results[f"h{SHORT_HISTORY}_increment_s"]
    results["increment_ratio"] = ratio
    results["total_s"] = time.perf_counter() - started
    table = Table("measure", "value")
    table.add_row(f"full build, demo scale ({DEMO['lenders']} x {DEMO['months']} months x {DEMO['loans']:,} loans, "
                  f"{results['demo_status_rows']:,} loan-months)", f"{results['demo_build_s']:.1f} s")
    table.add_row(f"full build, {loans:,} loans x {BIG_MONTHS} months ({results[f'h{BIG_MONTHS}_status_rows']:,} "
                  "loan-months)", f"{results[f'h{BIG_MONTHS}_build_s']:.1f} s")
    table.add_row(f"full build, {loans:,} loans x {SHORT_HISTORY} months", f"{results[f'h{SHORT_HISTORY}_build_s']:.1f} s")
    table.add_row(f"add one month, {SHORT_HISTORY} months of history", f"{results[f'h{SHORT_HISTORY}_increment_s']:.1f} s")
    table.add_row(f"add one month, {BIG_MONTHS} months of history", f"{results[f'h{BIG_MONTHS}_increment_s']:.1f} s")
    table.add_row(f"ratio {BIG_MONTHS} / {SHORT_HISTORY} months of history (target <= {TARGET_RATIO})",
                  f"{ratio:.2f}" + ("" if ratio <= TARGET_RATIO else "  [red]missed[/red]"))
    table.add_row("whole benchmark", f"{results['total_s']:.0f} s")
    console.print("full build = `dbt seed` + `dbt run` (models and seeds, no tests); "
                  "one month = the plain incremental `dbt run` after ingesting it")
    console.print(table)
    return results
