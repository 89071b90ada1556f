"""`exchange lenders add|list|suspend|reinstate`: the lender registry."""

from __future__ import annotations

import click
from rich.table import Table

from exchange.cli.output import console, print_json


@click.group("lenders")
def lenders_group() -> None:
    """The lender registry (会员机构)."""


@lenders_group.command("add")
@click.argument("code")
@click.option("--name", required=True, help="legal name, e.g. 杭州某某小额贷款有限公司")
@click.option("--category", required=True, type=click.Choice(["microloan_company", "online_microloan_company",
                                                              "financing_guarantee_company"]))
def lenders_add(code: str, name: str, category: str) -> None:
    from exchange.core import db as database  # heavy: psycopg
    from exchange.intake import lenders

    with database.connect(autocommit=True) as conn:
        database.migrate(conn)
        added = lenders.add(conn, code, name, category)
    console.print(f"{'已登记 added' if added else '已存在 already registered'}: {code} {name}")


@lenders_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def lenders_list(as_json: bool) -> None:
    from exchange.core import db as database  # heavy: psycopg
    from exchange.intake import lenders

    with database.connect(autocommit=True) as conn:
        database.migrate(conn)
        rows = lenders.list_all(conn)
    if as_json:
        print_json([r.__dict__ for r in rows])
        return
    table = Table("code 代码", "name 名称", "category 类别", "status 状态")
    for r in rows:
        table.add_row(r.code, r.name, r.category, r.status)
    console.print(table)


@lenders_group.command("suspend")
@click.argument("code")
@click.option("--reason", required=True)
def lenders_suspend(code: str, reason: str) -> None:
    """Stop accepting files from a lender (its files are rejected with F_LENDER_SUSPENDED)."""
    _set_status(code, "suspended", reason)


@lenders_group.command("reinstate")
@click.argument("code")
@click.option("--reason", required=True)
def lenders_reinstate(code: str, reason: str) -> None:
    _set_status(code, "active", reason)


def _set_status(code: str, status: str, reason: str) -> None:
    from exchange.core import db as database  # heavy: psycopg
    from exchange.intake import lenders

    with database.connect(autocommit=True) as conn:
        database.migrate(conn)
        lenders.set_status(conn, code, status, reason)
    console.print(f"{code}: {status}")
