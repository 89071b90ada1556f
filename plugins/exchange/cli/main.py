"""The `exchange` command: database, lenders, files, pipeline, status, demo, benchmarks."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from exchange.core.errors import ExchangeError
from exchange.core.settings import PROJECT_ROOT, get_settings

console = Console()
if not console.is_terminal:  # piped or under make: do not squeeze tables into 80 columns
    console = Console(width=160)
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


class _Group(click.Group):
    """Turns ExchangeError into a one-line message with its code and exit status 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ExchangeError as exc:
            console.print(f"[red]错误 Error[/red] [{exc.code}] {exc.message}")
            sys.exit(2)


@click.group(cls=_Group)
def main() -> None:
    """Shared credit-information exchange for microloan lenders (小额贷款信息共享平台)."""


# ---- database -------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The exchange's PostgreSQL (EXCHANGE_DB_URL, else an embedded server under .exchange/)."""


@db.command("up")
def db_up() -> None:
    """Start the embedded server if needed and apply migrations."""
    from exchange.core import db as database

    url = database.up()
    console.print(f"数据库就绪 database ready: {_redact(url)}")


@db.command("down")
def db_down() -> None:
    """Stop the embedded server (an external EXCHANGE_DB_URL server is left alone)."""
    from exchange.core import db as database

    console.print("已停止 stopped" if database.stop_embedded() else "没有运行中的内置数据库 no embedded server running")


@db.command("url")
def db_url() -> None:
    """Print the connection URL (for psql and other tools)."""
    from exchange.core import db as database

    click.echo(database.database_url())


def _redact(url: str) -> str:
    import re

    return re.sub(r"://([^:/@]+):[^@]+@", r"://\1:***@", url)


# ---- lenders --------------------------------------------------------------------------------


@main.group("lenders")
def lenders_group() -> None:
    """The lender registry (会员机构)."""


@lenders_group.command("add")
@click.argument("code")
@click.option("--name", required=True, help="legal name, e.g. 杭州某某小额贷款有限公司")
@click.option("--category", required=True, type=click.Choice(["microloan_company", "online_microloan_company",
                                                              "financing_guarantee_company"]))
def lenders_add(code: str, name: str, category: str) -> None:
    from exchange.core import db as database
    from exchange.intake import lenders

    with database.connect(autocommit=True) as conn:
        database.migrate(conn)
        added = lenders.add(conn, code, name, category)
    console.print(f"{'已登记 added' if added else '已存在 already registered'}: {code} {name}")


@lenders_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def lenders_list(as_json: bool) -> None:
    from exchange.core import db as database
    from exchange.intake import lenders

    with database.connect(autocommit=True) as conn:
        database.migrate(conn)
        rows = lenders.list_all(conn)
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in rows], ensure_ascii=False, indent=2))
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
    from exchange.core import db as database
    from exchange.intake import lenders

    with database.connect(autocommit=True) as conn:
        database.migrate(conn)
        lenders.set_status(conn, code, status, reason)
    console.print(f"{code}: {status}")


# ---- files ----------------------------------------------------------------------------------


@main.command()
@click.option("--lenders", "n_lenders", default=5, show_default=True)
@click.option("--months", default=13, show_default=True)
@click.option("--loans", default=2000, show_default=True, help="loans per lender")
@click.option("--seed", default=1, show_default=True)
@click.option("--error-rate", default=0.01, show_default=True)
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="last reporting date (a month end); default: the last month end before today")
@click.option("--out", type=click.Path(path_type=Path), required=True)
def generate(n_lenders: int, months: int, loans: int, seed: int, error_rate: float, end: dt.datetime | None,
             out: Path) -> None:
    """Write synthetic lenders' files, with a truth file of every injected error."""
    result = _generate(out, n_lenders, months, loans, seed, error_rate, end.date() if end else _last_month_end())
    console.print(f"{len(result.files)} files for {len(result.lenders)} lenders in {out}; truth: {out / 'truth.csv'}")


def _last_month_end(today: dt.date | None = None) -> dt.date:
    return (today or dt.date.today()).replace(day=1) - dt.timedelta(days=1)


def _generate(out: Path, n_lenders: int, months: int, loans: int, seed: int, error_rate: float, end: dt.date):
    from rich.progress import Progress

    from exchange_tools.simulate import generate as run

    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("生成 generating", total=None)
        return run(out, lenders=n_lenders, months=months, loans=loans, seed=seed, error_rate=error_rate, end=end,
                   progress=lambda done, total: progress.update(bar, completed=done, total=total))


@main.command()
@click.option("--lender", "lender_code", required=True)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def submit(lender_code: str, files: tuple[Path, ...]) -> None:
    """Check files at the door and put them into landing/<LENDER>/ for the next ingest."""
    from exchange.core import db as database
    from exchange.intake.ingest import submit as do_submit

    database.up()
    results = do_submit(lender_code, list(files))
    for r in results:
        mark = "[green]✓[/green]" if r.accepted_for_processing else f"[red]✗ {r.code}[/red]"
        console.print(f"{mark} {r.file}: {r.message}")
    if not all(r.accepted_for_processing for r in results):
        sys.exit(1)


@main.command()
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None, help="reporting date passed to the transform")
@click.option("--force", is_flag=True, help="run downstream DAGs even when no data changed")
@click.option("--verbose", is_flag=True, help="show Airflow's task logs instead of writing them to .exchange/logs")
def pipeline(as_of: dt.datetime | None, force: bool, verbose: bool) -> None:
    """Run the DAGs in process (Airflow dag.test) in dependency order."""
    _run_pipeline(as_of.date() if as_of else None, force, verbose)


def _run_pipeline(as_of: dt.date | None, force: bool, verbose: bool) -> None:
    from exchange.core import db as database
    from exchange.pipeline.run import run_pipeline

    database.up()
    started = time.monotonic()
    console.print("运行流水线 running the pipeline (Airflow dag.test) ...")
    result = run_pipeline(as_of=as_of, force=force, quiet=not verbose)
    for run in result.runs:
        tasks = len(run.task_states)
        console.print(f"  {run.dag_id}: {run.state} ({tasks} task instances)")
    console.print(f"  {time.monotonic() - started:.1f}s; Airflow logs: {result.log_path}")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--lender", "lender_code", default=None, help="list this lender's submissions")
def status(as_json: bool, lender_code: str | None) -> None:
    """Submissions, verdicts and row counts per lender."""
    from exchange.core import db as database
    from exchange.intake.submissions import lender_submissions, summary_by_lender

    database.up()
    with database.connect() as conn:
        data = lender_submissions(conn, lender_code) if lender_code else summary_by_lender(conn)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    _print_rows(data)


def _print_rows(rows: list[dict]) -> None:
    if not rows:
        console.print("（无记录 nothing yet）")
        return
    table = Table(*rows[0].keys())
    for r in rows:
        table.add_row(*["" if v is None else str(v) for v in r.values()])
    console.print(table)


# ---- spec -------------------------------------------------------------------------------------


@main.group()
def spec() -> None:
    """The submission spec as documents (rendered from the code that validates)."""


@spec.command("doc")
@click.option("--write", is_flag=True, help="write docs/submission-spec.md and docs/templates/ instead of printing")
def spec_doc(write: bool) -> None:
    from exchange.intake.specdoc import render_markdown, template_files

    if not write:
        click.echo(render_markdown(), nl=False)
        return
    docs = PROJECT_ROOT / "docs"
    (docs / "submission-spec.md").write_text(render_markdown(), encoding="utf-8")
    (docs / "templates").mkdir(parents=True, exist_ok=True)
    for name, content in template_files().items():
        (docs / "templates" / name).write_text(content, encoding="utf-8")
    console.print(f"written: {docs / 'submission-spec.md'}, {docs / 'templates'}")


# ---- demo -------------------------------------------------------------------------------------


DEMO = {"lenders": 5, "months": 13, "loans": 2000, "seed": 2026, "error_rate": 0.01}


@main.command()
def demo() -> None:
    """The main job end to end: generate 5 lenders x 13 months, register, submit, run the pipeline."""
    from exchange.core import db as database
    from exchange.intake import lenders
    from exchange.intake.ingest import submit as do_submit
    from exchange.intake.submissions import summary_by_lender

    started = time.monotonic()
    settings = get_settings()
    url = database.up()
    state_file = settings.state_dir / "demo.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {"end": _last_month_end().isoformat()}
    state_file.write_text(json.dumps(state))  # the first run fixes the period, so reruns regenerate the same bytes
    out = settings.state_dir / "demo" / "generated"
    shutil.rmtree(out, ignore_errors=True)  # the demo's own scratch copy; the same bytes come back
    console.print(f"1/4 生成模拟机构数据 generating {DEMO['lenders']} lenders x {DEMO['months']} months -> {out}")
    result = _generate(out, DEMO["lenders"], DEMO["months"], DEMO["loans"], DEMO["seed"], DEMO["error_rate"],
                       dt.date.fromisoformat(state["end"]))
    console.print("2/4 登记机构 registering lenders")
    with database.connect(autocommit=True) as conn:
        for lender in result.lenders:
            lenders.add(conn, lender.code, lender.name_zh, lender.category)
    console.print("3/4 报送文件 submitting files to the landing zone")
    queued = refused = already = 0
    for path in result.files:
        lender_code = path.name.split("_", 1)[0]
        for r in do_submit(lender_code, [path], settings):
            if r.accepted_for_processing:
                queued += 1
            elif r.code == "F_DUPLICATE":
                already += 1
            else:
                refused += 1
                console.print(f"   ✗ {r.file}: {r.code} {r.message}")
    console.print(f"   queued {queued}, already received {already}, refused {refused}")
    console.print("4/4 ", end="")
    _run_pipeline(None, False, False)
    with database.connect() as conn:
        rows = summary_by_lender(conn)
    console.print("\n各机构报送情况 Submissions per lender")
    _print_rows(rows)
    _print_portfolio()
    _print_alerts_and_conduct()
    _print_feed()
    console.print(f"\n完成 done in {time.monotonic() - started:.0f}s. 连接数据库 Connect: psql \"{url}\"  "
                  f"(or `exchange db url`); feedback files: {settings.feedback}/<lender>/")
    console.print("门户 Portal and API: `exchange serve` (`exchange tokens issue --lender CODE` for a login), then http://127.0.0.1:8000/portal")


def _print_feed() -> None:
    """The live feed version: blacklist size by reason and default-feed size (exchange.cli.feed)."""
    from exchange.cli.feed import print_live
    from exchange.core import db as database
    from exchange.feed.versions import live_version

    console.print("\n共享信息发布 Published feed")
    with database.connect() as conn:
        print_live(live_version(conn))


def _print_alerts_and_conduct() -> None:
    from exchange.cli.alerts import print_demo_summary

    print_demo_summary(console)


def _print_portfolio() -> None:
    """The standardized portfolio per lender at its latest reporting month (marts.mart_portfolio_quality)."""
    from exchange.core import db as database
    from exchange.pipeline.dbt import portfolio_summary

    with database.connect() as conn:
        rows = portfolio_summary(conn)
    console.print("\n标准化资产质量 Standardized portfolio (latest reporting month)")
    _print_rows([{"lender": r["lender_code"], "month": f"{r['report_month']:%Y-%m}", "loans 笔数": f"{r['loans']:,}",
                  "outstanding 余额": f"{r['outstanding']:,.2f}", "M1+ 逾期率": _percent(r["m1_plus_ratio"]),
                  "NPL 不良率": _percent(r["npl_ratio"])} for r in rows])


def _percent(ratio) -> str:
    return "" if ratio is None else f"{ratio:.2%}"


# ---- benchmarks -------------------------------------------------------------------------------


@main.group()
def bench() -> None:
    """Benchmarks: ratios measured in one run (never timed tests)."""


@bench.command("ingest")
@click.option("--rows", default=1_000_000, show_default=True)
def bench_ingest(rows: int) -> None:
    """Ingest throughput for a loan_status file vs plain COPY and pandas to_sql, plus peak memory."""
    from exchange_tools.bench.ingest import ingest_benchmark

    ingest_benchmark(rows, console)


@bench.command("transform")
@click.option("--loans", default=200_000, show_default=True, help="loans of the large book (one lender, 24 months)")
def bench_transform(loans: int) -> None:
    """dbt full build at the demo scale and on a large book; one more month on 6 vs 24 months of history."""
    from exchange_tools.bench.transform import transform_benchmark

    transform_benchmark(console, loans)


from exchange.cli.access import register as _register_access  # noqa: E402  tokens, lookup, disputes, report, serve, bench lookup

_register_access(main, bench)
from exchange.cli.feed import register as _register_feed  # noqa: E402  feed status|show|export|approve|publish

_register_feed(main)
from exchange.cli.alerts import register as _register_alerts  # noqa: E402  alerts --lender CODE

_register_alerts(main)
