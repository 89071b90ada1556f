"""Shared fixtures: a scratch PostgreSQL database per test session, and an exchange home per test.

The server is EXCHANGE_TEST_DB_URL when given, else the embedded pgserver the CLI uses
(so `make test` needs nothing installed on the machine). Each session gets its own
database, dropped at the end, so tests never touch the demo's data.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

# Airflow reads its home when first imported: one private home for the whole session
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="exchange-test-airflow-"))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
TEST_SECRET = "test-secret-0123456789abcdef"


def _server_url() -> str:
    url = os.environ.get("EXCHANGE_TEST_DB_URL")
    if url:
        return url
    from exchange import db

    saved = os.environ.pop("EXCHANGE_DB_URL", None)
    try:
        return db.database_url()
    finally:
        if saved is not None:
            os.environ["EXCHANGE_DB_URL"] = saved


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of a fresh, migrated database for this session."""
    from exchange import db

    base = _server_url()
    name = f"exchange_test_{uuid.uuid4().hex[:10]}"
    admin = make_conninfo(**{**conninfo_to_dict(base), "dbname": "postgres"})
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"create database {name}")
    url = make_conninfo(**{**conninfo_to_dict(base), "dbname": name})
    with psycopg.connect(url, autocommit=True) as conn:
        db.migrate(conn)
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"drop database if exists {name} with (force)")


@pytest.fixture
def exchange_home(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An exchange home (landing/, archive/, feedback/) on the session database, emptied first."""
    monkeypatch.setenv("EXCHANGE_DB_URL", pg_url)
    monkeypatch.setenv("EXCHANGE_HOME", str(tmp_path))
    monkeypatch.setenv("EXCHANGE_PSEUDONYM_KEY", TEST_SECRET)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("truncate control.lenders, control.audit_log, control.submissions, control.row_problems,"
                     " raw.loans, raw.loan_status")
    return tmp_path


@pytest.fixture
def conn(pg_url: str):
    with psycopg.connect(pg_url, autocommit=True) as c:
        yield c
