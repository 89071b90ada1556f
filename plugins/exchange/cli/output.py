"""What every command prints through: one console, one table printer, and the group that turns an
ExchangeError into its reason code and exit status 2 instead of a traceback."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from exchange.core.errors import ExchangeError

console = Console()
if not console.is_terminal:  # piped or under make: do not squeeze tables into 80 columns
    console = Console(width=160)


def print_rows(rows: list[dict]) -> None:
    """A table with a column per key of the first row; empty cells for None."""
    if not rows:
        console.print("（无记录 nothing yet）")
        return
    table = Table(*rows[0].keys())
    for r in rows:
        table.add_row(*["" if v is None else str(v) for v in r.values()])
    console.print(table)


class ExchangeGroup(click.Group):
    """Turns ExchangeError into a one-line message with its code and exit status 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ExchangeError as exc:
            console.print(f"[red]错误 Error[/red] [{exc.code}] {exc.message}")
            sys.exit(2)
