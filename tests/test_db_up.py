"""`exchange db up` (which every command runs first) on a server given by EXCHANGE_DB_URL: a missing
database is created as the exchange creates its own (collation "C"), and a wrong URL fails with a
reason code that names the server and never the password."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from databases import server_url
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from exchange.core import db
from exchange.core.errors import ConfigError


@pytest.fixture
def admin() -> Iterator[psycopg.Connection]:
    with psycopg.connect(make_conninfo(server_url(), dbname="postgres"), autocommit=True) as conn:
        yield conn


@pytest.fixture
def missing_name(admin: psycopg.Connection) -> Iterator[str]:
    """A database name the server does not have; dropped afterwards if a test created it."""
    name = f"exchange_test_up_{uuid.uuid4().hex[:10]}"
    yield name
    admin.execute(f'drop database if exists "{name}" with (force)')


def test_up_creates_a_missing_database_in_collation_c_and_migrates_it(admin, missing_name, monkeypatch) -> None:
    monkeypatch.setenv("EXCHANGE_DB_URL", make_conninfo(server_url(), dbname=missing_name))

    db.up()
    db.up()  # the second run finds it

    assert admin.execute("select datcollate from pg_database where datname = %s", (missing_name,)).fetchone() == ("C",)
    with db.connect() as conn:
        assert conn.execute("select count(*) from control.schema_migrations").fetchone()[0] == len(db.migrations())


def test_no_server_at_the_url_is_c_db_unreachable_naming_host_and_port_but_not_the_password(monkeypatch) -> None:
    with socket.socket() as s:  # a port nothing listens on: bound, then released
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("EXCHANGE_DB_URL", f"postgresql://exchange:s3cret-pw@127.0.0.1:{port}/exchange")

    with pytest.raises(ConfigError) as failed:
        db.up()

    assert failed.value.code == "C_DB_UNREACHABLE"
    assert f"127.0.0.1:{port}/exchange" in failed.value.message
    assert "s3cret-pw" not in str(failed.value)


def test_a_user_who_may_not_create_databases_is_told_to_have_the_owner_create_it(admin, missing_name,
                                                                                 monkeypatch) -> None:
    role = f"exchange_test_nocreate_{uuid.uuid4().hex[:8]}"
    admin.execute(f'create role "{role}" login nocreatedb')
    try:
        params = conninfo_to_dict(server_url()) | {"user": role, "dbname": missing_name}
        monkeypatch.setenv("EXCHANGE_DB_URL", make_conninfo(**params))

        with pytest.raises(ConfigError) as failed:
            db.up()

        assert failed.value.code == "C_DB_CREATE" and missing_name in failed.value.message
        assert admin.execute("select 1 from pg_database where datname = %s", (missing_name,)).fetchone() is None
    finally:
        admin.execute(f'drop role "{role}"')
