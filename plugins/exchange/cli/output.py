"""What every command prints through: one console, one table printer, and the group that turns an
ExchangeError into its reason code and exit status 2 instead of a traceback."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from exchange.core.clock import EXCHANGE_TZ
from exchange.core.errors import ExchangeError

console = Console()
if not console.is_terminal:  # piped or under make: do not squeeze tables into 80 columns
    console = Console(width=160)


def readable(value: Any) -> str:
    """A cell as a person reads it: empty for None, a moment in Beijing time without the "T"."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        moment = value.astimezone(EXCHANGE_TZ) if value.tzinfo else value
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def print_rows(rows: list[dict], title: str | None = None) -> None:
    """A table with a column per key of the first row; empty cells for None. Long values fold onto
    further lines instead of being cut (a key or a reason text must be read whole)."""
    if not rows:
        console.print("（无记录 nothing yet）")
        return
    table = Table(title=title)
    for name in rows[0]:
        table.add_column(str(name), overflow="fold")
    for r in rows:
        table.add_row(*[readable(v) for v in r.values()])
    console.print(table)


def print_json(data: Any) -> None:
    """Machine-readable output of every `--json` option: UTF-8 (Chinese as is), dates as text."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=_json_value))


def _json_value(value: Any) -> str:
    """Moments as ISO 8601 in Beijing time (with +08:00); anything else JSON lacks as text."""
    if isinstance(value, dt.datetime) and value.tzinfo:
        return value.astimezone(EXCHANGE_TZ).isoformat()
    return str(value)


def print_csv(rows: Sequence[dict], columns: Sequence[str] | None = None) -> None:
    """Machine-readable rows of every `--csv` option, with a header; empty cells for None."""
    columns = list(columns if columns is not None else (rows[0] if rows else []))
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([readable(r.get(c)) for c in columns])


def output_format(command: Callable) -> Callable:
    """`--json` and `--csv` on a command that otherwise prints a table; the command gets `fmt`
    ("table", "json" or "csv")."""
    command = click.option("--csv", "fmt", flag_value="csv", help="rows as CSV with a header")(command)
    return click.option("--json", "fmt", flag_value="json", help="as JSON")(
        click.option("--table", "fmt", flag_value="table", default=True, hidden=True)(command))


class ExchangeGroup(click.Group):
    """Turns ExchangeError into a one-line message with its code and exit status 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ExchangeError as exc:
            console.print(f"[red]错误 Error[/red] [{exc.code}] {exc.message}")
            sys.exit(2)
