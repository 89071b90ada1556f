"""Early-warning alerts (风险预警) and collection-conduct findings.

A lender's alerts are read from the live feed version (shared.lender_alerts), never from the
latest build: the publication step publishes them with each version, after the quality gate, so
the association's `exchange alerts` export, the portal's alerts tab and the member's copy of the
version's export show the same alerts. The published row carries the loan reference (an HMAC) in
place of the contract number; `with_contract_numbers` gives the lender back its own contract
numbers by referencing its loans of the alerted borrowers. No row names another lender's code or
loan. The association's overview counts read the whole alerts mart (marts.mart_lender_alerts).
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from exchange.core.errors import ExchangeError
from exchange.core.identifiers import load_pseudonymizer
from exchange.core.registry import lender_status
from exchange.core.settings import Settings, get_settings

ALERT_COLUMNS = ("alert_type", "alert_type_zh", "borrower_key", "loan_id", "loan_reference", "first_seen_date",
                 "as_of_date", "other_lender_count", "other_lender_categories", "max_dpd_elsewhere", "reason_codes",
                 "evidence_en", "evidence_zh")
"""What a lender receives about its own loans: no other lender's code or loan id is among them."""


def with_contract_numbers(rows: list[dict[str, Any]], lender_code: str, loan_ids: Iterable[str],
                          loan_ref: Callable[[str, str], str]) -> list[dict[str, Any]]:
    """Each published alert row with `loan_id`, the lender's own contract number: `loan_ids` are the
    lender's loans of the alerted borrowers, referenced with `loan_ref` (Pseudonymizer.loan_ref) and
    matched to the row's loan_ref. None where no loan matches (the loan left the raw zone)."""
    contract = {loan_ref(lender_code, loan_id): loan_id for loan_id in loan_ids}
    for row in rows:
        row["loan_id"] = contract.get(row["loan_ref"])
    return rows


def lender_alerts(conn: psycopg.Connection[Any], lender_code: str,
                  settings: Settings | None = None) -> tuple[int, list[dict[str, Any]]]:
    """(live version, the lender's own alerts of it, newest first, with its contract numbers).

    Raises L_UNKNOWN for a lender not registered and P_NO_VERSION before the first publication."""
    lender_status(conn, lender_code)
    live = conn.execute("select version from shared.live_version").fetchone()
    if live is None:
        raise ExchangeError("P_NO_VERSION", "no version is live yet: alerts are published with each feed version")
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"select loan_ref, {', '.join(c for c in ALERT_COLUMNS if c != 'loan_id')} from shared.lender_alerts"
            " where lender_code = %s order by first_seen_date desc, alert_type, alert_key", (lender_code,)).fetchall()
    loan_ids = [loan_id for (loan_id,) in conn.execute(
        "select distinct loan_id from raw.loans where lender_code = %s and borrower_key = any(%s)",
        (lender_code, list({r["borrower_key"] for r in rows})))]
    loan_ref = load_pseudonymizer((settings or get_settings()).state_dir).loan_ref
    with_contract_numbers(rows, lender_code, loan_ids, loan_ref)
    return live[0], [{c: r[c] for c in ALERT_COLUMNS} for r in rows]


def export_alerts(conn: psycopg.Connection[Any], lender_code: str, settings: Settings | None = None) -> Path:
    """Write the lender's alerts of the live version to exports/<lender>/<lender>_alerts_v<version>.csv
    (UTF-8 with BOM for Excel): the name says which published version it holds."""
    settings = settings or get_settings()
    version, rows = lender_alerts(conn, lender_code, settings)
    target = settings.exports / lender_code / f"{lender_code}_alerts_v{version}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    # a unique temporary name beside the target: two exports of the same lender may run at once
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=ALERT_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        os.chmod(tmp, 0o644)  # as a plain open() would have made it (mkstemp makes 0600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


ALERT_TYPES = ("dpd_30_plus_elsewhere", "default_elsewhere", "blacklisted_elsewhere", "multi_lender_surge",
               "loan_stacking", "bust_out", "phone_shared", "identity_mismatch")
"""The alert kinds of marts.mart_lender_alerts, in the order the association's overview shows them
(the mart's accepted values; the fraud-signal kinds of issue 16 last)."""

_ALERT_COUNTS_SQL = """
select
    lenders.lender_code,
    count(alerts.alert_key) as alerts,
""" + ",\n".join(f"    count(alerts.alert_key) filter (where alerts.alert_type = '{kind}') as {kind}"
                 for kind in ALERT_TYPES) + """
from control.lenders as lenders
left join marts.mart_lender_alerts as alerts
    on alerts.lender_code = lenders.lender_code
group by lenders.lender_code
order by lenders.lender_code
"""

_FINDINGS_SQL = """
select
    lender_code,
    rule_code,
    severity,
    count(*) as months,
    min(report_month) as first_month,
    max(report_month) as last_month,
    sum(affected_count) as affected,
    round(max(metric_value), 4) as worst_value,
    max(threshold) as threshold,
    max(description_en) as rule
from marts.mart_conduct_findings
group by lender_code, rule_code, severity
order by lender_code, rule_code
"""


def alert_counts(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Alerts per lender and type (for the association's overview and the demo)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_ALERT_COUNTS_SQL).fetchall()


def conduct_findings(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Collection-conduct findings per lender and rule: months flagged, what was affected, the worst month."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_FINDINGS_SQL).fetchall()
