"""`exchange airflow down` stops the api-server after every other component.

A task stopped mid-run reports its end to the api-server; with the api-server gone first, its
supervisor retried until the grace period ran out. Two real processes stand in for the
api-server and the scheduler, recorded as `up` records them; the scheduler's stand-in notes,
half a second after its SIGTERM, whether the api-server still runs.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from exchange.pipeline import deploy

SCHEDULER = textwrap.dedent("""
    import signal, sys, time
    api, seen, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]

    def stopped(*_):
        time.sleep(0.5)  # as a task's supervisor would still be reporting
        try:
            with open(f"/proc/{api}/stat") as stat:
                alive = stat.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            alive = False
        with open(seen, "w") as out:
            out.write("api-server running" if alive else "api-server gone")
        sys.exit(0)

    signal.signal(signal.SIGTERM, stopped)
    open(ready, "w").close()
    while True:
        time.sleep(0.1)
""")


def test_down_stops_the_api_server_only_after_the_scheduler_has_ended(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_HOME", str(tmp_path))
    run = deploy.deployment_home() / "run"
    run.mkdir(parents=True)
    seen, ready = tmp_path / "seen", tmp_path / "ready"
    api = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    scheduler = subprocess.Popen([sys.executable, "-c", SCHEDULER, str(api.pid), str(seen), str(ready)],
                                 start_new_session=True)
    try:
        while not ready.exists():
            assert scheduler.poll() is None, "the scheduler's stand-in died"
            time.sleep(0.05)
        for name, proc in ((deploy.API_SERVER, api), ("scheduler", scheduler)):
            (run / f"{name}.pid").write_text(f"{proc.pid} {deploy._start_time(proc.pid)}\n")

        stopped = deploy.down()

        assert sorted(stopped) == sorted([deploy.API_SERVER, "scheduler"])
        assert seen.read_text() == "api-server running"
        assert (api.wait(timeout=5), scheduler.wait(timeout=5)) == (-signal.SIGTERM, 0)
    finally:
        for proc in (api, scheduler):
            proc.kill()
            proc.wait()
