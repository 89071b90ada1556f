"""`exchange alerts`: a lender's own early-warning alerts; and the demo's alert and conduct tables."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table


def _table(console: Console, rows: list[dict]) -> None:
    if not rows:
        console.print("（无记录 nothing yet）")
        return
    table = Table(*rows[0].keys())
    for r in rows:
        table.add_row(*["" if v is None else str(v) for v in r.values()])
    console.print(table)


def print_demo_summary(console: Console) -> None:
    """Alerts per lender and the collection-conduct findings (marts.mart_lender_alerts, mart_conduct_findings)."""
    from exchange.core import db as database
    from exchange.feed.alerts import alert_counts, conduct_findings

    with database.connect() as conn:
        counts = alert_counts(conn)
        findings = conduct_findings(conn)
    console.print("\n风险预警 Early-warning alerts per lender (each lender sees only its own: `exchange alerts --lender CODE`)")
    _table(console, counts)
    console.print("\n催收行为问题 Collection conduct findings (per lender and rule; months flagged)")
    _table(console, [{"lender": f["lender_code"], "rule": f["rule_code"], "severity": f["severity"],
                      "months": f["months"], "period": f"{f['first_month']:%Y-%m}..{f['last_month']:%Y-%m}",
                      "affected": f["affected"], "worst": f["worst_value"], "threshold": f["threshold"],
                      "rule text": f["rule"]} for f in findings])


def register(main: click.Group) -> None:
    from exchange.cli.main import console

    @main.command("alerts")
    @click.option("--lender", "lender_code", required=True, help="the lender whose own alerts to show")
    @click.option("--json", "as_json", is_flag=True)
    @click.option("--write", is_flag=True, help="write exports/<LENDER>/<LENDER>_alerts_<date>.csv instead of printing")
    def alerts(lender_code: str, as_json: bool, write: bool) -> None:
        """A lender's own early-warning alerts (风险预警); the other lender is never named."""
        from exchange.core import db as database
        from exchange.feed.alerts import export_alerts, lender_alerts

        database.up()
        with database.connect() as conn:
            if write:
                console.print(f"written: {export_alerts(conn, lender_code)}")
                return
            rows = lender_alerts(conn, lender_code)
        if as_json:
            click.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
            return
        _table(console, rows)
