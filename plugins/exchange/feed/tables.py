"""The published tables: where each version's rows live in the shared zone, their columns and order.

The association's view is the whole row (these columns, lender codes and source rows included).
What a member sees is not written here: it is the member views of migration 0012
(``MEMBER_VIEWS``), read by the member exports and the look-up alike.
"""

from __future__ import annotations

from exchange.feed.alerts import ALERT_COLUMNS

BLACKLIST_COLUMNS = [
    "borrower_key", "borrower_type", "reason_codes", "first_listed_date", "lenders_count", "total_overdue", "max_dpd",
    "notice_date", "disputed", "dispute_deadline", "source_submission_id", "source_line",
]
DEFAULT_FEED_COLUMNS = [
    "loan_ref", "default_episode_no", "borrower_key", "lender_code", "lender_category", "product_type",
    "default_date", "max_dpd", "amount_at_default", "episode_status", "end_date", "purge_date", "notice_date",
    "disputed", "source_submission_id", "source_line",
]
LENDER_ALERT_COLUMNS = ["alert_key", "lender_code", "loan_ref", *(c for c in ALERT_COLUMNS if c != "loan_id")]
"""Published alerts: the contract number replaced by the loan reference (HMAC), as in the default feed."""
LISTING_REASON_COLUMNS = ["reason_code", "rules_version", "reason_zh", "reason_en"]
"""The reasons in force with their texts (rule table rules.rule_listing_reasons), exported with each version."""
HELD_COLUMNS = [
    "lender_code", "borrower_key", "loan_ref", "record_kind", "default_episode_no", "reason_code", "hold_reason",
    "default_date", "notice_date", "source_submission_id", "source_line",
]
BORROWER_SIGNAL_COLUMNS = [
    "borrower_key", "signal_date", "phones_1m", "phones_3m", "phones_6m", "phones_12m", "keys_per_phone_1m",
    "keys_per_phone_3m", "keys_per_phone_6m", "keys_per_phone_12m", "days_since_link_change", "is_phone_shared",
    "name_hashes", "is_identity_mismatch", "stacking_lenders", "stacking_new_principal", "is_loan_stacking",
    "surge_lenders", "first_payment_default_lenders", "is_bust_out", "open_lenders", "total_outstanding",
    "overdue_lenders_6m", "is_phone_link_disputed",
]
"""Published borrower signals (publication.pub_borrower_signals_candidates): counts and flags per key, no lender."""
SIGNAL_RULE_COLUMNS = ["parameter", "rules_version", "value", "unit"]
"""The fraud-signal rules in force (rules.rule_fraud_signals), published with each version for the look-up."""
TABLES = {
    "blacklist": ("shared.blacklist_rows", BLACKLIST_COLUMNS, "borrower_key"),
    "default_feed": ("shared.default_feed_rows", DEFAULT_FEED_COLUMNS, "loan_ref, default_episode_no"),
    "lender_alerts": ("shared.lender_alerts_versions", LENDER_ALERT_COLUMNS, "alert_key"),
    "listing_reasons": ("shared.listing_reason_rows", LISTING_REASON_COLUMNS, "reason_code"),
}
"""The exported tables: name -> (shared table, columns, order)."""
VERSION_TABLES = {**TABLES, "held": ("shared.held_record_rows", HELD_COLUMNS, "lender_code, borrower_key"),
                  "borrower_signals": ("shared.borrower_signal_rows", BORROWER_SIGNAL_COLUMNS, "borrower_key"),
                  "signal_rules": ("shared.signal_rule_rows", SIGNAL_RULE_COLUMNS, "parameter")}
"""Every table holding a version's rows (staged, purged and dropped together): the exported ones,
and those never exported: the records held back from members, and the borrower signals with
their rules, which a member reads one key at a time through the look-up only."""
ROW_TABLES = tuple(table for table, _, _ in VERSION_TABLES.values())

MEMBER_VIEWS = {
    "blacklist": ("shared.member_blacklist", "borrower_key", False),
    "default_feed": ("shared.member_default_feed", "loan_ref, default_episode_no", True),
    "lender_alerts": ("shared.member_lender_alerts", "alert_key", True),
    "listing_reasons": ("shared.listing_reason_rows", "reason_code", False),
    "held": ("shared.member_held_records", "borrower_key", True),
}
"""Where a member's copy of each table is read: name -> (relation, order, per member). The member
views of migration 0012; the reasons' texts hold no lender and every member reads them whole. A
view per member holds each member's rows under its viewing_lender; the others are the same for
every member."""

COLUMN_TYPES = {
    "disputed": "bool",
    "first_listed_date": "date", "notice_date": "date", "dispute_deadline": "date", "default_date": "date",
    "end_date": "date", "purge_date": "date", "first_seen_date": "date", "as_of_date": "date",
    "lenders_count": "int", "max_dpd": "int", "source_submission_id": "int", "source_line": "int",
    "default_episode_no": "int", "other_lender_count": "int", "max_dpd_elsewhere": "int",
    "total_overdue": "numeric", "amount_at_default": "numeric",
}
"""The Parquet type of each typed column; every other column is text."""
