"""The quality gate and the publication against PostgreSQL, dbt and Great Expectations.

One database per module gets the crafted data of tests/publication_scenario.py and a dbt build;
the tests then publish through the gate (exchange.feed.publish), break the candidates on purpose and
check that the live version stays, read the shared zone from a second thread while versions
switch, and rebuild the exports from their manifest.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import publication_scenario as scenario
import pyarrow.parquet as pq
import pytest
from conftest import TEST_SECRET
from databases import fresh_database
from dbt_support import dbt, environment, exchange_env

from exchange.access.tokens import ensure_lender_role
from exchange.core.errors import ExchangeError
from exchange.core.identifiers import Pseudonymizer
from exchange.core.settings import DBT_PROJECT_DIR
from exchange.feed.exports import render_csv, write_exports
from exchange.feed.publish import approve, publish_version, run_publication
from exchange.feed.quality_gate import GateFailed, _raw_batch_views, _run_lock
from exchange.feed.tables import BLACKLIST_COLUMNS, DEFAULT_FEED_COLUMNS

CLEAR_ID = "11010519491231002X"  # the GB 11643 example: a valid resident ID


@dataclass
class World:
    url: str
    home: Path
    first: dict


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("publication")
    with fresh_database("publication") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            scenario.load(conn)
            for code, _, _ in scenario.LENDERS:
                ensure_lender_role(conn, code)
        dbt(url, home, "seed")
        dbt(url, home, "run")  # the marts too: retention is checked there
        dbt(url, home, "test", "--select", "path:models/publication")
        with environment(**exchange_env(url, home)):
            first = run_publication(today=date.today())
        yield World(url, home, first)


@pytest.fixture
def env(world: World) -> Iterator[World]:
    with environment(**exchange_env(world.url, world.home)):
        yield world


def rows(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def live(url: str) -> int:
    return rows(url, "select version from shared.live_version")[0][0]


def _rebuild_candidates(world: World) -> None:
    """Back to the candidates dbt builds (a test may have edited them)."""
    dbt(world.url, world.home, "run", "--select", "path:models/publication")


# ---- the rules ------------------------------------------------------------------------------


def test_each_reason_lists_its_borrower(world: World) -> None:
    listed = dict(rows(world.url, "select borrower_key, reason_codes from shared.blacklist"))
    b = scenario.BORROWER
    assert listed == {b["P1"]: "B1", b["P2"]: "B2", b["P3"]: "B3", b["P4"]: "B4", b["P6"]: "B1"}
    assert world.first["counts"]["blacklist_by_reason"] == {"B1": 2, "B2": 1, "B3": 1, "B4": 1}
    [(as_of, lenders, first_listed)] = rows(
        world.url, "select v.as_of_date, b.lenders_count, b.first_listed_date from shared.blacklist b"
                   " join shared.feed_versions v using (version) where borrower_key = %s", (b["P4"],))
    assert (as_of, lenders, first_listed) == (scenario.AS_OF, 2, scenario.MONTHS[2])


def test_borrower_signals_are_published_with_the_version_from_publishable_records_only(world: World) -> None:
    b = scenario.BORROWER
    published = dict(rows(world.url, "select borrower_key, array[open_lenders, overdue_lenders_6m]"
                                     " from shared.borrower_signals"))
    assert published == dict(rows(world.url, "select borrower_key, array[open_lenders, overdue_lenders_6m]"
                                             " from publication.pub_borrower_signals_candidates"))
    assert published[b["P4"]][0] == 2  # open loans at XD01 and WD02: co-debt at two lenders
    assert b["P1"] in published and published[b["P1"]][1] == 1  # overdue, noticed: one lender reported it
    assert b["P5"] not in published  # its overdue is held (pending notice): it counts nowhere a member sees
    assert b["P8"] not in published  # purged in 2024: nothing of it is in any window
    assert world.first["counts"]["borrower_signals"] == len(published)
    assert world.first["gate"]["suites"]["borrower_signals_candidates"]["success"]
    with (DBT_PROJECT_DIR / "seeds" / "rule_fraud_signals.csv").open(encoding="utf-8") as fh:
        seeded = {(r["parameter"], int(r["value"])) for r in csv.DictReader(fh)}  # the rules the look-up reads
    assert set(rows(world.url, "select parameter, value from shared.signal_rule_rows"
                               " where version = (select version from shared.live_version)")) == seeded


def test_the_association_shows_the_signals_and_no_member_copy_exists(env: World) -> None:
    from click.testing import CliRunner

    from exchange.cli.main import main

    runner = CliRunner()
    shown = json.loads(runner.invoke(main, ["feed", "show", "borrower_signals", "--json", "--limit", "0"]).output)
    assert scenario.BORROWER["P4"] in {r["borrower_key"] for r in shown["rows"]}
    member = runner.invoke(main, ["feed", "show", "borrower_signals", "--lender", "WD02"])
    assert member.exit_code == 2 and "P_MEMBER_VIEW" in member.output  # members: only through the look-up
    status = runner.invoke(main, ["feed", "status"])
    assert "borrower signals" in status.output and "is_phone_shared" in status.output


def test_a_recent_repayment_is_no_b1_but_the_default_stays_in_the_feed(world: World) -> None:
    b = scenario.BORROWER["P7"]
    assert rows(world.url, "select 1 from shared.blacklist where borrower_key = %s", (b,)) == []
    assert rows(world.url, "select episode_status from shared.default_feed where borrower_key = %s", (b,)) == [
        ("ongoing",)]


def test_every_listing_traces_to_its_source_row(world: World) -> None:
    orphans = rows(world.url, """
        select b.borrower_key from shared.blacklist b
        left join raw.loan_status s on s.submission_id = b.source_submission_id and s.line = b.source_line
        where s.loan_id is null
        union all
        select f.borrower_key from shared.default_feed f
        left join raw.loan_status s on s.submission_id = f.source_submission_id and s.line = f.source_line
        where s.loan_id is null""")
    assert orphans == []


def test_a_record_without_notice_is_held_back_and_shown_to_its_lender_only(world: World) -> None:
    p5 = scenario.BORROWER["P5"]
    assert rows(world.url, "select 1 from shared.blacklist where borrower_key = %s", (p5,)) == []
    assert rows(world.url, "select 1 from shared.default_feed where borrower_key = %s", (p5,)) == []
    export = Path(world.first["export_dir"])
    for name in ("blacklist.csv", "default_feed.csv"):
        assert p5 not in (export / name).read_text()
    with psycopg.connect(world.url, autocommit=True) as conn:
        conn.execute("set role lender_db03")
        mine = conn.execute("select borrower_key, record_kind, hold_reason from shared.v_lender_held_records").fetchall()
        conn.execute("set role lender_xd01")
        theirs = conn.execute("select borrower_key from shared.v_lender_held_records").fetchall()
    assert sorted(mine) == [(p5, "default_episode", "pending_notice"), (p5, "listing", "pending_notice")]
    assert all(key != p5 for (key,) in theirs)
    feedback = (world.home / "feedback" / "DB03" / f"held_records_v{world.first['version']}.csv").read_text()
    assert p5 in feedback and "pending_notice" in feedback


def test_a_disputed_listing_is_published_with_its_mark(world: World) -> None:
    marks = dict(rows(world.url, "select borrower_key, disputed from shared.v_lender_blacklist"))
    assert marks[scenario.BORROWER["P6"]] is True
    assert sum(marks.values()) == 1


def test_a_member_sees_its_own_code_and_others_as_member_where_a_category_has_under_three(world: World) -> None:
    # each of the scenario's three lenders is alone in its category: a category would single it out
    with psycopg.connect(world.url, autocommit=True) as conn:
        conn.execute("set role lender_xd01")
        seen = {r[0] for r in conn.execute("select reporting_lender from shared.v_lender_default_feed")}
        columns = [c.name for c in conn.execute("select * from shared.v_lender_default_feed limit 0").description]
    assert seen == {"XD01", "member"}
    assert "lender_code" not in columns and "source_submission_id" not in columns


def test_loan_reference_is_the_hmac_of_lender_and_contract(world: World) -> None:
    refs = {r[0] for r in rows(world.url, "select loan_ref from shared.default_feed where lender_code = 'XD01'")}
    assert Pseudonymizer(TEST_SECRET.encode()).loan_ref("XD01", "K1") in refs
    assert rows(world.url, "select count(*) from information_schema.columns where table_schema = 'shared'"
                           " and column_name = 'loan_id'") == [(0,)]


# ---- retention -------------------------------------------------------------------------------


def test_an_episode_past_its_purge_date_is_purged(env: World) -> None:
    p8 = scenario.BORROWER["P8"]
    # the transform holds the 2019 episode as purged; neither the marts, the candidates nor the shared zone show it
    assert rows(env.url, "select end_date, hold_reason from intermediate.int_episode_publishability"
                         " where loan_id = 'K9'") == [(date(2019, 6, 30), "purged")]
    assert rows(env.url, "select 1 from marts.fct_default_episodes where loan_id = 'K9'") == []
    assert rows(env.url, "select 1 from publication.pub_default_feed_candidates where loan_id = 'K9'") == []
    assert rows(env.url, "select 1 from shared.default_feed_rows where borrower_key = %s", (p8,)) == []
    # a kept older version that still holds an expired row loses it at the next publication
    version = live(env.url)
    with psycopg.connect(env.url, autocommit=True) as conn:
        conn.execute(
            "insert into shared.default_feed_rows select version, repeat('e', 64), 1, %s, lender_code,"
            " lender_category, product_type, date '2018-01-31', 120, 100, 'settled', date '2019-06-30',"
            " date '2024-06-30', notice_date, false, source_submission_id, source_line"
            " from shared.default_feed_rows where version = %s limit 1", (p8, version))
        conn.execute("delete from publication.pub_blacklist_candidates where borrower_key = %s",
                     (scenario.BORROWER["P3"],))
    try:
        result = run_publication(today=date.today())
        assert result["purged"]["expired_default_feed_rows"] == 1
        assert rows(env.url, "select 1 from shared.default_feed_rows where borrower_key = %s", (p8,)) == []
        assert not (env.home / "exports" / str(version)).exists()  # its files held the purged row
        assert p8 not in (Path(result["export_dir"]) / "default_feed.csv").read_text()
    finally:
        _rebuild_candidates(env)


# ---- idempotence, exports ---------------------------------------------------------------------


def test_the_same_content_is_not_published_twice(env: World) -> None:
    before = live(env.url)
    again = run_publication(today=date.today())
    assert again["unchanged"] is True or again["version"] == before + 1  # first call may publish the rebuilt set
    again = run_publication(today=date.today())
    assert again["unchanged"] is True
    assert again["version"] == live(env.url)


def test_exports_reproduce_the_tables_byte_for_byte(env: World, tmp_path: Path) -> None:
    version = live(env.url)
    [(export_dir, checksums)] = rows(env.url, "select export_dir, export_checksums from shared.feed_versions"
                                              " where version = %s", (version,))
    export = Path(export_dir)
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["version"] == version
    for name, meta in manifest["files"].items():
        data = (export / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == meta["sha256"] == checksums[name]
    # the tables, rendered again from the database, give the same bytes
    for table, columns, order in (("blacklist", BLACKLIST_COLUMNS, "borrower_key"),
                                  ("default_feed", DEFAULT_FEED_COLUMNS, "loan_ref, default_episode_no")):
        with psycopg.connect(env.url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            current = cur.execute(f"select {', '.join(columns)} from shared.{table} order by {order}").fetchall()
        assert render_csv(columns, current) == (export / f"{table}.csv").read_bytes()
        parquet = pq.read_table(export / f"{table}.parquet").to_pylist()
        assert parquet == current
        text = list(csv.DictReader(io.StringIO((export / f"{table}.csv").read_text())))
        assert len(text) == len(current) == manifest["files"][f"{table}.csv"]["rows"]
    # and a second export of the version is identical
    with psycopg.connect(env.url) as conn:
        again = write_exports(conn, version, tmp_path / "again")
    assert {n: f["sha256"] for n, f in again["files"].items()} == {n: f["sha256"] for n, f in manifest["files"].items()}


# ---- the gate ----------------------------------------------------------------------------------


def test_a_clear_id_in_a_candidate_fails_the_gate_and_the_live_version_stays(env: World) -> None:
    before = live(env.url)
    before_rows = rows(env.url, "select * from shared.blacklist order by borrower_key")
    with psycopg.connect(env.url, autocommit=True) as conn:
        conn.execute("update publication.pub_default_feed_candidates set loan_id = %s where loan_id = 'K1'",
                     (f"合同 {CLEAR_ID}",))
    try:
        with pytest.raises(GateFailed) as failure:
            run_publication(today=date.today())
        assert failure.value.code == "G_GATE_FAILED"
        assert "default_feed_candidates/no_clear_identifier:loan_id" in failure.value.failed
        assert "no_clear_identifier:loan_id" in str(failure.value)
        assert live(env.url) == before
        assert rows(env.url, "select * from shared.blacklist order by borrower_key") == before_rows
        [(version, status, docs)] = rows(env.url, "select version, status, validation->'data_docs' from"
                                                  " shared.feed_versions order by version desc limit 1")
        assert status == "failed" and Path(docs[0]).exists()
        assert list((Path(docs[0]).parent / "validations").glob(f"*/feed-v{version}/*/*.html"))  # run named by version
        for table in ("blacklist_rows", "default_feed_rows", "held_record_rows"):  # nothing of it was staged
            assert rows(env.url, f"select count(*) from shared.{table} where version = %s", (version,)) == [(0,)]
        assert CLEAR_ID not in (env.home / "exports" / str(before) / "default_feed.csv").read_text()
        with pytest.raises(ExchangeError) as refused:
            approve(version, "the association accepts this run", by="tester")
        assert refused.value.code == "P_NOT_APPROVABLE"
    finally:
        _rebuild_candidates(env)


def test_a_negative_signal_count_fails_the_gate_and_the_live_signals_stay(env: World) -> None:
    before = live(env.url)
    before_rows = rows(env.url, "select * from shared.borrower_signals order by borrower_key")
    with psycopg.connect(env.url, autocommit=True) as conn:
        conn.execute("update publication.pub_borrower_signals_candidates set open_lenders = -1"
                     " where borrower_key = %s", (scenario.BORROWER["P4"],))
    try:
        with pytest.raises(GateFailed) as failure:
            run_publication(today=date.today())
        assert "borrower_signals_candidates/non_negative:open_lenders" in failure.value.failed
        assert live(env.url) == before
        assert rows(env.url, "select * from shared.borrower_signals order by borrower_key") == before_rows
    finally:
        _rebuild_candidates(env)


def test_a_size_jump_fails_the_gate_until_approved(env: World, monkeypatch: pytest.MonkeyPatch) -> None:
    before = live(env.url)
    monkeypatch.setenv("EXCHANGE_MAX_FEED_CHANGE", "0")
    monkeypatch.setenv("EXCHANGE_MIN_FEED_CHANGE_ROWS", "0")
    with psycopg.connect(env.url, autocommit=True) as conn:
        conn.execute("delete from publication.pub_blacklist_candidates where borrower_key = %s",
                     (scenario.BORROWER["P2"],))
    try:
        with pytest.raises(GateFailed) as failure:
            run_publication(today=date.today())
        assert failure.value.failed == ["blacklist_candidates/size_change:blacklist"]
        version = rows(env.url, "select max(version) from shared.feed_versions")[0][0]
        assert live(env.url) == before
        with pytest.raises(ExchangeError) as not_failed:
            approve(before, "approve the live one", by="tester")
        assert not_failed.value.code == "P_NOT_FAILED"
        approve(version, "P2's enforcement ended; the shrink is expected", by="tester")
        assert live(env.url) == version
        assert rows(env.url, "select approved_by, approval_reason is not null from shared.feed_versions"
                             " where version = %s", (version,)) == [("tester", True)]
        assert rows(env.url, "select approved_by, failed from control.feed_approvals where version = %s",
                    (version,)) == [("tester", ["blacklist_candidates/size_change:blacklist"])]
        assert rows(env.url, "select count(*) from control.audit_log where action = 'feed_approve'")[0][0] >= 1
    finally:
        _rebuild_candidates(env)


# ---- readers see one version ---------------------------------------------------------------------


def test_views_left_by_a_gate_killed_outright_are_dropped_by_the_next_gate_but_not_those_of_a_running_one(env: World) -> None:
    """A gate run killed outright never reaches its `finally`; its raw batch views stay until the next
    run, which leaves alone those of a run still going (the advisory lock named after it is held)."""
    abandoned, running = "gate_0123456789ab_raw_loans_batch", "gate_ba9876543210_raw_loans_batch"
    with psycopg.connect(env.url, autocommit=True) as conn, psycopg.connect(env.url, autocommit=True) as other:
        for view in (abandoned, running):
            conn.execute(f"create view exchange_state.{view} as select 1 as one")
        other.execute("select pg_advisory_lock(hashtext(%s))", (_run_lock("ba9876543210"),))
        with _raw_batch_views({"raw_loans_batch": "select 2 as two"}) as views:
            assert sorted(rows(env.url, "select viewname from pg_views where schemaname = 'exchange_state'")) == \
                sorted([(running,), (views["raw_loans_batch"],)])
        assert rows(env.url, "select viewname from pg_views where schemaname = 'exchange_state'") == [(running,)]
        other.execute("select pg_advisory_unlock_all()")
        with _raw_batch_views({}):
            pass
    assert rows(env.url, "select viewname from pg_views where schemaname = 'exchange_state'") == []


def test_a_concurrent_reader_sees_the_old_or_the_new_version_never_a_mix(env: World) -> None:
    """Versions switch while another connection keeps reading both tables in one statement."""
    with psycopg.connect(env.url, autocommit=True) as conn:
        base = conn.execute("select version from shared.live_version").fetchone()[0]
        top = conn.execute("select max(version) from shared.feed_versions").fetchone()[0]
        # stage versions alternating between the full content and a smaller one (bypassing dbt and GX)
        staged = []
        for i in range(1, 9):
            version = top + i
            drop = i % 2  # odd versions lack one listing and one episode
            conn.execute(
                "insert into shared.feed_versions (version, as_of_date, content_sha256, blacklist_rows,"
                " default_feed_rows, validation_success, status) select %s, as_of_date, repeat(%s, 64),"
                " blacklist_rows - %s, default_feed_rows - %s, true, 'validating'"
                " from shared.feed_versions where version = %s", (version, format(i, "x"), drop, drop, base))
            for table, columns, order in (("blacklist_rows", BLACKLIST_COLUMNS, "borrower_key"),
                                          ("default_feed_rows", DEFAULT_FEED_COLUMNS, "loan_ref")):
                names = ", ".join(columns)
                conn.execute(f"insert into shared.{table} (version, {names}) select %s, {names}"
                             f" from shared.{table} where version = %s order by {order} offset %s",
                             (version, base, drop))
            staged.append(version)
        expected = {v: (b, d) for v, b, d in conn.execute(
            "select version, blacklist_rows, default_feed_rows from shared.feed_versions")}
    seen: list[tuple] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            with psycopg.connect(env.url, autocommit=True) as conn:
                while not stop.is_set():
                    seen.append(conn.execute(
                        "select (select array_agg(distinct version) from shared.blacklist),"
                        " (select count(*) from shared.blacklist),"
                        " (select array_agg(distinct version) from shared.default_feed),"
                        " (select count(*) from shared.default_feed)").fetchone())
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for version in staged:
            publish_version(version, today=date.today())
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert len(seen) > len(staged)
    versions_seen = set()
    for bl_versions, bl_count, feed_versions, feed_count in seen:
        assert len(bl_versions) == 1 and bl_versions == feed_versions, (bl_versions, feed_versions)
        versions_seen.add(bl_versions[0])
        assert (bl_count, feed_count) == expected[bl_versions[0]]
    assert len(versions_seen) >= 2
    assert live(env.url) == staged[-1]


# ---- commands ------------------------------------------------------------------------------------


def test_feed_commands(env: World, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from exchange.cli.main import main

    runner = CliRunner()
    status = runner.invoke(main, ["feed", "status", "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["live"]["version"] == live(env.url)
    shown = runner.invoke(main, ["feed", "show", "default_feed", "--lender", "WD02", "--limit", "50"])
    assert shown.exit_code == 0 and "as seen by WD02" in shown.output and "WD02" in shown.output
    assert "XD01" not in shown.output
    as_csv = runner.invoke(main, ["feed", "show", "default_feed", "--csv", "--limit", "0"])
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    with psycopg.connect(env.url) as conn:
        keys = {k for (k,) in conn.execute("select borrower_key from shared.default_feed_rows where version = %s",
                                           (live(env.url),))}
    assert keys and {r["borrower_key"] for r in rows} == keys  # every row, every key whole (64 hex digits)
    as_json = json.loads(runner.invoke(main, ["feed", "show", "default_feed", "--json", "--limit", "3"]).output)
    assert as_json["version"] == live(env.url) and len(as_json["rows"]) == min(3, len(rows))
    versions = list(csv.DictReader(io.StringIO(runner.invoke(main, ["feed", "status", "--csv"]).output)))
    assert [int(v["version"]) for v in versions if v["status"] == "live"] == [live(env.url)]
    out = tmp_path / "wd02"
    exported = runner.invoke(main, ["feed", "export", str(live(env.url)), "--out", str(out), "--lender", "WD02"])
    assert exported.exit_code == 0, exported.output
    lenders = {r["reporting_lender"] for r in csv.DictReader(io.StringIO((out / "default_feed.csv").read_text()))}
    assert lenders == {"WD02", "member"}  # XD01 is the only microloan company: masked as 会员机构
    assert "source_submission_id" not in (out / "blacklist.csv").read_text().splitlines()[0]
    refused = runner.invoke(main, ["feed", "approve", str(live(env.url)), "--reason", "nothing failed here"])
    assert refused.exit_code == 2 and "P_NOT_FAILED" in refused.output
