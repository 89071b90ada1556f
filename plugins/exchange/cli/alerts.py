"""`exchange alerts`: a lender's own early-warning alerts."""

from __future__ import annotations

import click

from exchange.cli.output import console, print_json, print_rows


@click.command("alerts")
@click.option("--lender", "lender_code", required=True, help="the lender whose own alerts to show")
@click.option("--json", "as_json", is_flag=True)
@click.option("--write", is_flag=True, help="write exports/<LENDER>/<LENDER>_alerts_v<VERSION>.csv instead of printing")
def alerts(lender_code: str, as_json: bool, write: bool) -> None:
    """A lender's own early-warning alerts (风险预警) of the live feed version; the other lender is never named."""
    from exchange.core import db as database  # heavy: psycopg
    from exchange.feed.alerts import export_alerts, lender_alerts

    database.up()
    with database.connect() as conn:
        if write:
            console.print(f"written: {export_alerts(conn, lender_code)}")
            return
        version, rows = lender_alerts(conn, lender_code)
    if as_json:
        print_json({"version": version, "alerts": rows})
        return
    console.print(f"版本 version {version}")
    print_rows(rows)
