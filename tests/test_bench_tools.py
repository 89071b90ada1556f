"""The benchmark tools' own parts that a wrong figure would hide (exchange_tools.bench)."""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psycopg

from exchange_tools.bench.scale import (
    REFERENCE_SQL,
    REFERENCE_WORK_MEM,
    CpuTimes,
    MemoryPeaks,
    reference_seconds,
)
from exchange_tools.deployment import Month


def test_memory_peaks_finds_the_local_servers_postmaster(pg_url):
    """The server's processes are found from a backend's parent and their memory is sampled. The
    parent is read while the backend lives (after the connection closed, the 200k run of
    2026-12-02 found the backend gone and printed PostgreSQL's memory as not measurable); that
    race did not show here on an idle machine, so this pins the measurement, not the race."""
    peaks = MemoryPeaks(pg_url)
    with psycopg.connect(pg_url) as conn:
        backend = conn.execute("select pg_backend_pid()").fetchone()[0]
        assert peaks._postmaster == MemoryPeaks._parent(backend)
    assert peaks._postmaster is not None
    assert b"postgres" in Path(f"/proc/{peaks._postmaster}/cmdline").read_bytes()
    with peaks, psycopg.connect(pg_url) as conn:
        conn.execute("select pg_sleep(1.2)")  # the sampler looks every half second
    assert peaks.postgres_mb and peaks.postgres_mb > 0


def test_the_machines_reference_query_runs_in_memory(pg_url):
    """The reference query measures the machine's CPU (bench scale prints it beside the figures): at the
    work_mem it runs with, none of its sorts or hashes may spill to disk, which would measure the disk."""
    assert reference_seconds(pg_url, runs=1) > 0
    with psycopg.connect(pg_url) as conn:
        conn.execute(f"set work_mem = '{REFERENCE_WORK_MEM}'")
        plan = "\n".join(line for (line,) in conn.execute(f"explain (analyze, timing off) {REFERENCE_SQL}"))
    assert "Batches: 1 " in plan and "Disk Usage" not in plan, plan


def _spin(seconds: float) -> None:
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass


def test_cpu_times_count_busy_work_and_account_for_every_core():
    """The full build's CPU account (bench scale): half a second of busy work on every core shows as
    busy time, not idle, and busy, idle and stolen time together are the wall-clock time on every
    core, which pins the fields read from /proc/stat."""
    cores = os.cpu_count()
    with ProcessPoolExecutor(cores, mp_context=multiprocessing.get_context("fork")) as pool:
        pool.submit(_spin, 0).result()  # the workers started before the clocks start
        before, wall = CpuTimes.now(), time.monotonic()
        list(pool.map(_spin, [0.5] * cores))
        spent, wall = CpuTimes.now().since(before), time.monotonic() - wall
    assert spent.cores == cores
    assert spent.busy >= 0.4 * cores, spent
    assert abs(spent.busy + spent.idle + spent.steal - wall * cores) <= 0.05 * cores + 0.05, (spent, wall)


def test_month_through_airflow_is_timed_from_the_first_ingest_run_to_the_publish_runs_end():
    """The spans add up to the month an operator waits for. A new deployment's scheduled ingest run
    may start before the triggered one, and the transform run ends after the publish run started
    (model_docs runs beside it): timed by the transform run's own end, the publish span came out
    negative (-0.6 s in the first run at 20,000 loans), and a transform run still running when the
    publication was done stopped the benchmark (StopIteration) where it looked for a successful one."""
    def run(state: str, start: str | None, end: str | None) -> dict:
        return {"state": state, "start_date": start and f"2026-12-06T18:{start}Z", "end_date": end and f"2026-12-06T18:{end}Z"}

    month = Month({
        "exchange_ingest": [run("success", "00:30", "00:40"), run("success", "00:05", "00:25")],
        "exchange_transform": [run("running", "00:26", None)],  # model_docs still at work
        "exchange_publish": [run("running", None, None), run("success", "02:40", "03:00")],
    })
    assert month.spans() == {"exchange_ingest, until the transform run starts": 21.0,
                             "exchange_transform, until the publish run starts": 134.0,
                             "exchange_publish run": 20.0}
    assert sum(month.spans().values()) == 175.0  # 18:00:05 to 18:03:00
