"""Shared fixtures: a scratch PostgreSQL database per test session, and an exchange home per test.

The server and the throw-away databases come from tests/databases.py.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from databases import fresh_database

# Airflow reads its home when first imported: one private home for the whole session, and one per
# parallel worker (a worker inherits the controller's environment, and two dag.test runs of one DAG
# sharing a metadata database mix their task instances)
if os.environ.get("PYTEST_XDIST_WORKER") or "AIRFLOW_HOME" not in os.environ:
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="exchange-test-airflow-")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
TEST_SECRET = "test-secret-0123456789abcdef"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with end-to-end (slow) tests first, each module's tests kept together and in order:
    parallel workers (`make test` runs pytest-xdist, a module per worker at a time) then start the
    longest modules at once and fill the rest in around them."""
    order = {module: index for index, module in enumerate(dict.fromkeys(item.module for item in items))}
    slow = {item.module for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: (item.module not in slow, order[item.module]))


@pytest.fixture(autouse=True)
def starts_no_checkout_server() -> Iterator[None]:
    """No test starts the checkout's own embedded PostgreSQL (the CLI's default under .exchange/)
    when the tests have a server of their own (EXCHANGE_TEST_DB_URL, or one per parallel worker):
    it would be left running after the run, as `dbt parse` once left it from a test with no
    database given. Checked around every test, so the one that started it fails by name."""
    own_server = os.environ.get("EXCHANGE_TEST_DB_URL") or os.environ.get("PYTEST_XDIST_WORKER")
    pid_file = Path.cwd() / ".exchange" / "pgdata" / "postmaster.pid"
    running_before = pid_file.exists()
    yield
    if own_server and not running_before and pid_file.exists():
        pytest.fail(f"this test started the checkout's embedded PostgreSQL ({pid_file.parent}) and left it running")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh, migrated database for this session."""
    with fresh_database("session") as url:
        yield url


@pytest.fixture
def exchange_home(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An exchange home (landing/, archive/, feedback/) on the session database, emptied first."""
    monkeypatch.setenv("EXCHANGE_DB_URL", pg_url)
    monkeypatch.setenv("EXCHANGE_HOME", str(tmp_path))
    monkeypatch.setenv("EXCHANGE_PSEUDONYM_KEY", TEST_SECRET)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("truncate control.lenders, control.role_lenders, control.audit_log, control.submissions,"
                     " control.status_coverage, control.row_problems, control.rejected_loans, raw.loans, raw.loan_status")
    return tmp_path


@pytest.fixture
def conn(pg_url: str):
    with psycopg.connect(pg_url, autocommit=True) as c:
        yield c


@pytest.fixture
def fresh_exchange(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A scratch exchange and Airflow database name for the real-scheduler tests (tests/airflow_world.py)."""
    from airflow_world import scratch_exchange

    with scratch_exchange(tmp_path, monkeypatch) as made:
        yield made
