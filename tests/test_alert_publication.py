"""Early-warning alerts published with each feed version (issue 5 item 2), on crafted data.

The crafted lenders and loans of tests/test_collection_models.py go into a fresh database; dbt
builds the publication candidates (which include the alerts) and the gate and publication run
for real (Great Expectations, exports). Loan ids carry their lender's code, so an alert that
leaked another lender would show that lender's code.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
import sqlalchemy
import test_collection_models as crafted
import yaml
from conftest import TEST_SECRET
from databases import fresh_database
from dbt_support import dbt, environment
from psycopg.rows import dict_row

from exchange.access.tokens import ensure_lender_role
from exchange.core.errors import ExchangeError
from exchange.core.identifiers import Pseudonymizer
from exchange.feed.alerts import ALERT_COLUMNS, ALERT_TYPES, export_alerts, lender_alerts
from exchange.feed.exports import write_exports
from exchange.feed.publish import publish_version, run_publication, stage_and_gate
from exchange.feed.quality_gate import GateFailed
from exchange.pipeline.dbt import DBT_PROJECT_DIR
from exchange.web.labels import LABELS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict]]:
    home = tmp_path_factory.mktemp("alert_publication")
    with fresh_database("alert_publication") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            crafted.load(conn)
            for code in crafted.CODES:
                ensure_lender_role(conn, code)
        dbt(url, home, "seed")
        dbt(url, home, "run", "--select", "+path:models/publication")
        with environment(EXCHANGE_DB_URL=url, EXCHANGE_HOME=str(home), EXCHANGE_PSEUDONYM_KEY=TEST_SECRET):
            first = run_publication(today=date.today())
            yield url, home, first


def _rows(url: str, sql: str, params: tuple = (), role: str | None = None) -> list[dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        if role:
            cur.execute(f"set role {role}")
        return cur.execute(sql, params).fetchall()


def test_alerts_are_published_in_the_live_version(world) -> None:
    url, _, first = world
    mart = {r["alert_key"]: r for r in _rows(url, "select * from marts.mart_lender_alerts")}
    live = {r["alert_key"]: r for r in _rows(url, "select * from shared.lender_alerts")}
    assert len(mart) >= 6 and live.keys() == mart.keys()
    assert {r["version"] for r in live.values()} == {first["version"]}
    pseudo = Pseudonymizer(TEST_SECRET.encode())
    shown = [c for c in ALERT_COLUMNS if c != "loan_id"]
    for k, row in live.items():
        assert {c: row[c] for c in shown} == {c: mart[k][c] for c in shown}
        assert row["loan_ref"] == pseudo.loan_ref(mart[k]["lender_code"], mart[k]["loan_id"])
    [version] = _rows(url, "select lender_alerts_rows, counts from shared.feed_versions where version = %s",
                      (first["version"],))
    assert version["lender_alerts_rows"] == len(mart) == first["counts"]["lender_alerts"]
    assert sum(version["counts"]["lender_alerts_by_type"].values()) == len(mart)
    assert "lender_alerts_candidates" in first["gate"]["suites"]


def test_a_lender_role_reads_only_its_own_alerts(world) -> None:
    url, _, _ = world
    everyone = _rows(url, "select lender_code, alert_key from shared.lender_alerts")
    assert {r["lender_code"] for r in everyone} >= {"XD01"}
    for code in crafted.CODES:
        mine = _rows(url, "select * from shared.v_lender_alerts", role=f"lender_{code.lower()}")
        assert {r["alert_key"] for r in mine} == {r["alert_key"] for r in everyone if r["lender_code"] == code}
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _rows(url, "select * from shared.lender_alerts", role=f"lender_{code.lower()}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _rows(url, "select * from shared.lender_alerts_versions", role=f"lender_{code.lower()}")
    assert len(_rows(url, "select * from shared.lender_alerts", role="association")) == len(everyone)


def test_no_alert_column_names_another_lender(world) -> None:
    url, _, _ = world
    rows = _rows(url, "select * from shared.lender_alerts_versions")
    assert rows
    for row in rows:
        others = [c for c in crafted.CODES if c != row["lender_code"]]
        for column, value in row.items():
            if column == "lender_code" or value is None:
                continue
            assert not [c for c in others if c in str(value)], (column, value)


def test_a_member_export_holds_only_its_own_alerts(world, tmp_path: Path) -> None:
    url, home, first = world
    with environment(EXCHANGE_DB_URL=url, EXCHANGE_HOME=str(home), EXCHANGE_PSEUDONYM_KEY=TEST_SECRET), \
            psycopg.connect(url) as conn:
        association = write_exports(conn, first["version"], tmp_path / "all")
        member = write_exports(conn, first["version"], tmp_path / "XD01", lender="XD01")
    everyone = _rows(url, "select lender_code, alert_key from shared.lender_alerts")
    assert association["files"]["lender_alerts.csv"]["rows"] == len(everyone)
    assert "lender_code" in association["columns"]["lender_alerts"]
    assert "lender_code" not in member["columns"]["lender_alerts"]
    exported = list(csv.DictReader(io.StringIO((tmp_path / "XD01" / "lender_alerts.csv").read_text("utf-8"))))
    assert {r["alert_key"] for r in exported} == {r["alert_key"] for r in everyone if r["lender_code"] == "XD01"}
    assert exported and "loan_id" not in exported[0]
    text = (tmp_path / "XD01" / "lender_alerts.csv").read_text("utf-8")
    assert "WD02" not in text and "DB03" not in text
    # the published export directory of the version carries the alerts too
    assert (Path(first["export_dir"]) / "lender_alerts.parquet").exists()


def test_the_associations_alerts_export_is_the_live_versions_with_the_lenders_contract_numbers(world) -> None:
    """`exchange alerts --lender XD01 --write` holds what the live version holds for XD01 (as the
    portal and the member's copy of the export do), each row with XD01's own contract number."""
    url, home, _ = world
    with environment(EXCHANGE_DB_URL=url, EXCHANGE_HOME=str(home), EXCHANGE_PSEUDONYM_KEY=TEST_SECRET), \
            psycopg.connect(url) as conn:
        [live_version] = conn.execute("select version from shared.live_version").fetchone()
        path = export_alerts(conn, "XD01")
    assert path.name == f"XD01_alerts_v{live_version}.csv"
    exported = list(csv.DictReader(io.StringIO(path.read_text("utf-8-sig"))))
    live = _rows(url, "select alert_type, loan_reference from shared.lender_alerts where lender_code = 'XD01'")
    assert sorted((r["alert_type"], r["loan_reference"]) for r in exported) == \
        sorted((r["alert_type"], r["loan_reference"]) for r in live)
    contract = {r["loan_reference"]: r["loan_id"] for r in _rows(
        url, "select loan_reference, loan_id from marts.mart_lender_alerts where lender_code = 'XD01'")}
    assert exported and all(r["loan_id"] == contract[r["loan_reference"]] for r in exported)
    assert all(r["loan_id"].startswith("XD01-") for r in exported)


def test_alerts_are_never_read_from_a_build_that_is_not_published(world) -> None:
    """With no version live the built mart still holds alerts, and none is shown: P_NO_VERSION. An
    unknown lender is L_UNKNOWN, not an empty list."""
    url, home, _ = world
    with environment(EXCHANGE_DB_URL=url, EXCHANGE_HOME=str(home), EXCHANGE_PSEUDONYM_KEY=TEST_SECRET), \
            psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from marts.mart_lender_alerts where lender_code = 'XD01'").fetchone()[0]
        with pytest.raises(ExchangeError) as unknown:
            lender_alerts(conn, "NOPE01")
        assert unknown.value.code == "L_UNKNOWN"
        conn.execute("delete from shared.live_version")  # rolled back below: the world keeps its version
        try:
            with pytest.raises(ExchangeError) as none_live:
                lender_alerts(conn, "XD01")
            assert none_live.value.code == "P_NO_VERSION"
        finally:
            conn.rollback()


def test_alerts_switch_with_the_version_atomically(world) -> None:
    url, home, first = world
    with psycopg.connect(url, autocommit=True) as conn:
        # one alert less in the candidates: a new version with the blacklist and feed unchanged
        dropped = conn.execute("delete from publication.pub_lender_alerts_candidates where alert_key ="
                               " (select min(alert_key) from publication.pub_lender_alerts_candidates)"
                               " returning alert_key").fetchone()[0]
    total = len(_rows(url, "select 1 from shared.lender_alerts"))
    seen: list[tuple] = []
    stop = threading.Event()

    def reader() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while not stop.is_set():
                # one statement: the live version of the blacklist and of the alerts must agree
                seen.append(conn.execute(
                    "select (select array_agg(distinct version) from shared.blacklist),"
                    " (select array_agg(distinct version) from shared.lender_alerts),"
                    " (select count(*) from shared.lender_alerts)").fetchone())

    thread = threading.Thread(target=reader)
    try:
        with environment(EXCHANGE_DB_URL=url, EXCHANGE_HOME=str(home), EXCHANGE_PSEUDONYM_KEY=TEST_SECRET):
            staged = stage_and_gate(today=date.today())
            assert staged.version == first["version"] + 1 and staged.counts["lender_alerts"] == total - 1
            # staged but not live: members still see the old version's alerts
            assert len(_rows(url, "select 1 from shared.lender_alerts")) == total
            thread.start()
            while not seen:
                time.sleep(0.01)
            publish_version(staged.version, today=date.today())
    finally:
        stop.set()
        if thread.is_alive():
            thread.join()
    keys = {r["alert_key"] for r in _rows(url, "select alert_key from shared.lender_alerts")}
    assert dropped not in keys and len(keys) == total - 1
    assert seen
    for bl_versions, alert_versions, count in seen:
        assert bl_versions == alert_versions and len(alert_versions) == 1
        assert count == (total if alert_versions == [first["version"]] else total - 1)
    # the previous version's alerts are kept for rollback, under their own version
    assert len(_rows(url, "select 1 from shared.lender_alerts_versions where version = %s",
                     (first["version"],))) == total


def test_a_clear_phone_in_a_collection_batch_fails_the_gate(world, monkeypatch: pytest.MonkeyPatch) -> None:
    """The raw collection_actions batch has its own suite: a phone number typed as the actor stops publication.
    GX reads each raw batch through a view of the run's own, never runs the batch's query whole (to
    learn a query's columns GX fetched every row of it into this process), and the views go after."""
    url, home, first = world
    executed: list[str] = []
    execute = sqlalchemy.engine.Connection.execute

    def recording(self, statement, *args, **kwargs):
        executed.append(str(statement))
        return execute(self, statement, *args, **kwargs)

    monkeypatch.setattr(sqlalchemy.engine.Connection, "execute", recording)
    assert first["gate"]["suites"]["raw_collection_actions_batch"]["success"]
    with psycopg.connect(url, autocommit=True) as conn:
        sid = conn.execute("insert into control.submissions (submission_id, lender_code, kind, as_of_date, seq,"
                           " file_name, sha256, size_bytes, arrival_key, verdict) select max(submission_id) + 1,"
                           " 'XD01', 'collection_actions', %s, 2, 'x.csv', repeat('c', 64), 1, 'clear-phone',"
                           " 'accepted' from control.submissions returning submission_id",
                           (crafted.JUNE,)).fetchone()[0]
        conn.execute("insert into raw.collection_actions (submission_id, line, lender_code, as_of_date, loan_id,"
                     " action_time, channel, actor, contacted_party, outcome) values (%s, 2, 'XD01', %s, 'XD01-L1',"
                     " now(), 'call', '13812345678', 'borrower', 'contacted')", (sid, crafted.JUNE))
        # a change in the candidates, so that a version is staged and gated
        conn.execute("delete from publication.pub_lender_alerts_candidates where alert_key ="
                     " (select min(alert_key) from publication.pub_lender_alerts_candidates)")
    with environment(EXCHANGE_DB_URL=url, EXCHANGE_HOME=str(home), EXCHANGE_PSEUDONYM_KEY=TEST_SECRET), \
            pytest.raises(GateFailed) as failure:
        stage_and_gate(today=date.today())
    assert "raw_collection_actions_batch/no_clear_identifier:actor" in failure.value.failed
    assert any("gate_" in text and "_raw_collection_actions_batch" in text for text in executed)
    assert [text for text in executed if "from raw." in text.lower()] == []
    assert _rows(url, "select viewname from pg_views where schemaname = 'exchange_state'") == []


def test_every_alert_kind_is_known_to_the_mart_the_gate_the_labels_and_the_shared_table(world) -> None:
    """The alert kinds (the fraud-signal ones of issue 16 included) are one list: the mart's accepted
    values, the gate's suite, the portal's labels (both languages) and the shared table's check."""
    url, _, _ = world
    mart = yaml.safe_load((DBT_PROJECT_DIR / "models" / "marts" / "mart_lender_alerts.yml").read_text("utf-8"))
    (column,) = [c for c in mart["models"][0]["columns"] if c["name"] == "alert_type"]
    assert column["data_tests"][0]["accepted_values"]["arguments"]["values"] == list(ALERT_TYPES)
    suite = json.loads((ROOT / "expectations" / "gx" / "expectations" / "lender_alerts_candidates.json").read_text())
    (in_set,) = [e for e in suite["expectations"] if e.get("meta", {}).get("check") == "accepted_values:alert_type"]
    assert in_set["kwargs"]["value_set"] == list(ALERT_TYPES)
    assert all(LABELS[kind][0] and LABELS[kind][1] for kind in ALERT_TYPES)
    with psycopg.connect(url) as conn:
        row = conn.execute("select * from shared.lender_alerts_versions limit 1").fetchone()
        assert row is not None
        for kind in ALERT_TYPES:  # the check constraint of migrations 0006 and 0022 takes each kind
            conn.execute("insert into shared.lender_alerts_versions select version, md5(alert_key || %s), lender_code,"
                         " %s, alert_type_zh, borrower_key, loan_ref, loan_reference, first_seen_date, as_of_date,"
                         " other_lender_count, other_lender_categories, max_dpd_elsewhere, reason_codes, evidence_en,"
                         " evidence_zh from shared.lender_alerts_versions limit 1", (kind, kind))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("insert into shared.lender_alerts_versions select version, md5(alert_key || 'x'), lender_code,"
                         " 'unheard_of', alert_type_zh, borrower_key, loan_ref, loan_reference, first_seen_date,"
                         " as_of_date, other_lender_count, other_lender_categories, max_dpd_elsewhere, reason_codes,"
                         " evidence_en, evidence_zh from shared.lender_alerts_versions limit 1")
        conn.rollback()
