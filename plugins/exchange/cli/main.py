"""The `exchange` command: the root group, one command group per module of exchange.cli.

The development tools (exchange_tools: `demo`, `generate`, `bench`) are not part of the product;
they attach themselves through the `exchange.commands` entry points, and a deployment installed
without them has none of those commands.
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points

import click

from exchange.cli import access, airflow, alerts, analysts, db, docs, feed, files, lenders, pipeline
from exchange.cli.output import ExchangeGroup

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

COMMANDS_ENTRY_POINTS = "exchange.commands"
"""Entry-point group of the commands other distributions add to `exchange` (name = command name)."""


@click.group(cls=ExchangeGroup)
def main() -> None:
    """Shared credit-information exchange for microloan lenders (小额贷款信息共享平台)."""


def _add_commands(group: click.Group) -> None:
    for command in (db.db, lenders.lenders_group, files.submit, files.status, files.spec, pipeline.pipeline,
                    feed.feed, alerts.alerts, access.tokens_group, access.lookup_cmd, access.disputes_group,
                    access.report_cmd, access.serve_cmd, analysts.analysts_group, docs.docs, airflow.airflow_group):
        group.add_command(command)
    for entry in entry_points(group=COMMANDS_ENTRY_POINTS):
        try:
            command = entry.load()
        except ModuleNotFoundError as exc:
            if exc.name != entry.module.partition(".")[0]:
                raise
            continue  # declared by the project's metadata, but its package is not installed here (an image)
        group.add_command(command, entry.name)


_add_commands(main)
