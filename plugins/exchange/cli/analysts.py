"""`exchange analysts add|list|remove`: database logins for analysts (read the marts only)."""

from __future__ import annotations

import click

from exchange.cli.output import console, output_format, print_csv, print_json, print_rows


@click.group("analysts")
def analysts_group() -> None:
    """Analyst logins (分析人员账号): one PostgreSQL login per person, reading the marts only."""


@analysts_group.command("add")
@click.argument("name")
def analysts_add(name: str) -> None:
    """Create login analyst_NAME and print where to connect; the password is shown once."""
    from exchange.access.logins import add_analyst
    from exchange.core import db  # heavy: psycopg

    url = db.up()
    with db.connect(autocommit=True) as conn:
        login = add_analyst(conn, name, url)
    console.print(f"已创建分析人员账号 analyst login created: {login.role}")
    console.print("连接串（密码只显示这一次）connection (the password is shown only now):")
    click.echo(login.conninfo)


@analysts_group.command("list")
@output_format
def analysts_list(fmt: str) -> None:
    """The analyst logins."""
    from exchange.access.logins import list_analysts
    from exchange.core import db  # heavy: psycopg

    db.up()
    with db.connect() as conn:
        rows = list_analysts(conn)
    {"json": print_json, "csv": print_csv}.get(fmt, print_rows)(rows)


@analysts_group.command("remove")
@click.argument("name")
def analysts_remove(name: str) -> None:
    """Drop login analyst_NAME (audited)."""
    from exchange.access.logins import remove_analyst
    from exchange.core import db  # heavy: psycopg

    db.up()
    with db.connect(autocommit=True) as conn:
        removed = remove_analyst(conn, name)
    console.print("已删除 removed" if removed else "没有该账号 no such analyst login")
