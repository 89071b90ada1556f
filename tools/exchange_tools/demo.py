"""`exchange demo`: the main job end to end on generated data, and the report it ends with.

Generate 5 lenders x 13 months, register the lenders, submit every file, run the pipeline, then
print what an operator would look at: submissions per lender, the standardized portfolio, alerts
and collection-conduct findings, and the published feed. The first run fixes the period, so a
rerun regenerates the same bytes and the exchange finds every file already received.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from exchange.access.logins import add_analyst, list_analysts, remove_analyst
from exchange.cli.feed import print_live
from exchange.cli.output import console, print_rows
from exchange.cli.pipeline import run_and_report
from exchange.core import audit
from exchange.core import db as database
from exchange.core.settings import get_settings
from exchange.feed.alerts import alert_counts, conduct_findings
from exchange.feed.versions import live_version
from exchange.intake import lenders
from exchange.intake.ingest import submit
from exchange.intake.submissions import summary_by_lender
from exchange_tools.synthetic.progress import generate_with_progress, last_month_end

DEMO = {"lenders": 5, "months": 13, "loans": 2000, "seed": 2026, "error_rate": 0.01}
"""The demo's scale, also the demo scale of `exchange bench transform`."""


def run_demo() -> None:
    started = time.monotonic()
    settings = get_settings()
    url = database.up()
    end = demo_period_end(settings.state_dir)
    out = settings.state_dir / "demo" / "generated"
    shutil.rmtree(out, ignore_errors=True)  # the demo's own scratch copy; the same bytes come back
    console.print(f"1/4 生成模拟机构数据 generating {DEMO['lenders']} lenders x {DEMO['months']} months -> {out}")
    result = generate_with_progress(console, out, DEMO["lenders"], DEMO["months"], DEMO["loans"], DEMO["seed"],
                                    DEMO["error_rate"], end)
    console.print("2/4 登记机构 registering lenders")
    with database.connect(autocommit=True) as conn:
        for lender in result.lenders:
            lenders.add(conn, lender.code, lender.name_zh, lender.category)
    console.print("3/4 报送文件 submitting files to the landing zone")
    queued = refused = already = 0
    for path in result.files:
        lender_code = path.name.split("_", 1)[0]
        for r in submit(lender_code, [path], settings):
            if r.accepted_for_processing:
                queued += 1
            elif r.code == "F_DUPLICATE":
                already += 1
            else:
                refused += 1
                console.print(f"   ✗ {r.file}: {r.code} {r.message}")
    console.print(f"   queued {queued}, already received {already}, refused {refused}")
    console.print("4/4 ", end="")
    run_and_report(None, False, False, only=("exchange_ingest",))
    with database.connect(autocommit=True) as conn:
        backdated = backdate_arrivals(conn, [lender.code for lender in result.lenders])
    console.print(f"   demo: {backdated} arrivals backdated to their reporting month (演示：按报送期回填接收时间)")
    run_and_report(None, False, False)
    with database.connect() as conn:
        _print_report(conn)
    with database.connect(autocommit=True) as conn:
        analyst = _analyst_login(conn, url, settings.state_dir)
    console.print(f"\n完成 done in {time.monotonic() - started:.0f}s. 连接数据库 Connect: psql \"{url}\"  "
                  f"(or `exchange db url`); feedback files: {settings.feedback}/<lender>/")
    console.print("门户 Portal and API: `exchange serve` (`exchange tokens issue --lender CODE` for a login), "
                  "then http://127.0.0.1:8000/portal")
    console.print(f"分析人员账号 Analyst login (marts only): psql \"$(cat {analyst})\"  (docs/analyst-guide.md);"
                  " portal dashboards: `exchange tokens issue --analyst`")


def demo_period_end(state_dir: Path) -> dt.date:
    """The last month-end of the demo's data: fixed by the first run (in state_dir/demo.json), so a
    rerun regenerates the same bytes and the exchange finds every file already received.
    state_dir may not exist yet: nothing else creates it when a database URL is given."""
    state_file = state_dir / "demo.json"
    if not state_file.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        state_file.write_text(json.dumps({"end": last_month_end().isoformat()}))
    return dt.date.fromisoformat(json.loads(state_file.read_text())["end"])


def backdate_arrivals(conn: psycopg.Connection[Any], lender_codes: list[str]) -> int:
    """Give the demo's files the arrival times a real year would have had.

    The demo sends thirteen months of files in one minute, so every month would read as late.
    Each file is given an arrival a few days after its reporting date instead: 3 to 12 days for
    most lender-months, 16 to 25 days (after the 15-day deadline) for about one in five of the last
    lender's months, 10:00 Beijing time, never later than now. Derived from the lender and date
    only, so a rerun gives the same times; recorded in the audit log as a demo action. Run after
    ingest and before the transform (which judges timeliness).
    """
    with conn.transaction():
        changed = conn.execute("""
            update control.submissions s
            set received_at = least(now(), ((s.as_of_date + lag.days) + time '10:00') at time zone 'Asia/Shanghai')
            from (
                select submission_id,
                       case when lender_code = %(late)s and abs(hashtext(lender_code || as_of_date::text)) %% 5 = 0
                            then 16 + abs(hashtext(as_of_date::text || lender_code)) %% 10
                            else 3 + abs(hashtext(as_of_date::text || lender_code)) %% 10 end as days
                from control.submissions
                where lender_code = any(%(lenders)s) and as_of_date is not null
            ) lag
            where s.submission_id = lag.submission_id""", {"late": max(lender_codes), "lenders": lender_codes}).rowcount
        audit.record(conn, "demo_arrivals_backdated", "demo", {"lenders": lender_codes, "submissions": changed})
    return changed


def _analyst_login(conn: psycopg.Connection[Any], url: str, state_dir: Path) -> Path:
    """The demo's analyst login `analyst_demo`, its connection string kept in a 0600 file under
    .exchange/ so a rerun prints it again (the password is shown once, then only the file has it)."""
    path = state_dir / "analyst_demo.conninfo"
    if path.exists() and any(r["role"] == "analyst_demo" for r in list_analysts(conn)):
        return path
    remove_analyst(conn, "demo")
    login = add_analyst(conn, "demo", url)
    path.touch(mode=0o600)
    path.write_text(login.conninfo + "\n", encoding="utf-8")
    return path


def _print_report(conn: psycopg.Connection[Any]) -> None:
    console.print("\n各机构报送情况 Submissions per lender")
    print_rows(summary_by_lender(conn))
    console.print("\n标准化资产质量 Standardized portfolio (latest reporting month)")
    print_rows([{"lender": r["lender_code"], "month": f"{r['report_month']:%Y-%m}", "loans 笔数": f"{r['loans']:,}",
                 "outstanding 余额": f"{r['outstanding']:,.2f}", "M1+ 逾期率": _percent(r["m1_plus_ratio"]),
                 "NPL 不良率": _percent(r["npl_ratio"])} for r in portfolio_summary(conn)])
    console.print("\n风险预警 Early-warning alerts per lender (each lender sees only its own: `exchange alerts --lender CODE`)")
    print_rows(alert_counts(conn))
    console.print("\n催收行为问题 Collection conduct findings (per lender and rule; months flagged)")
    print_rows([{"lender": f["lender_code"], "rule": f["rule_code"], "severity": f["severity"],
                 "months": f["months"], "period": f"{f['first_month']:%Y-%m}..{f['last_month']:%Y-%m}",
                 "affected": f["affected"], "worst": f["worst_value"], "threshold": f["threshold"],
                 "rule text": f["rule"]} for f in conduct_findings(conn)])
    console.print("\n欺诈与共债信号 Fraud and multi-lending signals (keys flagged at the latest signal date;"
                  " marts.mart_borrower_signals, analyst guide section 9)")
    print_rows(signal_counts(conn))
    console.print("\n共享信息发布 Published feed")
    print_live(live_version(conn))


_SIGNAL_COUNTS_SQL = """
select
    signal_date,
    count(*) filter (where is_phone_shared)::integer as phone_sharing,
    count(*) filter (where is_identity_mismatch)::integer as identity_mismatch,
    count(*) filter (where is_loan_stacking)::integer as loan_stacking,
    count(*) filter (where is_bust_out)::integer as bust_out,
    count(*) filter (where open_lenders >= 2)::integer as co_debt_2_plus,
    count(distinct cluster_id)::integer as phone_clusters
from marts.mart_borrower_signals
where signal_date = (select max(signal_date) from marts.mart_borrower_signals)
group by signal_date
"""


def signal_counts(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Keys carrying each fraud signal at the latest signal date (co-debt: open at two or more
    lenders), and the number of phone clusters."""
    with conn.cursor(row_factory=dict_row) as cur:
        return [{**r, "signal_date": f"{r['signal_date']:%Y-%m-%d}"} for r in cur.execute(_SIGNAL_COUNTS_SQL)]


def _percent(ratio: Decimal | None) -> str:
    return "" if ratio is None else f"{ratio:.2%}"


_PORTFOLIO_SUMMARY_SQL = """
with latest as (
    select lender_code, max(report_month) as report_month
    from marts.mart_portfolio_quality
    group by lender_code
)
select
    quality.lender_code,
    quality.report_month,
    sum(quality.active_loans)::integer as loans,
    sum(quality.outstanding_principal) as outstanding,
    round(sum(quality.m1_plus_balance) / nullif(sum(quality.outstanding_principal), 0), 6) as m1_plus_ratio,
    round(sum(quality.npl_balance) / nullif(sum(quality.outstanding_principal), 0), 6) as npl_ratio
from marts.mart_portfolio_quality as quality
join latest
    on latest.lender_code = quality.lender_code
    and latest.report_month = quality.report_month
group by quality.lender_code, quality.report_month
order by quality.lender_code
"""


def portfolio_summary(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Per lender at its latest reporting month: active loans, outstanding principal, M1+ ratio
    (balance at DPD >= 1 over outstanding) and NPL ratio (不良率, 次级+可疑+损失 over outstanding).

    Ratios are Decimal (None for an empty book); `report_month` is the month's first day.
    """
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_PORTFOLIO_SUMMARY_SQL).fetchall()
    return [
        {
            "lender_code": row["lender_code"],
            "report_month": row["report_month"],
            "loans": row["loans"],
            "outstanding": row["outstanding"] or Decimal(0),
            "m1_plus_ratio": row["m1_plus_ratio"],
            "npl_ratio": row["npl_ratio"],
        }
        for row in rows
    ]
