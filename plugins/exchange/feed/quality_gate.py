"""The quality gate (质量闸门): Great Expectations suites over the raw batch and the candidates.

The suites are JSON files in the committed GX file context under expectations/gx/ (one per
incoming raw batch kind, one per candidate table). Each run copies that context into the
exchange's state directory (.exchange/gx/), adds the PostgreSQL data source there with its
connection string as ``${EXCHANGE_GX_DB_URL}`` (resolved from the environment, never written),
one table asset per suite (each raw batch a view while the run lasts), a validation definition
per suite and one checkpoint, then the run's Data Docs pages; the validation results and the
HTML accumulate under .exchange/gx/, so the checkout stays clean and every validation has its
page. A run is named by the feed version it judges (``feed-v<version>``, `run_name`), so its Data
Docs pages say which version they are about; after each run the site is made to work offline
(exchange.feed.data_docs) and the portal serves it.

Parameters of a run (GX suite parameters, ``$PARAMETER``): the bounds of the size-change check
(previous live count x (1 +/- EXCHANGE_MAX_FEED_CHANGE), at least EXCHANGE_MIN_FEED_CHANGE_ROWS
either way), today's date for the retention check, and the pattern of a listing's reason codes,
built from the reasons of the one rule table (publication.pub_listing_reason_texts) so that the
suites hold no copy of them.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from exchange.core import db
from exchange.core.errors import ExchangeError
from exchange.core.settings import PROJECT_ROOT, Settings, get_settings
from exchange.feed.data_docs import make_offline

GX_SOURCE_DIR = PROJECT_ROOT / "expectations" / "gx"
"""The committed file context: great_expectations.yml and expectations/<suite>.json."""

DATASOURCE = "exchange"
CONNECTION_VAR = "EXCHANGE_GX_DB_URL"

RAW_SUITES = {
    # rows retention de-keyed hold no key by design (exchange.feed.retention): not data to check
    "raw_loans_batch": "select * from raw.loans where submission_id > {after} and submission_id <= {through}"
                       " and dekeyed_at is null",
    "raw_loan_status_batch":
        "select * from raw.loan_status where submission_id > {after} and submission_id <= {through}",
    "raw_collection_actions_batch":
        "select * from raw.collection_actions where submission_id > {after} and submission_id <= {through}",
}
CANDIDATE_SUITES = {
    "blacklist_candidates": "pub_blacklist_candidates",
    "default_feed_candidates": "pub_default_feed_candidates",
    "lender_alerts_candidates": "pub_lender_alerts_candidates",
    "borrower_signals_candidates": "pub_borrower_signals_candidates",
}
"""Suite -> its table in the publication schema."""
BATCH_SCHEMA = "exchange_state"
"""Where a run's raw batches are views while it runs: no role but the owner reads this schema."""
SIZE_CHECKS = {"blacklist": "blacklist_candidates", "default_feed": "default_feed_candidates"}


class GateFailed(ExchangeError):
    """The gate found problems: code G_GATE_FAILED, `failed` names each failed expectation."""

    def __init__(self, message: str, failed: list[str]):
        super().__init__("G_GATE_FAILED", message)
        self.failed = failed


@dataclass
class GateResult:
    success: bool
    failed: list[str]
    """Failed expectations as '<suite>/<check>' (the check names live in each expectation's meta)."""
    suites: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_docs: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"success": self.success, "failed": self.failed, "suites": self.suites,
                "data_docs": self.data_docs, "parameters": self.parameters, "seconds": round(self.seconds, 1)}


def max_feed_change() -> float:
    """EXCHANGE_MAX_FEED_CHANGE: largest relative change in size against the live version (default 0.5)."""
    raw = os.environ.get("EXCHANGE_MAX_FEED_CHANGE", "0.5")
    try:
        value = float(raw)
    except ValueError:
        raise ExchangeError("C_MAX_FEED_CHANGE", f"EXCHANGE_MAX_FEED_CHANGE must be a number, got {raw!r}") from None
    if value < 0:
        raise ExchangeError("C_MAX_FEED_CHANGE", "EXCHANGE_MAX_FEED_CHANGE must not be negative")
    return value


def size_bounds(previous: int | None) -> tuple[int, int | None]:
    """(min, max) rows allowed given the live version's count; no bound before the first version."""
    if previous is None:
        return 0, None
    slack = int(os.environ.get("EXCHANGE_MIN_FEED_CHANGE_ROWS", "10"))
    change = max(math.ceil(previous * max_feed_change()), slack)
    return max(previous - change, 0), previous + change


def reason_codes_pattern(codes: list[str]) -> str:
    """The regex a listing's reason_codes must match: the rule table's codes, comma-separated."""
    alternatives = "|".join(re.escape(code) for code in sorted(codes)) or "(?!)"
    return f"^({alternatives})(,({alternatives}))*$"


def suite_parameters(previous_counts: dict[str, int] | None, today: date, reason_codes: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {"today": today.isoformat(), "listing_reason_codes": reason_codes_pattern(reason_codes)}
    for prefix in SIZE_CHECKS:
        low, high = size_bounds(None if previous_counts is None else previous_counts.get(prefix, 0))
        params[f"{prefix}_min_rows"] = low
        params[f"{prefix}_max_rows"] = high
    return params


def _prepare_context_dir(settings: Settings) -> Path:
    """Fresh config and suites from the checkout; keep earlier validation results and Data Docs."""
    root = settings.state_dir / "gx"
    ctx_dir = root / "gx"
    ctx_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("checkpoints", "validation_definitions", "expectations"):
        shutil.rmtree(ctx_dir / stale, ignore_errors=True)
    shutil.copy2(GX_SOURCE_DIR / "great_expectations.yml", ctx_dir / "great_expectations.yml")
    shutil.copytree(GX_SOURCE_DIR / "expectations", ctx_dir / "expectations")
    return root


@contextmanager
def _raw_batch_views(queries: dict[str, str]) -> Iterator[dict[str, str]]:
    """Each raw batch query as a view of its own while the run lasts; suite -> view name.

    GX learns a query asset's columns by running its query whole (its column reflection for a
    query), and psycopg2's client-side cursor holds every row in this process: the first
    publication of 24 months at a million loans peaked at 6.3 GB. A table asset's columns come
    from the catalog. The names are the run's own, so two gates never share a view.

    A run drops its views when it ends; a run killed outright cannot, so it holds an advisory lock
    named after it on the connection that made them, which the server releases when that process
    dies, and each run first drops the views of runs whose lock nobody holds (_drop_abandoned_views).
    """
    run = uuid.uuid4().hex[:12]
    views = {name: f"gate_{run}_{name}" for name in queries}
    with db.connect(autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(hashtext(%s))", (_run_lock(run),))
        _drop_abandoned_views(conn)
        try:
            for name, query in queries.items():
                conn.execute(f"create view {BATCH_SCHEMA}.{views[name]} as {query}")
            yield views
        finally:
            for view in views.values():
                conn.execute(f"drop view if exists {BATCH_SCHEMA}.{view}")


def _run_lock(run: str) -> str:
    """The advisory lock's name (hashed to its key) that a gate run holds while its views exist."""
    return f"exchange-gate:{run}"


def _drop_abandoned_views(conn: psycopg.Connection) -> None:
    """Drop the batch views of gate runs that ended without dropping them (their lock is free)."""
    runs: dict[str, list[str]] = {}
    for (view,) in conn.execute("select viewname from pg_views where schemaname = %s", (BATCH_SCHEMA,)):
        if found := re.fullmatch(r"gate_([0-9a-f]{12})_\w+", view):
            runs.setdefault(found.group(1), []).append(view)
    for run, run_views in runs.items():
        if conn.execute("select pg_try_advisory_lock(hashtext(%s))", (_run_lock(run),)).fetchone()[0]:
            for view in run_views:
                conn.execute(f"drop view if exists {BATCH_SCHEMA}.{view}")
            conn.execute("select pg_advisory_unlock(hashtext(%s))", (_run_lock(run),))


def _describe(exp_result: Any) -> str:
    config = exp_result.expectation_config
    check = (config.meta or {}).get("check") or f"{config.type}({config.kwargs.get('column', '')})"
    return str(check)


def run_name(version: int | None) -> str | None:
    """The GX run name of the gate on a feed version (None: GX's own default, for a run outside a version)."""
    return None if version is None else f"feed-v{int(version)}"


def data_docs_site(settings: Settings) -> Path:
    """The Data Docs site the checkpoint writes (GX's local_site under the state directory)."""
    return settings.state_dir / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site"


def run_gate(*, raw_after: int, raw_through: int, previous_counts: dict[str, int] | None,
             today: date | None = None, settings: Settings | None = None, version: int | None = None) -> GateResult:
    """Validate the raw batch (submissions raw_after < id <= raw_through) and every candidate table.

    `version`: the feed version being judged; the GX run is named after it (run_name).

    Returns the result (never raises for failed expectations; the caller decides); raises
    ExchangeError G_GX_ERROR when GX itself cannot run.
    """
    settings = settings or get_settings()
    started = time.monotonic()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ[CONNECTION_VAR] = db.sqlalchemy_url()
    root = _prepare_context_dir(settings)
    with db.connect(autocommit=True) as conn:
        codes = [code for (code,) in conn.execute("select reason_code from publication.pub_listing_reason_texts")]
    params = suite_parameters(previous_counts, today or date.today(), codes)

    import great_expectations as gx  # heavy import: only when the gate runs
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    raw_queries = {name: sql.format(after=int(raw_after), through=int(raw_through)) for name, sql in RAW_SUITES.items()}
    try:
        with _raw_batch_views(raw_queries) as views:
            ctx = gx.get_context(mode="file", project_root_dir=str(root))
            # the assets' schemas by search_path (GX deprecates a table asset's own schema_name)
            source = ctx.data_sources.add_or_update_postgres(
                DATASOURCE, connection_string="${" + CONNECTION_VAR + "}",
                kwargs={"connect_args": {"options": f"-c search_path={BATCH_SCHEMA},publication"}})
            definitions = []
            for name, table in {**views, **CANDIDATE_SUITES}.items():
                batch = source.add_table_asset(name, table_name=table).add_batch_definition_whole_table("whole")
                definitions.append(ctx.validation_definitions.add_or_update(
                    gx.ValidationDefinition(name=name, data=batch, suite=ctx.suites.get(name))))
            checkpoint = ctx.checkpoints.add_or_update(gx.Checkpoint(
                name="exchange_gate", validation_definitions=definitions, actions=[],
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": 0},
            ))
            outcome = checkpoint.run(expectation_parameters=params, run_id=RunIdentifier(run_name=run_name(version)))
        # the run's pages and the index built once: GX's UpdateDataDocsAction rebuilds the whole
        # index after each of the seven validations (7.8 of a 40 s gate at 200k loans, profiled)
        ctx.build_data_docs(resource_identifiers=[
            identifier for result_id, result in outcome.run_results.items()
            for identifier in (result_id, ExpectationSuiteIdentifier(name=result.suite_name))])
    except ExchangeError:
        raise
    except Exception as exc:  # GX wraps database and config errors in many types
        raise ExchangeError("G_GX_ERROR", f"Great Expectations could not run: {type(exc).__name__}: {exc}") from exc

    failed: list[str] = []
    suites: dict[str, dict[str, Any]] = {}
    for run_result in outcome.run_results.values():
        name = run_result.suite_name
        bad = [_describe(r) for r in run_result.results if not r.success]
        failed.extend(f"{name}/{check}" for check in bad)
        suites[name] = {"success": bool(run_result.success), "evaluated": len(run_result.results), "failed": bad}
    site = data_docs_site(settings)
    make_offline(site)
    index = site / "index.html"
    docs = [str(index)] if index.exists() else []
    return GateResult(not failed, failed, suites, docs, params, time.monotonic() - started)


def never_approvable(check: str) -> bool:
    """A clear identity in the data, or rows the shared tables refuse: no approval can publish these."""
    return "/no_clear_identifier:" in check or check.startswith("shared_constraint/")


def gate_failed(version: int, live: int | None, failed: list[str], data_docs: list[str],
                note: str = "") -> GateFailed:
    """The one message of a failed gate: the version, the live one that stays, the failed checks, what to do."""
    names = ", ".join(failed[:12]) + (f" and {len(failed) - 12} more" if len(failed) > 12 else "")
    remedy = ("a clear identity cannot be approved: fix the data and rerun"
              if any(never_approvable(check) for check in failed)
              else f"override: exchange feed approve {version} --reason ...")
    parts = [f"quality gate failed for version {version}; nothing published, the live version stays "
             f"{live if live is not None else '(none)'}", f"failed expectations: {names}"]
    if data_docs:
        parts.append(f"Data Docs: {', '.join(data_docs)}")
    parts.append(remedy)
    if note:
        parts.append(note)
    return GateFailed("; ".join(parts), failed)
