"""Throw-away PostgreSQL databases for tests.

The server is EXCHANGE_TEST_DB_URL when given, else the embedded pgserver the CLI uses (so
`make test` needs nothing installed on the machine); under parallel workers (pytest-xdist, as
`make test` runs) each worker has an embedded server of its own, because roles are objects of the
whole server: two workers migrating or registering lenders at once would race on them. Every database gets a unique name,
carries the exchange's migrations, and is dropped afterwards, so tests never touch the
demo's data.
"""

from __future__ import annotations

import functools
import os
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from filelock import FileLock
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from exchange.core import db
from exchange.core.settings import PROJECT_ROOT


def server_url() -> str:
    """The test server: EXCHANGE_TEST_DB_URL, else the worker's own embedded server, else the
    embedded default (never EXCHANGE_DB_URL)."""
    url = os.environ.get("EXCHANGE_TEST_DB_URL")
    if url:
        return url
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        return _worker_server(worker)
    saved = os.environ.pop("EXCHANGE_DB_URL", None)
    try:
        return db.database_url()
    finally:
        if saved is not None:
            os.environ["EXCHANGE_DB_URL"] = saved


@functools.cache
def _worker_server(worker: str) -> str:
    """The embedded server of one test worker, under the checkout's state directory; it stops when
    the worker's last user of it exits. Workers start their servers one at a time: run as root on
    a fresh machine, pgserver creates its system user with `useradd`; two workers doing so at once
    left one worker's data directory owned by uid 1001 and the user as uid 1002, and every test of
    that worker failed (a fresh clone on a fresh machine, 2026-11-30)."""
    import pgserver

    servers = PROJECT_ROOT / ".exchange" / "test-servers"
    pgdata = servers / worker / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(servers / ".start.lock"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root)
        return pgserver.get_server(pgdata, cleanup_mode="stop").get_uri()


@contextmanager
def fresh_database(label: str, *, through: int | None = None) -> Iterator[str]:
    """A new, migrated database on the test server (migrated up to `through` when given); yields
    its URL and drops it at the end."""
    base = server_url()
    name = f"exchange_test_{label}_{uuid.uuid4().hex[:10]}"
    admin = make_conninfo(**{**conninfo_to_dict(base), "dbname": "postgres"})
    with psycopg.connect(admin, autocommit=True) as conn:
        db.create_database(conn, name)
    url = make_conninfo(**{**conninfo_to_dict(base), "dbname": name})
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            db.migrate(conn, through=through)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
