"""Throw-away PostgreSQL databases for tests.

The server is EXCHANGE_TEST_DB_URL when given, else the embedded pgserver the CLI uses (so
`make test` needs nothing installed on the machine). Every database gets a unique name,
carries the exchange's migrations, and is dropped afterwards, so tests never touch the
demo's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from exchange.core import db


def server_url() -> str:
    """The test server: EXCHANGE_TEST_DB_URL, else the embedded default (never EXCHANGE_DB_URL)."""
    url = os.environ.get("EXCHANGE_TEST_DB_URL")
    if url:
        return url
    saved = os.environ.pop("EXCHANGE_DB_URL", None)
    try:
        return db.database_url()
    finally:
        if saved is not None:
            os.environ["EXCHANGE_DB_URL"] = saved


@contextmanager
def fresh_database(label: str, *, through: int | None = None) -> Iterator[str]:
    """A new, migrated database on the test server (migrated up to `through` when given); yields
    its URL and drops it at the end."""
    base = server_url()
    name = f"exchange_test_{label}_{uuid.uuid4().hex[:10]}"
    admin = make_conninfo(**{**conninfo_to_dict(base), "dbname": "postgres"})
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = make_conninfo(**{**conninfo_to_dict(base), "dbname": name})
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            db.migrate(conn, through=through)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
