"""`exchange submit`, `exchange status` and `exchange spec doc`: lenders' files at the door, what
became of them, and the spec they are checked against."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from exchange.cli.output import console, print_json, print_rows
from exchange.core.settings import PROJECT_ROOT
from exchange.intake.specdoc import render_markdown, template_files


@click.command()
@click.option("--lender", "lender_code", required=True)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def submit(lender_code: str, files: tuple[Path, ...]) -> None:
    """Check files at the door and put them into landing/<LENDER>/ for the next ingest."""
    from exchange.core import db as database  # heavy: psycopg
    from exchange.intake.ingest import submit as do_submit  # heavy: pandas and pyarrow

    database.up()
    results = do_submit(lender_code, list(files))
    for r in results:
        mark = "[green]✓[/green]" if r.accepted_for_processing else f"[red]✗ {r.code}[/red]"
        console.print(f"{mark} {r.file}: {r.message}")
    if not all(r.accepted_for_processing for r in results):
        sys.exit(1)


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--lender", "lender_code", default=None, help="list this lender's submissions")
def status(as_json: bool, lender_code: str | None) -> None:
    """Submissions, verdicts and row counts per lender."""
    from exchange.core import db as database  # heavy: psycopg
    from exchange.intake.submissions import lender_submissions, summary_by_lender

    database.up()
    with database.connect() as conn:
        data = lender_submissions(conn, lender_code) if lender_code else summary_by_lender(conn)
    if as_json:
        print_json(data)
        return
    print_rows(data)


@click.group()
def spec() -> None:
    """The submission spec as documents (rendered from the code that validates)."""


@spec.command("doc")
@click.option("--write", is_flag=True, help="write docs/submission-spec.md and docs/templates/ instead of printing")
def spec_doc(write: bool) -> None:
    if not write:
        click.echo(render_markdown(), nl=False)
        return
    docs = PROJECT_ROOT / "docs"
    (docs / "submission-spec.md").write_text(render_markdown(), encoding="utf-8")
    (docs / "templates").mkdir(parents=True, exist_ok=True)
    for name, content in template_files().items():
        (docs / "templates" / name).write_text(content, encoding="utf-8")
    console.print(f"written: {docs / 'submission-spec.md'}, {docs / 'templates'}")
