"""The publication candidates (schema ``publication``, built by dbt), as a version would hold them.

dbt decides what is publishable (int_episode_publishability, int_listing_reasons) and writes the
candidates; here the lender and contract number are replaced by the loan reference (HMAC with
the exchange's secret, computed here so that the secret never reaches dbt, its logs or its
compiled SQL), the rows are put in export order, fingerprinted and counted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row

from exchange.core.errors import ExchangeError
from exchange.core.identifiers import Pseudonymizer, load_pseudonymizer
from exchange.core.settings import Settings
from exchange.feed.exports import cell_text, render_csv, sort_by_text
from exchange.feed.tables import (
    BLACKLIST_COLUMNS,
    BORROWER_SIGNAL_COLUMNS,
    DEFAULT_FEED_COLUMNS,
    HELD_COLUMNS,
    LENDER_ALERT_COLUMNS,
    LISTING_REASON_COLUMNS,
    SIGNAL_RULE_COLUMNS,
    VERSION_TABLES,
)

CANDIDATE_TABLES = ("pub_blacklist_candidates", "pub_default_feed_candidates", "pub_held_records",
                    "pub_listing_reason_texts", "pub_lender_alerts_candidates", "pub_borrower_signals_candidates",
                    "pub_signal_rules")
SIGNAL_FLAGS = ("is_phone_shared", "is_identity_mismatch", "is_loan_stacking", "is_bust_out")
"""The flag columns of the borrower signals, counted per version."""


@dataclass
class Candidates:
    """What the next version would hold: rows per table of VERSION_TABLES, in export order."""

    as_of: date | None
    rows: dict[str, list[dict[str, Any]]]

    def fingerprint(self) -> str:
        """SHA-256 over the rows as exported, with the as-of date: the same content is never published twice."""
        digest = hashlib.sha256(f"as_of={cell_text(self.as_of)}\n".encode())
        for name, (_, columns, _) in VERSION_TABLES.items():
            digest.update(f"--{name}\n".encode())
            digest.update(render_csv(columns, self.rows[name]))
        return digest.hexdigest()

    def counts(self) -> dict[str, Any]:
        """Rows per table, and per reason, status and type as the rows carry them (nothing written out here)."""
        rows = self.rows
        return {"blacklist": len(rows["blacklist"]), "default_feed": len(rows["default_feed"]),
                "held": len(rows["held"]), "held_by_reason": _tally(rows["held"], "hold_reason"),
                "blacklist_by_reason": _tally(rows["blacklist"], "reason_codes"),
                "default_feed_by_status": _tally(rows["default_feed"], "episode_status"),
                "disputed": sum(1 for r in rows["blacklist"] if r["disputed"]),
                "lender_alerts": len(rows["lender_alerts"]),
                "lender_alerts_by_type": _tally(rows["lender_alerts"], "alert_type"),
                "borrower_signals": len(rows["borrower_signals"]),
                "borrower_signals_by_flag": {flag: sum(1 for r in rows["borrower_signals"] if r[flag])
                                             for flag in SIGNAL_FLAGS}}


def _tally(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    """Rows per value of `key` (a comma-separated list counts once for each of its values)."""
    counts: dict[str, int] = {}
    for r in rows:
        for value in str(r[key]).split(","):
            counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def _fetch(conn: psycopg.Connection, sql: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql).fetchall()


def _with_loan_ref(conn: psycopg.Connection, pseudo: Pseudonymizer, sql: str,
                   columns: list[str]) -> list[dict[str, Any]]:
    """The rows of `sql` in `columns`, with loan_ref in place of the contract number."""
    out = []
    for row in _fetch(conn, sql):
        row["loan_ref"] = pseudo.loan_ref(row["lender_code"], row["loan_id"])
        out.append({c: row[c] for c in columns})
    return out


def read(conn: psycopg.Connection, settings: Settings) -> Candidates:
    """Publishable blacklist, default-feed and alert rows, the reasons' texts, the held records, and the
    borrower signals with the signal rules in force."""
    for table in CANDIDATE_TABLES:
        if not conn.execute("select to_regclass(%s)", (f"publication.{table}",)).fetchone()[0]:
            raise ExchangeError("P_NO_CANDIDATES", f"publication.{table} does not exist: run the transform (dbt) first")
    pseudo = load_pseudonymizer(settings.state_dir)
    blacklist = _fetch(conn, f"select {', '.join(BLACKLIST_COLUMNS)} from publication.pub_blacklist_candidates"
                             " order by borrower_key")
    feed = _with_loan_ref(conn, pseudo, "select * from publication.pub_default_feed_candidates", DEFAULT_FEED_COLUMNS)
    feed.sort(key=lambda r: (r["loan_ref"], r["default_episode_no"]))
    held = sort_by_text(HELD_COLUMNS,
                        _with_loan_ref(conn, pseudo, "select * from publication.pub_held_records", HELD_COLUMNS))
    reasons = _fetch(conn, f"select {', '.join(LISTING_REASON_COLUMNS)} from publication.pub_listing_reason_texts"
                           " order by reason_code")
    as_of = conn.execute("select max(publication_as_of) from publication.pub_default_feed_candidates").fetchone()[0]
    if as_of is None:
        as_of = conn.execute(  # the latest complete status file (a partial one moves no reporting date)
            "select max(as_of_date) from control.submissions where kind = 'loan_status' and not is_partial"
            " and verdict in ('accepted', 'accepted_with_errors') and superseded_by is null").fetchone()[0]
    alerts = _with_loan_ref(conn, pseudo, "select * from publication.pub_lender_alerts_candidates order by alert_key",
                            LENDER_ALERT_COLUMNS)
    signals = _fetch(conn, f"select {', '.join(BORROWER_SIGNAL_COLUMNS)}"
                           " from publication.pub_borrower_signals_candidates order by borrower_key")
    signal_rules = _fetch(conn, f"select {', '.join(SIGNAL_RULE_COLUMNS)} from publication.pub_signal_rules"
                                " order by parameter")
    return Candidates(as_of, {"blacklist": blacklist, "default_feed": feed, "lender_alerts": alerts,
                              "listing_reasons": reasons, "held": held, "borrower_signals": signals,
                              "signal_rules": signal_rules})
