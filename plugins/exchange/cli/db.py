"""`exchange db up|down|url`: the exchange's PostgreSQL."""

from __future__ import annotations

import re

import click

from exchange.cli.output import console


@click.group()
def db() -> None:
    """The exchange's PostgreSQL (EXCHANGE_DB_URL, else an embedded server under .exchange/)."""


@db.command("up")
def db_up() -> None:
    """Start the embedded server if needed and apply migrations."""
    from exchange.core import db as database  # heavy: psycopg

    url = database.up()
    console.print(f"数据库就绪 database ready: {_redact(url)}")
    with database.connect() as conn:
        if not database.orders_text_bytewise(conn):
            console.print("注意 note: 数据库排序规则不是 C，排序与建索引较慢 the database's collation is not \"C\": "
                          "sorts and index builds of text keys run about 3 times slower; see docs/operator-guide.md "
                          "(a database of its own)")


@db.command("down")
def db_down() -> None:
    """Stop the embedded server (an external EXCHANGE_DB_URL server is left alone)."""
    from exchange.core import db as database  # heavy: psycopg

    console.print("已停止 stopped" if database.stop_embedded() else "没有运行中的内置数据库 no embedded server running")


@db.command("url")
def db_url() -> None:
    """Print the connection URL (for psql and other tools)."""
    from exchange.core import db as database  # heavy: psycopg

    click.echo(database.database_url())


def _redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]+@", r"://\1:***@", url)
