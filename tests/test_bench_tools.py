"""The benchmark tools' own parts that a wrong figure would hide (exchange_tools.bench)."""

from __future__ import annotations

from pathlib import Path

import psycopg

from exchange_tools.bench.scale import MemoryPeaks


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
