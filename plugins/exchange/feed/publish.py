"""Publication (发布): candidates -> staged version -> quality gate -> one switch -> exports.

1. ``stage_and_gate`` reads the dbt candidates (schema ``publication``), replaces lender and
   contract number by the loan reference (HMAC with the exchange's secret, computed here so the
   secret never reaches dbt, its logs or its compiled SQL), renders the rows as the export CSV
   and fingerprints them (``content_sha256``, with the as-of date). The same content as the
   live version is not published again (idempotent re-runs). Otherwise the rows are written
   under a new version number (status ``validating``) and the GX gate runs over the raw batch
   since the live version and over the candidates. A failed gate marks the version ``failed``,
   keeps the live one, and raises GateFailed naming the failed expectations.
2. ``publish_version`` writes exports/<version>/ once (CSV + Parquet per table, manifest.json with
   SHA-256 of every file; built in a new folder and renamed into place), then in ONE transaction
   moves shared.live_version to the new version, marks the previous one superseded and purges what
   retention requires (exchange.feed.retention). Readers of shared.blacklist / shared.default_feed /
   shared.lender_alerts see the old or the new version, never a mix.
3. ``approve`` is the only way past a failed gate: the association names the version and a
   reason; it is recorded in control.feed_approvals and control.audit_log, then published.
   A failure of a clear-identifier check (no_clear_identifier) cannot be approved: personal
   identities never leave the archive, whoever says so.

Early-warning alerts (风险预警, publication.pub_lender_alerts_candidates) are published with each
version like the blacklist and the default feed: shared.lender_alerts for the association, each
lender its own through shared.v_lender_alerts and its member export.

Every published row comes from a publishable record (dbt decides it once, in
int_episode_publishability and int_listing_reasons). Held records - no notice on or after the
delinquency began (pending_notice), missing from the lender's files (unreported), corrected by an
upheld dispute (dispute_upheld) - are never published: they are kept in shared.held_record_rows
for the reporting lender and the association, and written to
feedback/<lender>/held_records_v<version>.csv. The reasons' texts are published with each version
(shared.listing_reason_rows) from the one rule table, rules.rule_listing_reasons.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import io
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from filelock import FileLock
from psycopg.rows import dict_row

from exchange.core.errors import ExchangeError
from exchange.core.identifiers import load_pseudonymizer
from exchange.core.settings import Settings, get_settings
from exchange.feed.alerts import ALERT_COLUMNS
from exchange.feed.quality_gate import GateFailed, GateResult, run_gate, summary
from exchange.feed.retention import beijing_today, drop_exports, purge_shared

KEEP_VERSIONS = 3
"""Versions whose rows stay in the shared tables: the live one and the two before it (for rollback)."""

BLACKLIST_COLUMNS = [
    "borrower_key", "borrower_type", "reason_codes", "first_listed_date", "lenders_count", "total_overdue", "max_dpd", "notice_date", "disputed",
    "dispute_deadline", "source_submission_id", "source_line",
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
TABLES = {
    "blacklist": ("shared.blacklist_rows", BLACKLIST_COLUMNS, "borrower_key"),
    "default_feed": ("shared.default_feed_rows", DEFAULT_FEED_COLUMNS, "loan_ref, default_episode_no"),
    "lender_alerts": ("shared.lender_alerts_versions", LENDER_ALERT_COLUMNS, "alert_key"),
    "listing_reasons": ("shared.listing_reason_rows", LISTING_REASON_COLUMNS, "reason_code"),
}
ROW_TABLES = (*(table for table, _, _ in TABLES.values()), "shared.held_record_rows")
"""Every table holding a version's rows (staged, purged and dropped together)."""
_TYPES = {
    "disputed": "bool",
    "first_listed_date": "date", "notice_date": "date", "dispute_deadline": "date", "default_date": "date",
    "end_date": "date", "purge_date": "date", "first_seen_date": "date", "as_of_date": "date",
    "lenders_count": "int", "max_dpd": "int", "source_submission_id": "int", "source_line": "int",
    "default_episode_no": "int", "other_lender_count": "int", "max_dpd_elsewhere": "int",
    "total_overdue": "numeric", "amount_at_default": "numeric",
}


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


# ---- rendering --------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def render_csv(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    """The export CSV: UTF-8, header row, '\\n' line ends, empty for null, dates ISO, amounts 2 decimals."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_text(row[c]) for c in columns])
    return buf.getvalue().encode("utf-8")


def render_parquet(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = []
    for c in columns:
        kind = _TYPES.get(c, "text")
        fields.append(pa.field(c, {"date": pa.date32(), "int": pa.int64(), "numeric": pa.decimal128(18, 2),
                                   "bool": pa.bool_(), "text": pa.string()}[kind]))
    schema = pa.schema(fields)
    data = {c: [r[c] for r in rows] for c in columns}
    table = pa.Table.from_pydict(data, schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


# ---- candidates -------------------------------------------------------------------------------


def _fetch(conn: psycopg.Connection, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()


def _candidates(conn: psycopg.Connection, settings: Settings) -> tuple[date | None, dict[str, list[dict[str, Any]]]]:
    """Publishable blacklist, default-feed and alert rows, the reasons' texts and the held records, in export order."""
    for table in ("pub_blacklist_candidates", "pub_default_feed_candidates", "pub_held_records",
                  "pub_listing_reason_texts", "pub_lender_alerts_candidates"):
        if not conn.execute("select to_regclass(%s)", (f"publication.{table}",)).fetchone()[0]:
            raise ExchangeError("P_NO_CANDIDATES", f"publication.{table} does not exist: run the transform (dbt) first")
    pseudo = load_pseudonymizer(settings.state_dir)
    blacklist = _fetch(conn, f"select {', '.join(BLACKLIST_COLUMNS)} from publication.pub_blacklist_candidates"
                             " order by borrower_key")
    feed = []
    for row in _fetch(conn, "select * from publication.pub_default_feed_candidates"):
        row["loan_ref"] = pseudo.loan_ref(row["lender_code"], row["loan_id"])
        feed.append({c: row[c] for c in DEFAULT_FEED_COLUMNS})
    feed.sort(key=lambda r: (r["loan_ref"], r["default_episode_no"]))
    held = []
    for row in _fetch(conn, "select * from publication.pub_held_records"):
        row["loan_ref"] = pseudo.loan_ref(row["lender_code"], row["loan_id"])
        held.append({c: row[c] for c in HELD_COLUMNS})
    held.sort(key=lambda r: tuple(_text(r[c]) for c in HELD_COLUMNS))
    reasons = _fetch(conn, f"select {', '.join(LISTING_REASON_COLUMNS)} from publication.pub_listing_reason_texts"
                           " order by reason_code")
    as_of = conn.execute("select max(publication_as_of) from publication.pub_default_feed_candidates").fetchone()[0]
    if as_of is None:
        as_of = conn.execute("select max(as_of_date) from raw.loan_status").fetchone()[0]
    alerts = []
    for row in _fetch(conn, "select * from publication.pub_lender_alerts_candidates order by alert_key"):
        row["loan_ref"] = pseudo.loan_ref(row["lender_code"], row["loan_id"])
        alerts.append({c: row[c] for c in LENDER_ALERT_COLUMNS})
    return as_of, {"blacklist": blacklist, "default_feed": feed, "lender_alerts": alerts,
                   "listing_reasons": reasons, "held": held}


def _fingerprint(as_of: date | None, data: dict[str, list[dict[str, Any]]]) -> str:
    digest = hashlib.sha256(f"as_of={_text(as_of)}\n".encode())
    for name, (_, columns, _) in TABLES.items():
        digest.update(f"--{name}\n".encode())
        digest.update(render_csv(columns, data[name]))
    digest.update(b"--held\n")
    digest.update(render_csv(HELD_COLUMNS, data["held"]))
    return digest.hexdigest()


def _tally(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        for value in str(r[key]).split(","):
            counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def _counts(data: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {"blacklist": len(data["blacklist"]), "default_feed": len(data["default_feed"]),
            "held": len(data["held"]), "held_by_reason": _tally(data["held"], "hold_reason"),
            "blacklist_by_reason": _tally(data["blacklist"], "reason_codes"),
            "default_feed_by_status": _tally(data["default_feed"], "episode_status"),
            "disputed": sum(1 for r in data["blacklist"] if r["disputed"]),
            "lender_alerts": len(data["lender_alerts"]), "lender_alerts_by_type": _tally(data["lender_alerts"], "alert_type")}


def _copy_rows(conn: psycopg.Connection, table: str, version: int, columns: list[str],
               rows: list[dict[str, Any]]) -> None:
    with conn.cursor() as cur, cur.copy(f"copy {table} (version, {', '.join(columns)}) from stdin") as copy:
        for row in rows:
            copy.write_row([version, *[row[c] for c in columns]])


def live_version(conn: psycopg.Connection) -> dict[str, Any] | None:
    rows = _fetch(conn, "select v.* from shared.live_version l join shared.feed_versions v using (version)")
    return rows[0] if rows else None


# ---- stage and gate ---------------------------------------------------------------------------


class _NotStaged(Exception):
    """Rolls back the staging transaction when the version must not be written at all."""


def _never_approvable(failed_check: str) -> bool:
    """A clear identity in the data, or rows the shared tables refuse: no approval can publish these."""
    return "/no_clear_identifier:" in failed_check or failed_check.startswith("shared_constraint/")


def stage_and_gate(*, settings: Settings | None = None, today: date | None = None) -> Staged:
    """Stage the candidates as a version and run the gate; raises GateFailed when it fails."""
    from exchange.core import db

    settings = settings or get_settings()
    today = today or date.today()
    with db.connect(autocommit=True) as conn:
        as_of, data = _candidates(conn, settings)
        content = _fingerprint(as_of, data)
        counts = _counts(data)
        live = live_version(conn)
        if live and live["content_sha256"] == content:
            return Staged(live["version"], as_of, content, unchanged=True, counts=counts)
        with conn.transaction():
            conn.execute("lock table shared.feed_versions in share row exclusive mode")
            latest = _fetch(conn, "select version, status, content_sha256 from shared.feed_versions"
                                  " order by version desc limit 1")
            raw_through = conn.execute("select coalesce(max(submission_id), 0) from control.submissions").fetchone()[0]
            if latest and latest[0]["status"] in ("failed", "validating") and latest[0]["content_sha256"] == content:
                version = latest[0]["version"]  # the same inputs again: validate that version again
                conn.execute("update shared.feed_versions set raw_through_submission_id = %s, status = 'validating'"
                             " where version = %s", (raw_through, version))
            else:
                version = (latest[0]["version"] if latest else 0) + 1
                conn.execute(
                    "insert into shared.feed_versions (version, as_of_date, content_sha256, raw_through_submission_id,"
                    " blacklist_rows, default_feed_rows, held_rows, lender_alerts_rows, counts)"
                    " values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (version, as_of, content, raw_through, counts["blacklist"], counts["default_feed"],
                     counts["held"], counts["lender_alerts"], json.dumps(counts)))
        previous = ({"blacklist": live["blacklist_rows"], "default_feed": live["default_feed_rows"]} if live else None)
        raw_after = live["raw_through_submission_id"] if live else 0

    # the gate first: it judges the candidates whatever they hold
    gate = run_gate(raw_after=raw_after, raw_through=raw_through, previous_counts=previous, today=today,
                    settings=settings)
    # a value that looks like a clear identity is never written to the shared zone, not even staged
    stage = not any(_never_approvable(name) for name in gate.failed)
    with db.connect(autocommit=True) as conn:
        try:
            with conn.transaction():
                # the rows of the version, written once (approval publishes exactly these)
                for table in ROW_TABLES:
                    conn.execute(f"delete from {table} where version = %s", (version,))
                if not stage:
                    raise _NotStaged
                for name, (table, columns, _) in TABLES.items():
                    _copy_rows(conn, table, version, columns, data[name])
                _copy_rows(conn, "shared.held_record_rows", version, HELD_COLUMNS, data["held"])
        except _NotStaged:
            pass
        except psycopg.errors.IntegrityError as exc:
            # the shared tables' own constraints refuse what the gate should have caught: never publishable
            constraint = getattr(exc.diag, "constraint_name", None) or type(exc).__name__
            gate.success = False
            gate.failed.append(f"shared_constraint/{constraint}")
        with conn.transaction():
            conn.execute(
                "update shared.feed_versions set validation_success = %s, validation = %s, status = %s"
                " where version = %s",
                (gate.success, json.dumps(gate.as_dict(), default=str), "validating" if gate.success else "failed",
                 version))
    staged = Staged(version, as_of, content, counts=counts, gate=gate)
    if not gate.success:
        raise GateFailed(
            f"version {version} not published, the live version stays "
            f"{live['version'] if live else '(none)'}; failed expectations: {summary(gate)}; "
            f"Data Docs: {', '.join(gate.data_docs)}; "
            + (f"override: exchange feed approve {version} --reason ..." if stage
               else "a clear identity cannot be approved: fix the data and rerun"),
            gate.failed)
    return staged


# ---- publish ------------------------------------------------------------------------------------


def _version_rows(conn: psycopg.Connection, version: int) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name, (table, columns, order) in TABLES.items():
        out[name] = _fetch(conn, f"select {', '.join(columns)} from {table} where version = %s order by {order}",
                           (version,))
    out["held"] = _fetch(conn, f"select {', '.join(HELD_COLUMNS)} from shared.held_record_rows"
                               " where version = %s", (version,))
    out["held"].sort(key=lambda r: tuple(_text(r[c]) for c in HELD_COLUMNS))
    return out


def write_exports(conn: psycopg.Connection, version: int, out_dir: Path, *, lender: str | None = None) -> dict[str, Any]:
    """Write the version's tables as CSV and Parquet plus manifest.json (SHA-256 of every file).

    With `lender`, the copy is that member's view: its own lender code, other lenders as their
    category, no source rows (a member never sees another lender's submission ids), and only its
    own alerts.
    """
    meta = _fetch(conn, "select version, as_of_date, content_sha256 from shared.feed_versions where version = %s",
                  (version,))
    if not meta:
        raise ExchangeError("P_NO_VERSION", f"no feed version {version}")
    data = _version_rows(conn, version)
    tables = {name: (columns, data[name]) for name, (_, columns, _) in TABLES.items()}
    if lender:
        hidden = {"source_submission_id", "source_line"}
        bl_cols = [c for c in BLACKLIST_COLUMNS if c not in hidden]
        feed_cols = ["reporting_lender" if c == "lender_code" else c for c in DEFAULT_FEED_COLUMNS
                     if c not in hidden and c != "lender_category"]
        feed = [{**r, "reporting_lender": r["lender_code"] if r["lender_code"] == lender else r["lender_category"]}
                for r in data["default_feed"]]
        alert_cols = [c for c in LENDER_ALERT_COLUMNS if c != "lender_code"]
        own_alerts = [r for r in data["lender_alerts"] if r["lender_code"] == lender]
        tables = {"blacklist": (bl_cols, data["blacklist"]), "default_feed": (feed_cols, feed),
                  "lender_alerts": (alert_cols, own_alerts),
                  "listing_reasons": (LISTING_REASON_COLUMNS, data["listing_reasons"])}
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {}
    for name, (columns, rows) in tables.items():
        for suffix, payload in (("csv", render_csv(columns, rows)), ("parquet", render_parquet(columns, rows))):
            path = out_dir / f"{name}.{suffix}"
            path.write_bytes(payload)
            files[path.name] = {"sha256": hashlib.sha256(payload).hexdigest(), "bytes": len(payload),
                                "rows": len(rows), "table": name}
    manifest = {
        "version": version,
        "as_of_date": _text(meta[0]["as_of_date"]),
        "content_sha256": meta[0]["content_sha256"].strip(),
        "view": f"lender {lender}" if lender else "association",
        "columns": {name: cols for name, (cols, _) in tables.items()},
        "files": files,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def build_exports(conn: psycopg.Connection, version: int, target: Path, *, lender: str | None = None) -> Path:
    """`target` holding the version's export files (write_exports), built once.

    The files are written into a new folder beside `target` and renamed into place: a reader sees
    no folder or a complete one, never a folder being written, and a complete one is never
    deleted or rewritten under it. A file lock makes concurrent builders (threads, portal workers,
    a publish rerun) wait for the first, which finds the folder already there afterwards.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(target.parent / f".{target.name}.lock"):
        row = conn.execute("select content_sha256 from shared.feed_versions where version = %s", (version,)).fetchone()
        if row is None:
            raise ExchangeError("P_NO_VERSION", f"no feed version {version}")
        if _manifest_content(target) == row[0].strip():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            write_exports(conn, version, tmp, lender=lender)
            if target.exists():  # unfinished, or left by another database's version of this number
                stale = Path(tempfile.mkdtemp(prefix=f".{target.name}-stale-", dir=target.parent))
                target.rename(stale / target.name)
                shutil.rmtree(stale)
            tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def _manifest_content(folder: Path) -> str | None:
    """The content fingerprint a complete export folder was built from; None when it is incomplete."""
    try:
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("content_sha256")
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None


def _held_feedback(settings: Settings, version: int, held: list[dict[str, Any]]) -> None:
    """Tell each reporting lender which of its records are held back from members, and why (不予发布)."""
    by_lender: dict[str, list[dict[str, Any]]] = {}
    for row in held:
        by_lender.setdefault(row["lender_code"], []).append(row)
    columns = [c for c in HELD_COLUMNS if c != "lender_code"]
    for lender, rows in by_lender.items():
        target = settings.feedback / lender
        target.mkdir(parents=True, exist_ok=True)
        (target / f"held_records_v{version}.csv").write_bytes(render_csv(columns, rows))


def publish_version(version: int, *, settings: Settings | None = None, today: date | None = None,
                    approval: dict[str, str] | None = None) -> dict[str, Any]:
    """Export the staged version and make it live in one transaction; purge what retention requires."""
    from exchange.core import db

    settings = settings or get_settings()
    today = today or beijing_today()
    with db.connect(autocommit=True) as conn:
        row = _fetch(conn, "select * from shared.feed_versions where version = %s", (version,))
        if not row:
            raise ExchangeError("P_NO_VERSION", f"no feed version {version}")
        state = row[0]
        if state["status"] == "live":
            return {"version": version, "status": "live", "unchanged": True}
        if state["status"] == "superseded":
            raise ExchangeError("P_SUPERSEDED", f"version {version} was superseded; a newer version is or was live")
        if state["status"] == "failed" and approval is None:
            raise ExchangeError("P_GATE_FAILED", f"version {version} failed the gate; only `exchange feed approve` "
                                                 "can publish it")
        if state["validation_success"] is None and approval is None:
            raise ExchangeError("P_NOT_VALIDATED", f"version {version} has not been through the gate")
        live = live_version(conn)
        if live and live["version"] > version:
            raise ExchangeError("P_STALE", f"version {version} is older than the live version {live['version']}")
        export_dir = build_exports(conn, version, settings.exports / str(version))
        manifest = json.loads((export_dir / "manifest.json").read_text(encoding="utf-8"))
        checksums = {name: f["sha256"] for name, f in manifest["files"].items()}
        checksums["manifest.json"] = hashlib.sha256((export_dir / "manifest.json").read_bytes()).hexdigest()
        with conn.transaction():
            # the one switch: lock the pointer, supersede the old version, point at the new one
            current = conn.execute("select version from shared.live_version for update").fetchone()
            if current:
                conn.execute("update shared.feed_versions set status = 'superseded' where version = %s", (current[0],))
                conn.execute("update shared.live_version set version = %s, switched_at = now()", (version,))
            else:
                conn.execute("insert into shared.live_version (version) values (%s)", (version,))
            conn.execute(
                "update shared.feed_versions set status = 'live', published_at = now(), export_dir = %s,"
                " export_checksums = %s where version = %s",
                (str(export_dir), json.dumps(checksums), version))
            if approval:
                conn.execute(
                    "update shared.feed_versions set approved_by = %s, approved_at = now(), approval_reason = %s"
                    " where version = %s", (approval["by"], approval["reason"], version))
            purged = {**purge_shared(conn, today, settings), "versions_dropped": _drop_old_versions(conn, settings)}
        held = _version_rows(conn, version)["held"]
    _held_feedback(settings, version, held)
    return {"version": version, "status": "live", "export_dir": str(export_dir), "checksums": checksums,
            "purged": purged}


def _drop_old_versions(conn: psycopg.Connection, settings: Settings) -> int:
    """Versions beyond the last KEEP_VERSIONS (and failed ones older than the live version) lose
    their rows and exports, inside the publishing transaction."""
    old = conn.execute(
        "select version from shared.feed_versions where status <> 'live' and version not in"
        " (select version from shared.feed_versions where status in ('live', 'superseded')"
        "  order by version desc limit %s)"
        " and (status = 'superseded' or version < (select version from shared.live_version))",
        (KEEP_VERSIONS,)).fetchall()
    dropped = [v for (v,) in old]
    for table in ROW_TABLES:
        conn.execute(f"delete from {table} where version = any(%s)", (dropped,))
    drop_exports(conn, settings, dropped)
    return len(dropped)


def run_publication(*, settings: Settings | None = None, today: date | None = None) -> dict[str, Any]:
    """Gate and publish in one call (the CLI's `exchange feed publish`; the DAG runs the two steps as tasks)."""
    staged = stage_and_gate(settings=settings, today=today)
    if staged.unchanged:
        return {**staged.as_dict(), "status": "live"}
    return {**staged.as_dict(), **publish_version(staged.version, settings=settings, today=today)}


def approve(version: int, reason: str, *, by: str | None = None, settings: Settings | None = None,
            today: date | None = None) -> dict[str, Any]:
    """Override a failed gate for `version`, recorded with who, when and why, then publish it."""
    from exchange.core import db

    reason = (reason or "").strip()
    if len(reason) < 10:
        raise ExchangeError("P_APPROVAL_REASON", "an approval needs a reason of at least 10 characters")
    by = by or getpass.getuser()
    with db.connect(autocommit=True) as conn:
        row = _fetch(conn, "select status, validation from shared.feed_versions where version = %s", (version,))
        if not row:
            raise ExchangeError("P_NO_VERSION", f"no feed version {version}")
        if row[0]["status"] != "failed":
            raise ExchangeError("P_NOT_FAILED", f"version {version} is {row[0]['status']}: only a failed version "
                                                "needs an approval")
        failed = (row[0]["validation"] or {}).get("failed", [])
        privacy = [name for name in failed if _never_approvable(name)]
        if privacy:
            raise ExchangeError("P_NOT_APPROVABLE", "a value that looks like a clear ID, USCC or mobile number, or "
                                                    "one the shared tables refuse, can never be published; fix the "
                                                    f"data first ({', '.join(privacy)})")
        with conn.transaction():
            conn.execute("insert into control.feed_approvals (version, approved_by, reason, failed)"
                         " values (%s, %s, %s, %s)", (version, by, reason, json.dumps(failed)))
            conn.execute("insert into control.audit_log (actor, action, object, detail) values (%s, %s, %s, %s)",
                         (by, "feed_approve", f"feed_version:{version}",
                          json.dumps({"reason": reason, "failed": failed}, ensure_ascii=False)))
    return publish_version(version, settings=settings, today=today, approval={"by": by, "reason": reason})


def feed_status(conn: psycopg.Connection, limit: int = 10) -> dict[str, Any]:
    live = live_version(conn)
    versions = _fetch(conn, "select version, as_of_date, status, blacklist_rows, default_feed_rows, held_rows,"
                            " lender_alerts_rows, validation_success, created_at, published_at, approved_by, approval_reason"
                            " from shared.feed_versions order by version desc limit %s", (limit,))
    return {"live": live, "versions": versions}


def raise_if_gate_failed(note: str = "") -> None:
    """After a failed publish run: raise GateFailed naming the failed expectations, if the gate failed."""
    from exchange.core import db

    with db.connect(autocommit=True) as conn:
        rows = _fetch(conn, "select version, validation from shared.feed_versions order by version desc limit 1")
        live = live_version(conn)
    if rows and rows[0]["validation"] and rows[0]["validation"].get("success") is False:
        failed = rows[0]["validation"].get("failed", [])
        version = rows[0]["version"]
        names = ", ".join(failed[:12]) + (f" and {len(failed) - 12} more" if len(failed) > 12 else "")
        raise GateFailed(
            f"quality gate failed for version {version}; nothing published, the live version stays "
            f"{live['version'] if live else '(none)'}; failed expectations: {names}; "
            + ("a clear identity cannot be approved: fix the data and rerun"
               if any(_never_approvable(name) for name in failed)
               else f"override: exchange feed approve {version} --reason ...") + f"; {note}", failed)
