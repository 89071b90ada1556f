"""Which PostgreSQL the exchange talks to, and the migrations that shape it.

`EXCHANGE_DB_URL` names a server. Without it an embedded PostgreSQL (pgserver) is
started under `.exchange/pgdata` on first use and left running, so every later
command (and dbt, GX, Airflow tasks) reuses it; `exchange db down` stops it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.sql import SQL, Identifier, Literal

from exchange.core.errors import ConfigError
from exchange.core.settings import get_settings
from exchange.core.spec import VALIDATION_CODES

EMBEDDED_DB = "exchange"
logging.getLogger("pgserver").setLevel(logging.WARNING)  # its info lines at exit outlive the log streams
_MIGRATION_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_MIGRATE_LOCK = 7_340_001  # pg_advisory_lock key: one migrator at a time


def _embedded_dir() -> Path:
    return get_settings().state_dir / "pgdata"


def is_embedded() -> bool:
    return not os.environ.get("EXCHANGE_DB_URL")


def database_url() -> str:
    """The connection URL, starting the embedded server when no URL is configured."""
    url = os.environ.get("EXCHANGE_DB_URL")
    if url:
        return url
    pgdata = _embedded_dir()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root)
        warnings.simplefilter("ignore")
        import pgserver  # imported here: only the embedded default needs it

        server = pgserver.get_server(pgdata, cleanup_mode=None)
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", (EMBEDDED_DB,)).fetchone():
            create_database(conn, EMBEDDED_DB)
    return server.get_uri(EMBEDDED_DB)


def create_database(conn: psycopg.Connection, name: str) -> None:
    """CREATE DATABASE `name` with text ordered byte by byte (collation "C"), the server's encoding
    and character classes otherwise.

    Why: the exchange sorts, groups and indexes text keys everywhere (64-hex borrower keys, contract
    numbers, lender codes). Under a libc locale, even C.UTF-8, each comparison calls strcoll and
    PostgreSQL cannot use abbreviated keys: sorting two million borrower keys took 4.7 s against
    1.4 s under "C", indexing them 4.3 s against 1.5 s. Nothing depends on a linguistic order:
    C.UTF-8 already orders by code point, which is what "C" gives on UTF-8. `conn` is an
    autocommit connection to another database.
    """
    encoding, ctype = conn.execute(
        "select pg_encoding_to_char(encoding), datctype from pg_database where datname = 'template1'"
    ).fetchone()
    conn.execute(SQL(
        "create database {} template template0 encoding {} lc_collate 'C' lc_ctype {}"
    ).format(Identifier(name), Literal(encoding), Literal(ctype)))


def orders_text_bytewise(conn: psycopg.Connection) -> bool:
    """Whether the connected database was created as create_database creates one (collation "C"):
    a database an operator created beforehand may not be, and then every text sort is slower."""
    collation = conn.execute("select datcollate from pg_database where datname = current_database()").fetchone()[0]
    return collation in ("C", "POSIX")


def connection_params() -> dict[str, str]:
    """host/port/user/password/dbname for tools that do not take a URL (dbt profiles)."""
    params = conninfo_to_dict(database_url())
    return {
        "host": str(params.get("host", "localhost")),
        "port": str(params.get("port", "5432")),
        "user": str(params.get("user", os.environ.get("USER", "postgres"))),
        "password": str(params.get("password", "")),
        "dbname": str(params.get("dbname", "postgres")),
    }


def sqlalchemy_url(dbname: str | None = None) -> str:
    """The same database (or another, `dbname`, on the same server) as a SQLAlchemy URL: GX and
    Airflow's metadata connection take one."""
    p = connection_params() | ({"dbname": dbname} if dbname else {})
    auth = p["user"] + (f":{p['password']}" if p["password"] else "")
    if p["host"].startswith("/"):
        return f"postgresql+psycopg2://{auth}@/{p['dbname']}?host={p['host']}&port={p['port']}"
    return f"postgresql+psycopg2://{auth}@{p['host']}:{p['port']}/{p['dbname']}"


@contextmanager
def connect(*, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    conn = psycopg.connect(database_url(), autocommit=autocommit, application_name="exchange")
    try:
        yield conn
    finally:
        conn.close()


def stop_embedded() -> bool:
    """Stop the embedded server if it runs; False when there is none to stop."""
    if not is_embedded():
        return False
    pgdata = _embedded_dir()
    if not (pgdata / "postmaster.pid").exists():
        return False
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root)
        warnings.simplefilter("ignore")
        from pgserver._commands import POSTGRES_BIN_PATH  # heavy: only the embedded default needs it

    cmd = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"]
    if os.geteuid() == 0:  # pgserver runs the server as the unprivileged 'pgserver' user under root
        cmd = ["su", "pgserver", "-s", "/bin/sh", "-c", " ".join(cmd)]
    subprocess.run(cmd, check=True, capture_output=True)
    return True


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped with the package, in order."""
    out = []
    for entry in resources.files("exchange.core.migrations").iterdir():
        m = _MIGRATION_RE.match(entry.name)
        if m:
            out.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    return sorted(out)


def migrate(conn: psycopg.Connection, *, through: int | None = None) -> list[int]:
    """Apply the migrations not yet applied, each in its own transaction; return their versions.

    Re-running is a no-op. An applied migration whose file changed afterwards is an error:
    history is never rewritten silently. `through` stops after that version: a database as an
    older release left it, for testing a migration against existing data.
    """
    applied_now: list[int] = []
    conn.execute("select pg_advisory_lock(%s)", (_MIGRATE_LOCK,))
    try:
        with conn.transaction():
            conn.execute("create schema if not exists control")
            conn.execute(
                "create table if not exists control.schema_migrations ("
                " version int primary key, name text not null, checksum text not null,"
                " applied_at timestamptz not null default now())"
            )
        done = dict(conn.execute("select version, checksum from control.schema_migrations").fetchall())
        for version, name, sql in migrations():
            if through is not None and version > through:
                break
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if version in done:
                if done[version] != checksum:
                    raise ConfigError("C_MIGRATION_CHANGED", f"migration {version:04d}_{name} changed after it was applied")
                continue
            with conn.transaction():
                conn.execute(sql)
                conn.execute(
                    "insert into control.schema_migrations (version, name, checksum) values (%s, %s, %s)",
                    (version, name, checksum),
                )
            applied_now.append(version)
        sync_validation_codes(conn)
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (_MIGRATE_LOCK,))
    return applied_now


def sync_validation_codes(conn: psycopg.Connection) -> None:
    """Mirror the spec's validation codes into control.reason_codes for SQL readers."""
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "insert into control.reason_codes (code, severity, message_zh, message_en) values (%s, %s, %s, %s)"
            " on conflict (code) do update set severity = excluded.severity,"
            " message_zh = excluded.message_zh, message_en = excluded.message_en",
            [(r.code, r.severity, r.zh, r.en) for r in VALIDATION_CODES.values()],
        )


def up() -> str:
    """Start (if embedded), create the database if the server lacks it, and migrate; return the
    URL. Every command calls this first, so a wrong EXCHANGE_DB_URL fails here with a reason code
    rather than a driver traceback."""
    url = database_url()
    _ensure_database(url)
    with connect(autocommit=True) as conn:
        migrate(conn)
    return url


def _ensure_database(url: str) -> None:
    """Create the database `url` names when its server runs without it (as create_database creates
    one: collation "C"), the way the embedded default and the Airflow metadata database are created.

    Raises ConfigError C_DB_UNREACHABLE (no server there, or it refuses the login) or C_DB_CREATE
    (the user may not create databases). The messages name the server and database, never the
    password. Whether the database exists is read from pg_database on the server's `postgres`
    database, not from the wording of the connection error, which follows the server's language.
    """
    try:
        psycopg.connect(url).close()
        return
    except psycopg.OperationalError as refused:
        params = conninfo_to_dict(url)
        name = str(params.get("dbname") or params.get("user") or "")
        where = f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{name}"
        reason = " ".join(str(refused).split()) or type(refused).__name__
        try:
            with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
                if conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
                    raise ConfigError("C_DB_UNREACHABLE", f"无法连接数据库 cannot connect to {where}: {reason}") from refused
                create_database(conn, name)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise ConfigError("C_DB_CREATE", f"数据库不存在且无权创建 the database {where} does not exist and this "
                                             f"user may not create it ({exc}); create it as the server's owner, "
                                             f"with LC_COLLATE 'C'") from exc
        except psycopg.OperationalError as exc:
            raise ConfigError("C_DB_UNREACHABLE", f"无法连接数据库 cannot connect to {where}: {reason}") from exc
        logging.getLogger(__name__).info("created the database %s", where)
