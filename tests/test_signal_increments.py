"""The fraud-signal models rebuild by key as well as by date (macros/signal_inputs.sql, key_log.sql).

A change that touches no report, here a dispute upheld on a default episode (异议成立), changes
what the signals may count for that borrower on every past date. The monthly run must rebuild
that key's rows on every date, and only that key's: the feed-rule scenario
(tests/feed_rules_scenario.py) is built without its disputes, the disputes are recorded, one
incremental `dbt run` follows, and its signal tables must equal a full rebuild.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import feed_rules_scenario as scenario
import psycopg
import pytest
from databases import fresh_database
from dbt_scenario import insert_delivery
from dbt_support import copy_tables, dbt, environment, rows_differing

from exchange.access.tokens import ensure_lender_role
from exchange.pipeline.dbt import TransformFailed

SIGNAL_MODELS = ["intermediate.int_co_debt_signals", "intermediate.int_bust_out_signals",
                 "intermediate.int_loan_stacking_signals", "intermediate.int_identity_mismatch_signals",
                 "intermediate.int_phone_link_signals", "marts.mart_borrower_signals"]
SNAPSHOT = "incremental_signals"
S1 = scenario.BORROWER["S1"]


@dataclass(frozen=True)
class Runs:
    url: str
    before: dict[date, tuple[int, int]]
    """S1's co-debt rows (overdue lenders, open lenders) by signal date before the disputes."""
    inserted: dict[str, int]
    """Rows each signal model inserted in the incremental run after the disputes."""
    scope_keys: dict[str, set[str]]
    """The keys each signal model's monthly tests read on past dates (exchange_state.test_scope_keys)."""
    scoped_test_fails: dict[str, bool]
    """Whether the monthly not-null test of int_co_debt_signals fails on a spoiled past row of S1 / another key."""


def _s1_co_debt(conn: psycopg.Connection) -> dict[date, tuple[int, int]]:
    rows = conn.execute("select signal_date, overdue_lenders_6m, open_lenders from intermediate.int_co_debt_signals"
                        " where borrower_key = %s", (S1,)).fetchall()
    return {d: (overdue, open_) for d, overdue, open_ in rows}


def _scoped_test_fails_on_a_past_row(conn: psycopg.Connection, url: str, work: Path, key: str) -> bool:
    """Null open_lenders on `key`'s first co-debt row, run the monthly (scoped) not-null test, restore the row."""
    where = "borrower_key = %s and signal_date = (select min(signal_date) from intermediate.int_co_debt_signals" \
            " where borrower_key = %s)"
    original = conn.execute(f"select open_lenders from intermediate.int_co_debt_signals where {where}",
                            (key, key)).fetchone()[0]
    conn.execute(f"update intermediate.int_co_debt_signals set open_lenders = null where {where}", (key, key))
    try:
        dbt(url, work, "test", "--select", "int_co_debt_signals,test_name:not_null_columns",
            "--vars", "{tests_scope: rebuilt}")
        return False
    except TransformFailed:
        return True
    finally:
        conn.execute(f"update intermediate.int_co_debt_signals set open_lenders = %s where {where}",
                     (original, key, key))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    work: Path = tmp_path_factory.mktemp("signal_increments")
    with fresh_database("signal_increments") as url, psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            conn.cursor().executemany("insert into control.lenders (lender_code, name, category) values (%s, %s, %s)",
                                      scenario.LENDERS)
            for code, _, _ in scenario.LENDERS:
                ensure_lender_role(conn, code)
            insert_delivery(conn, scenario.deliveries())
        dbt(url, work, "seed")
        dbt(url, work, "run")
        before = _s1_co_debt(conn)
        with conn.transaction():
            scenario.insert_disputes(conn)
        dbt(url, work, "run")
        results = json.loads((work / "target" / "run_results.json").read_text())["results"]
        inserted = {r["unique_id"].split(".")[-1]: r["adapter_response"]["rows_affected"] for r in results
                    if r["unique_id"].startswith("model.")}
        scope_keys: dict[str, set[str]] = {}
        for model, key in conn.execute("select model, borrower_key from exchange_state.test_scope_keys"):
            scope_keys.setdefault(model, set()).add(key)
        other = conn.execute("select min(borrower_key) from intermediate.int_co_debt_signals where borrower_key <> %s",
                             (S1,)).fetchone()[0]
        scoped_test_fails = {"S1": _scoped_test_fails_on_a_past_row(conn, url, work, S1),
                             "other": _scoped_test_fails_on_a_past_row(conn, url, work, other)}
        copy_tables(conn, SIGNAL_MODELS, SNAPSHOT)
        dbt(url, work, "run", "--full-refresh", "--select", "int_signal_loans+")
        yield Runs(url, before, inserted, scope_keys, scoped_test_fails)


def test_an_upheld_dispute_removes_the_episode_from_the_keys_past_signal_rows(runs: Runs) -> None:
    with psycopg.connect(runs.url) as conn:
        after = _s1_co_debt(conn)
    # XD01's D1 was overdue (in default episode 1) from 2024-08: it counted on every date until the
    # dispute on that episode was upheld; WD02's D2 counts from April 2025 (overdue since then)
    assert {d: overdue for d, (overdue, _) in runs.before.items()}[date(2025, 1, 31)] == 1
    assert {d: overdue for d, (overdue, _) in after.items()} == {
        d: 1 if d >= date(2025, 4, 30) else 0 for d in after}
    assert {d: open_ for d, (_, open_) in after.items()} == {d: open_ for d, (_, open_) in runs.before.items()}


def test_the_incremental_signal_rows_equal_a_full_rebuild(runs: Runs) -> None:
    with psycopg.connect(runs.url) as conn:
        differ = {table: rows_differing(conn, table, f"{SNAPSHOT}.{table.replace('.', '__')}")
                  for table in SIGNAL_MODELS}
        assert not any(differ.values()), f"full rebuild against incremental: {differ}"


def test_only_the_changed_keys_rows_are_rebuilt(runs: Runs) -> None:
    with psycopg.connect(runs.url) as conn:
        s1_rows = {table.split(".")[1]: conn.execute(f"select count(*) from {table} where borrower_key = %s",
                                                     (S1,)).fetchone()[0] for table in SIGNAL_MODELS}
        key_log = conn.execute("select count(*) from exchange_state.key_log where borrower_key = %s", (S1,)).fetchone()
    assert s1_rows["int_co_debt_signals"] == len(runs.before) > 1
    # the disputes change no report and no rule: nothing is rebuilt by date, S1 is rebuilt by key
    assert {model: runs.inserted[model] for model in ("int_co_debt_signals", "int_bust_out_signals",
                                                      "int_loan_stacking_signals", "mart_borrower_signals")} == {
        model: s1_rows[model] for model in ("int_co_debt_signals", "int_bust_out_signals",
                                            "int_loan_stacking_signals", "mart_borrower_signals")}
    assert runs.inserted["int_phone_link_signals"] == runs.inserted["int_identity_mismatch_signals"] == 0
    assert key_log == (0,)  # logged for the readers, gone once every reader has read it


def test_the_monthly_tests_read_the_keys_rebuilt_on_past_dates_and_no_other_past_row(runs: Runs) -> None:
    # nothing was rebuilt by date, so every row of the signal tables is a past row: the monthly
    # tests read S1's, the key rebuilt, and no other key's
    rebuilt_by_key = ("int_co_debt_signals", "int_bust_out_signals", "int_loan_stacking_signals",
                      "mart_borrower_signals")
    assert {model: runs.scope_keys.get(model) for model in rebuilt_by_key} == {model: {S1} for model in rebuilt_by_key}
    assert set().union(*runs.scope_keys.values()) == {S1}
    assert runs.scoped_test_fails == {"S1": True, "other": False}


def test_signal_models_build_while_the_keys_table_is_analyzed_and_the_monthly_tests_analyze_it(
        runs: Runs, tmp_path: Path) -> None:
    # The signal models record the keys their tests read in one shared table. An ANALYZE of it
    # holds a lock that another ANALYZE waits for until the first one's transaction ends: done in
    # each model's transaction, the signal models that run side by side waited for each other's
    # whole build. Here the lock an ANALYZE holds is taken and kept: two signal models must still
    # build (a wait fails after 5 s), and the monthly tests analyze the table once, at their start.
    analyzed = ("select analyze_count from pg_stat_user_tables"
                " where schemaname = 'exchange_state' and relname = 'test_scope_keys'")
    with psycopg.connect(runs.url, autocommit=True) as conn, psycopg.connect(runs.url) as analyzing:
        before = conn.execute(analyzed).fetchone()[0]
        analyzing.execute("lock table exchange_state.test_scope_keys in share update exclusive mode")
        with environment(PGOPTIONS="-c lock_timeout=5s"):
            dbt(runs.url, tmp_path, "run", "--select", "int_identity_mismatch_signals int_loan_stacking_signals")
        analyzing.rollback()
        after_run = conn.execute(analyzed).fetchone()[0]
        dbt(runs.url, tmp_path, "test", "--select", "int_co_debt_signals,test_name:not_null_columns",
            "--vars", "{tests_scope: rebuilt}")
        after_test = conn.execute(analyzed).fetchone()[0]
    assert (after_run - before, after_test - after_run) == (0, 1)
