"""Publication (发布): candidates -> staged version -> quality gate -> one switch -> exports.

1. ``stage_and_gate`` reads the dbt candidates (exchange.feed.candidates) and fingerprints them.
   The same content as the live version is not published again (idempotent re-runs). Otherwise
   the candidates get a version number (exchange.feed.versions), the GX gate runs over the raw
   batch since the live version and over the candidates (exchange.feed.quality_gate), and the
   rows are written under that number. A failed gate marks the version ``failed``, keeps the live
   one, and raises GateFailed naming the failed expectations.
2. ``publish_version`` writes exports/<version>/ once (exchange.feed.exports), then in ONE
   transaction switches shared.live_version to the new version and purges what retention
   requires (exchange.feed.retention) and the versions no longer kept.
3. ``approve`` is the only way past a failed gate: the association names the version and a
   reason; it is recorded, then published. A failure of a clear-identifier check
   (no_clear_identifier) cannot be approved: personal identities never leave the archive,
   whoever says so.

Early-warning alerts (风险预警) are published with each version like the blacklist and the
default feed. Every published row comes from a publishable record (dbt decides it once, in
int_episode_publishability and int_listing_reasons). Held records - no notice on or after the
delinquency began (pending_notice), missing from the lender's files (unreported), corrected by an
upheld dispute (dispute_upheld) - are never published: they are kept in shared.held_record_rows
for the reporting lender and the association, and written to
feedback/<lender>/held_records_v<version>.csv. The reasons' texts are published with each version
(shared.listing_reason_rows) from the one rule table, rules.rule_listing_reasons.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from exchange.core import db
from exchange.core.clock import local_today
from exchange.core.errors import ExchangeError
from exchange.core.settings import Settings, get_settings
from exchange.feed import candidates, versions
from exchange.feed.exports import build_exports, held_feedback
from exchange.feed.quality_gate import GateResult, gate_failed, never_approvable, run_gate
from exchange.feed.retention import purge_shared


@dataclass
class Staged:
    version: int | None
    as_of: date | None
    content_sha256: str
    unchanged: bool = False
    counts: dict[str, Any] = field(default_factory=dict)
    gate: GateResult | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "as_of": str(self.as_of), "content_sha256": self.content_sha256,
                "unchanged": self.unchanged, "counts": self.counts,
                "gate": self.gate.as_dict() if self.gate else None}


def stage_and_gate(*, settings: Settings | None = None, today: date | None = None) -> Staged:
    """Stage the candidates as a version and run the gate; raises GateFailed when it fails."""
    settings = settings or get_settings()
    today = today or date.today()
    with db.connect(autocommit=True) as conn:
        found = candidates.read(conn, settings)
        content = found.fingerprint()
        counts = found.counts()
        live = versions.live_version(conn)
        if live and live["content_sha256"] == content:
            return Staged(live["version"], found.as_of, content, unchanged=True, counts=counts)
        version, raw_through = versions.open_version(conn, found, content, counts)

    # the gate first: it judges the candidates whatever they hold
    gate = run_gate(raw_after=live["raw_through_submission_id"] if live else 0, raw_through=raw_through,
                    previous_counts={"blacklist": live["blacklist_rows"], "default_feed": live["default_feed_rows"]}
                    if live else None, today=today, settings=settings, version=version)
    with db.connect(autocommit=True) as conn:
        # a value that looks like a clear identity is never written to the shared zone, not even staged
        if not any(never_approvable(check) for check in gate.failed):
            refused = versions.write_rows(conn, version, found)
            if refused:
                gate.success = False
                gate.failed.append(f"shared_constraint/{refused}")
        with conn.transaction():
            versions.record_gate(conn, version, gate)
    if not gate.success:
        raise gate_failed(version, live["version"] if live else None, gate.failed, gate.data_docs)
    return Staged(version, found.as_of, content, counts=counts, gate=gate)


def publish_version(version: int, *, settings: Settings | None = None, today: date | None = None,
                    approval: dict[str, str] | None = None) -> dict[str, Any]:
    """Export the staged version and make it live in one transaction; purge what retention requires."""
    settings = settings or get_settings()
    today = today or local_today()
    with db.connect(autocommit=True) as conn:
        if versions.check_publishable(conn, version, approved=approval is not None)["status"] == "live":
            return {"version": version, "status": "live", "unchanged": True}
        export_dir = build_exports(conn, version, settings.exports / str(version), settings=settings)
        manifest = json.loads((export_dir / "manifest.json").read_text(encoding="utf-8"))
        checksums = {name: f["sha256"] for name, f in manifest["files"].items()}
        checksums["manifest.json"] = hashlib.sha256((export_dir / "manifest.json").read_bytes()).hexdigest()
        with conn.transaction():
            versions.switch(conn, version, str(export_dir), checksums, approval)
            purged = {**purge_shared(conn, today, settings),
                      "versions_dropped": versions.drop_old_versions(conn, settings)}
        held_feedback(conn, settings, version)
    return {"version": version, "status": "live", "export_dir": str(export_dir), "checksums": checksums,
            "purged": purged}


def run_publication(*, settings: Settings | None = None, today: date | None = None) -> dict[str, Any]:
    """Gate and publish in one call (the CLI's `exchange feed publish`; the DAG runs the two steps as tasks)."""
    staged = stage_and_gate(settings=settings, today=today)
    if staged.unchanged:
        return {**staged.as_dict(), "status": "live"}
    return {**staged.as_dict(), **publish_version(staged.version, settings=settings, today=today)}


def approve(version: int, reason: str, *, by: str | None = None, settings: Settings | None = None,
            today: date | None = None) -> dict[str, Any]:
    """Override a failed gate for `version`, recorded with who, when and why, then publish it."""
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise ExchangeError("P_APPROVAL_REASON", "an approval needs a reason of at least 10 characters")
    by = by or getpass.getuser()
    with db.connect(autocommit=True) as conn:
        state = versions.get(conn, version)
        if state["status"] != "failed":
            raise ExchangeError("P_NOT_FAILED", f"version {version} is {state['status']}: only a failed version "
                                                "needs an approval")
        failed = (state["validation"] or {}).get("failed", [])
        privacy = [check for check in failed if never_approvable(check)]
        if privacy:
            raise ExchangeError("P_NOT_APPROVABLE", "a value that looks like a clear ID, USCC or mobile number, or "
                                                    "one the shared tables refuse, can never be published; fix the "
                                                    f"data first ({', '.join(privacy)})")
        versions.record_approval(conn, version, by, reason, failed)
    return publish_version(version, settings=settings, today=today, approval={"by": by, "reason": reason})


def raise_if_gate_failed(note: str = "") -> None:
    """After a failed publish run: raise GateFailed naming the failed expectations, if the gate failed."""
    with db.connect(autocommit=True) as conn:
        last = versions.latest(conn)
        live = versions.live_version(conn)
    validation = (last or {}).get("validation") or {}
    if validation.get("success") is False:
        raise gate_failed(last["version"], live["version"] if live else None, validation.get("failed", []),
                          validation.get("data_docs", []), note)
