"""Early-warning alerts (风险预警) and collection-conduct findings, read from the marts.

Each lender reads only its own alerts: `lender_alerts` filters on the lender, and `export_alerts`
writes one lender's alerts to exports/<lender>/ from the latest build. The publication step also
publishes them with each feed version (shared.lender_alerts; a lender role reads its own in
shared.v_lender_alerts, a member export holds its own only). The alerts mart never holds
another lender's code; the export keeps to the mart's columns.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from exchange.core.settings import Settings, get_settings

ALERT_COLUMNS = ("alert_type", "alert_type_zh", "borrower_key", "loan_id", "loan_reference", "first_seen_date",
                 "as_of_date", "other_lender_count", "other_lender_categories", "max_dpd_elsewhere", "reason_codes",
                 "evidence_en", "evidence_zh")
"""What a lender receives about its own loans: no other lender's code or loan id is among them."""


def lender_alerts(conn: psycopg.Connection[Any], lender_code: str) -> list[dict[str, Any]]:
    """The lender's own alerts, newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"select {', '.join(ALERT_COLUMNS)} from marts.mart_lender_alerts where lender_code = %s"
            " order by first_seen_date desc, alert_type, loan_id", (lender_code,)).fetchall()


def export_alerts(conn: psycopg.Connection[Any], lender_code: str, settings: Settings | None = None) -> Path:
    """Write the lender's alerts to exports/<lender>/alerts_<as_of>.csv (UTF-8 with BOM for Excel)."""
    settings = settings or get_settings()
    rows = lender_alerts(conn, lender_code)
    as_of = max((r["as_of_date"] for r in rows), default=None)
    target = settings.exports / lender_code / f"{lender_code}_alerts_{as_of:%Y%m%d}.csv" if as_of else \
        settings.exports / lender_code / f"{lender_code}_alerts_none.csv"
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
