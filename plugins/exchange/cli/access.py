"""Commands for access: tokens, look-ups, disputes, data-subject reports, the web server.

The exchange.access modules load psycopg, which alone costs more start-up than the rest of
`exchange --help`, so the commands import them when they run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from exchange.cli.output import console, print_json, print_rows
from exchange.core.errors import ExchangeError
from exchange.core.identifiers import Pseudonymizer, check_id, load_pseudonymizer, normalise
from exchange.core.registry import lender_status
from exchange.core.settings import get_settings

if TYPE_CHECKING:
    import psycopg

ID_TYPES = click.Choice(["RESIDENT_ID", "USCC", "PASSPORT"])


def _conn() -> psycopg.Connection:
    from exchange.core import db  # heavy: psycopg

    db.up()
    return db.connect(autocommit=True)


def _borrower_key(id_type: str, id_number: str) -> tuple[Pseudonymizer, str]:
    """The pseudonymizer and the borrower key of a checked ID number (the number itself is not kept)."""
    value = normalise(id_type, id_number)
    if check_id(id_type, value) is not None:
        raise ExchangeError("Q_ID", "证件号码无效 / the ID number is not valid")
    pseudonymizer = load_pseudonymizer(get_settings().state_dir)
    return pseudonymizer, pseudonymizer.borrower_key(id_type, value)


# ---- tokens -------------------------------------------------------------------------------------


@click.group("tokens")
def tokens_group() -> None:
    """API and portal tokens (接口令牌): issued once, stored hashed."""


@tokens_group.command("issue")
@click.option("--lender", "lender_code", default=None, help="the lender the token belongs to")
@click.option("--association", is_flag=True, help="a token for the association instead of a lender")
@click.option("--analyst", is_flag=True, help="a portal login for an analyst: dashboards and model docs only")
@click.option("--label", default="", help="free text, e.g. who holds it")
def tokens_issue(lender_code: str | None, association: bool, analyst: bool, label: str) -> None:
    """Print a new token (shown once: hand it over securely)."""
    from exchange.access import tokens as access

    if [bool(lender_code), association, analyst].count(True) != 1:
        raise click.UsageError("give exactly one of --lender CODE, --association or --analyst")
    with _conn() as conn:
        token_id, token = access.issue_token(conn, lender_code=lender_code, label=label, analyst=analyst)
    holder = lender_code or ("analyst" if analyst else "association")
    console.print(f"令牌 token {token_id} ({holder}); 仅显示一次 shown once:", highlight=False)
    click.echo(token)


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@click.option("--reason", required=True)
def tokens_revoke(token_id: int, reason: str) -> None:
    from exchange.access import tokens as access

    with _conn() as conn:
        access.revoke_token(conn, token_id, reason)
    console.print(f"已吊销 revoked: {token_id}")


@tokens_group.command("list")
@click.option("--lender", "lender_code", default=None)
@click.option("--json", "as_json", is_flag=True)
def tokens_list(lender_code: str | None, as_json: bool) -> None:
    from exchange.access import tokens as access

    with _conn() as conn:
        rows = access.list_tokens(conn, lender_code)
    if as_json:
        print_json(rows)
    else:
        print_rows(rows)


# ---- look-up --------------------------------------------------------------------------------------


@click.command("lookup")
@click.option("--as", "as_lender", required=True, help="the lender asking (its code)")
@click.option("--id-type", required=True, type=ID_TYPES)
@click.option("--id", "id_number", required=True, help="the applicant's ID number (never stored)")
@click.option("--purpose", default=None, help="loan_application, credit_limit_review, post_loan_management, guarantee_review")
@click.option("--consent", "consent_ref", default=None, help="the applicant's consent reference (查询授权书编号)")
@click.option("--json", "as_json", is_flag=True)
def lookup_cmd(as_lender: str, id_type: str, id_number: str, purpose: str | None, consent_ref: str | None,
               as_json: bool) -> None:
    """Look up an applicant as a lender would (audited like an API look-up)."""
    from exchange.access import lookup as lk
    from exchange.access.tokens import Caller

    give_to_get = lk.GiveToGet.from_env()
    req = lk.LookupRequest(id_type, id_number, purpose, consent_ref)
    with _conn() as conn:
        if lender_status(conn, as_lender) != "active":
            raise ExchangeError("L_UNKNOWN", f"no active lender {as_lender}")
        who = Caller("lender", as_lender, 0)
        checked = None
        try:
            checked = lk.check_request(req, load_pseudonymizer(get_settings().state_dir))
            give_to_get.check(conn.execute(lk.G2G_SQL, (as_lender,)).fetchone())
            answer = lk.lookup(conn, who, checked, "cli")
        except lk.LookupRefused as refusal:
            lk.audit_refusal(conn, who, "cli", refusal, checked, req)
            console.print(f"[red]拒绝 Refused[/red] [{refusal.code}] {refusal.zh} / {refusal.en}")
            sys.exit(3)
    if as_json:
        print_json(answer)
        return
    console.print(f"{answer['summary']['message_zh']} {answer['summary']['message_en']}")
    console.print(f"查询编号 look-up {answer['lookup_id']}, 版本 version {answer['feed_version']}")
    for r in answer["blacklist"].get("reasons", []):
        console.print(f"  {r['code']} {r['message_zh']} / {r['message_en']}")
    if answer["default_episodes"]:
        print_rows([{k: e[k] for k in ("reporting_lender", "product_type", "default_date", "max_dpd",
                                       "amount_at_default", "status", "end_date", "disputed")}
                    for e in answer["default_episodes"]])
    signals = answer["signals"]
    console.print(f"{signals['message_zh']} / {signals['message_en']}"
                  + (f" (信号日期 signal date {signals['signal_date']})" if signals["signal_date"] else ""))
    for f in signals["flags"]:
        console.print(f"  ! {f['label_zh']}：{f['rule_zh']} / {f['label_en']}: {f['rule_en']}")
    for f in [*signals["figures"], *signals["inquiries"]]:
        console.print(f"  {f['label_zh']} / {f['label_en']}: {f['value']}")


# ---- disputes -------------------------------------------------------------------------------------


@click.group("disputes")
def disputes_group() -> None:
    """Disputes (异议) over listings, default episodes and phone links; 20-day limit."""


@disputes_group.command("open")
@click.option("--id-type", required=True, type=ID_TYPES)
@click.option("--id", "id_number", required=True)
@click.option("--record", default="listing", show_default=True,
              help="'listing', 'phone_link' (the phone one loan reported), or the loan_ref of a default episode")
@click.option("--lender", "lender_code", default=None,
              help="with --loan-id: the episode's (or phone link's) loan by lender and contract number")
@click.option("--loan-id", default=None)
@click.option("--loan-ref", default=None, help="a phone link's loan by its loan reference")
@click.option("--phone", default=None,
              help="a phone link: the contested mobile number when the loan reported several (hashed at once, never stored)")
@click.option("--as", "as_lender", default=None, help="opened by this (reporting) lender instead of the association")
@click.option("--reason-code", default=None, help="a listing dispute on one reason only (B1, B2, ...)")
@click.option("--reason", required=True)
def disputes_open(id_type: str, id_number: str, record: str, lender_code: str | None, loan_id: str | None,
                  loan_ref: str | None, phone: str | None, as_lender: str | None, reason_code: str | None,
                  reason: str) -> None:
    """Open a dispute for a data subject; it marks the record from the next version."""
    from exchange.access import disputes
    from exchange.access.tokens import Caller

    pseudonymizer, key = _borrower_key(id_type, id_number)
    who = Caller("lender", as_lender, 0) if as_lender else Caller("association", None, 0)
    if lender_code and loan_id and record != "phone_link":
        record = "default_episode"
    with _conn() as conn:
        d = disputes.open_dispute(conn, who, key, record, reason, pseudonymizer, lender_code=lender_code,
                                  loan_id=loan_id, reason_code=reason_code, loan_ref=loan_ref, phone=phone)
    console.print(f"异议已登记 dispute {d['dispute_id']} opened ({d['record_kind']}); 处理期限 deadline {d['deadline']}")


@disputes_group.command("list")
@click.option("--status", type=click.Choice(["open", "upheld", "rejected", "withdrawn"]), default=None)
@click.option("--lender", "lender_code", default=None, help="only disputes on this lender's records")
@click.option("--json", "as_json", is_flag=True)
def disputes_list(status: str | None, lender_code: str | None, as_json: bool) -> None:
    """Disputes newest first; overdue ones (open past the 20-day deadline) are flagged."""
    from exchange.access import disputes
    from exchange.access.tokens import Caller

    who = Caller("lender", lender_code, 0) if lender_code else None
    with _conn() as conn:
        rows = disputes.list_disputes(conn, who, status=status)
    if as_json:
        print_json(rows)
        return
    table = Table("#", "record", "lender", "opened", "deadline", "days left", "status", "reason")
    for d in rows:
        left = "[red]OVERDUE 已超期[/red]" if d["overdue"] else ("" if d["days_left"] is None else str(d["days_left"]))
        table.add_row(str(d["dispute_id"]), d["record_kind"], d["lender_code"] or "", f"{d['opened_at']:%Y-%m-%d}",
                      str(d["deadline"]), left, f"{d['status_zh']} {d['status']}",
                      d["resolution_reason"] or d["opened_reason"] or "")
    console.print(table)


@disputes_group.command("resolve")
@click.argument("dispute_id", type=int)
@click.option("--outcome", required=True, type=click.Choice(["upheld", "rejected", "withdrawn"]))
@click.option("--reason", required=True)
def disputes_resolve(dispute_id: int, outcome: str, reason: str) -> None:
    """Upheld: the record is removed and corrected in the next version. Rejected or withdrawn: the mark ends."""
    from exchange.access import disputes

    with _conn() as conn:
        d = disputes.resolve(conn, None, dispute_id, outcome, reason)
    console.print(f"异议 {d['dispute_id']}: {d['status_zh']} {d['status']}; 下次转换并发布后生效 takes effect in the"
                  " next version, after the transform runs (exchange pipeline)")


# ---- data-subject report ----------------------------------------------------------------------------


@click.command("report")
@click.option("--id-type", required=True, type=ID_TYPES)
@click.option("--id", "id_number", required=True)
@click.option("--html", "html_out", type=click.Path(path_type=Path), default=None, help="also write the HTML page here")
def report_cmd(id_type: str, id_number: str, html_out: Path | None) -> None:
    """本人信用报告: everything the exchange holds about one person, as JSON (and HTML)."""
    from exchange.access import report
    from exchange.web.render import report_html  # heavy: jinja2 templates

    _, key = _borrower_key(id_type, id_number)
    with _conn() as conn:
        data = report.build(conn, key, id_type)
    if html_out:
        html_out.write_text(report_html(data), encoding="utf-8")
    print_json(data)


# ---- serve -----------------------------------------------------------------------------------------


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
def serve_cmd(host: str, port: int) -> None:
    """The API (/v1, OpenAPI at /openapi.json) and the portal (/portal)."""
    from exchange.core import db  # heavy: psycopg
    from exchange.web.app import serve  # heavy: FastAPI and uvicorn

    db.up()
    console.print(f"门户 Portal: http://{host}:{port}/portal   API: http://{host}:{port}/v1   "
                  f"OpenAPI: http://{host}:{port}/openapi.json")
    serve(host, port)
