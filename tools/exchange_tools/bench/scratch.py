"""Scratch databases for the benchmarks: on the exchange's own server, named after the process, dropped after.

A benchmark never touches the exchange's database: it creates its own next to it (same server,
same settings), so the figures are the server's, and drops it whatever happens.
"""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from exchange.core import db


def scratch_url(name: str) -> str:
    """The URL of database `name` on the exchange's server."""
    return make_conninfo(**{**conninfo_to_dict(db.database_url()), "dbname": name})


def create_scratch(name: str) -> str:
    """A new, empty database `name` (one left by an interrupted run is dropped first); its URL."""
    with psycopg.connect(scratch_url("postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {name} with (force)")
        db.create_database(conn, name)
    return scratch_url(name)


def drop_scratch(name: str) -> None:
    with psycopg.connect(scratch_url("postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {name} with (force)")
