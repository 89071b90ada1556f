"""`exchange feed status|show|export|approve|publish|purge`: the published blacklist and default feed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from rich.table import Table

from exchange.cli.output import console, output_format, print_csv, print_json, print_rows, readable
from exchange.core.errors import ExchangeError


@click.group("feed")
def feed() -> None:
    """Published versions of the blacklist (恶意逾期名单) and default feed (违约信息)."""


@feed.command("status")
@output_format
def feed_status_cmd(fmt: str) -> None:
    """The live version and the latest versions with their gate results."""
    from exchange.core import db  # heavy: psycopg
    from exchange.feed.versions import feed_status

    db.up()
    with db.connect() as conn:
        data = feed_status(conn)
    if fmt == "json":
        print_json(data)
        return
    if fmt == "csv":  # the versions, one row each; the live one is the row whose status is live
        print_csv(data["versions"])
        return
    print_live(data["live"])
    if not data["versions"]:  # nothing built yet: the line above says so, an empty table adds nothing
        return
    table = Table("version 版本", "as_of 数据日期", "status 状态", "blacklist 名单", "default_feed 违约",
                  "held 不予发布", "gate 闸门", "published 发布时间", "approved_by 批准")
    for v in data["versions"]:
        gate = {True: "passed", False: "FAILED", None: "-"}[v["validation_success"]]
        table.add_row(str(v["version"]), str(v["as_of_date"]), v["status"], str(v["blacklist_rows"]),
                      str(v["default_feed_rows"]), str(v["held_rows"]), gate,
                      readable(v["published_at"]), v["approved_by"] or "")
    console.print(table)


def print_live(live: dict | None) -> None:
    """Published version, blacklist size by reason, default feed and alerts sizes (the end of `make demo`)."""
    if not live:
        console.print("尚无已发布版本 no version published yet")
        return
    counts = live["counts"] or {}
    console.print(f"已发布版本 Live version {live['version']} (as of {live['as_of_date']}, published "
                  f"{readable(live['published_at'])}{', approved override' if live['approved_at'] else ''})")
    by_reason = counts.get("blacklist_by_reason", {})
    console.print(f"  恶意逾期名单 blacklist: {live['blacklist_rows']} borrowers; by reason "
                  + ", ".join(f"{code} {n}" for code, n in by_reason.items())
                  + f"; disputed {counts.get('disputed', 0)}")
    by_status = counts.get("default_feed_by_status", {})
    console.print(f"  违约信息 default feed: {live['default_feed_rows']} episodes ("
                  + ", ".join(f"{k} {v}" for k, v in by_status.items()) + ")")
    by_type = counts.get("lender_alerts_by_type", {})
    console.print(f"  风险预警 alerts (each lender reads its own): {live.get('lender_alerts_rows', 0)} ("
                  + ", ".join(f"{k} {v}" for k, v in by_type.items()) + ")")
    by_flag = counts.get("borrower_signals_by_flag", {})
    console.print(f"  借款人风险信号 borrower signals (members read them only in look-ups):"
                  f" {live.get('borrower_signals_rows', 0)} keys (" + ", ".join(f"{k} {v}" for k, v in by_flag.items())
                  + ")")
    held = counts.get("held_by_reason", {})
    console.print(f"  不予发布 held back from members: {live['held_rows']} records ("
                  + ", ".join(f"{k} {v}" for k, v in held.items()) + f"); exports: {live['export_dir']}")


@feed.command("show")
@click.argument("what", type=click.Choice(["blacklist", "default_feed", "held", "reasons", "borrower_signals"]),
                default="blacklist")
@click.option("--version", type=int, default=None, help="default: the live version")
@click.option("--lender", default=None, help="show it as this member sees it (own code, others as category)")
@click.option("--limit", default=20, show_default=True, help="rows at most (0: all)")
@output_format
def feed_show(what: str, version: int | None, lender: str | None, limit: int, fmt: str) -> None:
    """Rows of a version (the association's view, or a member's with --lender)."""
    from exchange.core import db  # heavy: psycopg
    from exchange.feed.exports import read_rows

    db.up()
    with db.connect() as conn:
        if version is None:
            row = conn.execute("select version from shared.live_version").fetchone()
            if not row:
                raise ExchangeError("P_NO_VERSION", "no version is live yet")
            version = row[0]
        name = "listing_reasons" if what == "reasons" else what
        if lender and name == "borrower_signals":
            raise ExchangeError("P_MEMBER_VIEW", "members read borrower signals only in a look-up, one key at a time:"
                                                 " no member copy of the table exists")
        columns, rows = read_rows(conn, name, version, lender=lender, limit=limit or None)
    if fmt == "json":
        print_json({"what": what, "version": version, "lender": lender, "rows": rows})
    elif fmt == "csv":
        print_csv(rows, columns)
    else:
        print_rows(rows, title=f"{what} v{version}" + (f" as seen by {lender}" if lender else ""))


@feed.command("export")
@click.argument("version", type=int)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--lender", default=None, help="a member's copy: its own code, other lenders as their category")
def feed_export(version: int, out: Path, lender: str | None) -> None:
    """Write a version's CSV, Parquet and manifest.json (SHA-256 of each file) to OUT."""
    from exchange.core import db  # heavy: psycopg
    from exchange.feed.exports import write_exports

    db.up()
    with db.connect() as conn:
        manifest = write_exports(conn, version, out, lender=lender)
    for name, f in manifest["files"].items():
        console.print(f"  {name}: {f['rows']} rows, sha256 {f['sha256']}")
    console.print(f"written: {out}/manifest.json")


@feed.command("approve")
@click.argument("version", type=int)
@click.option("--reason", required=True, help="why the failed checks are acceptable (recorded)")
@click.option("--by", default=None, help="who approves (default: the OS user)")
def feed_approve(version: int, reason: str, by: str | None) -> None:
    """Publish a version that failed the quality gate: an explicit, recorded override."""
    from exchange.core import db  # heavy: psycopg
    from exchange.feed.publish import approve

    db.up()
    result = approve(version, reason, by=by)
    console.print(f"已批准并发布 approved and published version {result['version']}: {result.get('export_dir', '')}")


@feed.command("publish")
def feed_publish() -> None:
    """Run the gate and publish now, outside Airflow (the pipeline's exchange_publish does the same)."""
    from exchange.core import db  # heavy: psycopg
    from exchange.feed.publish import run_publication

    db.up()
    result = run_publication()
    if result.get("unchanged"):
        console.print(f"version {result['version']} unchanged, still live (未变化). A dispute outcome or a newly "
                      "loaded file reaches the feed only after a transform: run `exchange pipeline` (处理结果须经"
                      "下一次数据处理后发布)")
    else:
        console.print(f"version {result['version']} published")


@feed.command("purge")
@click.option("--dry-run", is_flag=True, help="list what would go, change nothing")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="the day to judge purge dates against (default: today in Beijing)")
@click.option("--json", "as_json", is_flag=True)
def feed_purge(dry_run: bool, today: dt.datetime | None, as_json: bool) -> None:
    """Retention (保存期限): delete what has passed its purge date from shared, de-key it in raw,
    delete archived files five years after their reporting date and drop raw.loan_status months as
    old whose loans hold no kept record. Run it daily after the publish."""
    from exchange.core import db  # heavy: psycopg
    from exchange.feed.retention import purge

    db.up()
    result = purge(today=today.date() if today else None, dry_run=dry_run)
    if as_json:
        print_json(result.as_dict())
        return
    summary = result.as_dict()
    verb = "已删除 done" if result.applied else ("演练 dry run, nothing changed" if dry_run else "无到期记录 nothing due")
    console.print(f"保存期限 Retention as of {summary['today']}: {verb}")
    console.print(f"  共享区 shared default-feed rows past their purge date: {summary['shared_default_feed_rows']}"
                  + "".join(f"; v{v}: {n}" for v, n in summary["shared_rows_by_version"].items()))
    console.print(f"  共享区 shared borrower-signal rows of keys left without a keyed loan: {summary['shared_signal_rows']}")
    console.print(f"  原始区去标识 raw loans de-keyed: {summary['dekeyed_loans']}"
                  + "".join(f"; {lender}: {n}" for lender, n in summary["dekeyed_loans_by_lender"].items()))
    table = Table("lender 机构", "reporting date 数据日期", "submissions 报送", "file 文件", "archive 归档",
                  title=f"归档文件 archived files past five years: {len(result.archive_files)}")
    for f in result.archive_files:
        table.add_row(f.lenders, str(f.reporting_date), ", ".join(map(str, f.submission_ids)),
                      ", ".join(sorted(set(f.file_names))), f.archive_path)
    console.print(table)
    console.print(f"  原始区账户状态月份 raw.loan_status months detached and dropped: {len(summary['status_months_dropped'])}"
                  + "".join(f"; {m['month']}: " + ", ".join(f"{lender} {n}" for lender, n in m["rows_by_lender"].items())
                            for m in summary["status_months_dropped"]))
    if summary["status_months_held"]:
        console.print("  保留 held past the period (loans with a record still kept): "
                      + "; ".join(f"{m['month']}: {m['holding_loans']}" for m in summary["status_months_held"]))
