"""`exchange docs`: the dbt docs and the quality gate's Data Docs, ready for the portal to serve."""

from __future__ import annotations

import click

from exchange.cli.output import console


@click.group("docs")
def docs() -> None:
    """Model documentation (dbt docs) and validation reports (GX Data Docs), served offline by the portal."""


@docs.command("build")
def docs_build() -> None:
    """Generate the dbt docs from the database and make the Data Docs work offline."""
    from exchange.core import db  # heavy: psycopg
    from exchange.core.settings import get_settings
    from exchange.feed.data_docs import make_offline
    from exchange.feed.quality_gate import data_docs_site
    from exchange.pipeline.docs import build_dbt_docs

    db.up()
    settings = get_settings()
    site = build_dbt_docs(settings)
    console.print(f"dbt 文档 dbt docs: {site / 'index.html'}")
    changed = make_offline(data_docs_site(settings))
    console.print(f"校验报告 Data Docs: {data_docs_site(settings)} ({changed} pages made offline)")
    console.print("门户 portal: /portal/docs (association)")
