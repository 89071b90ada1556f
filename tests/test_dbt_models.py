"""The dbt project against PostgreSQL on crafted data (tests/dbt_scenario.py).

One fresh database per session: the deliveries go in one by one with an incremental `dbt run`
after each (a correction of an old month and a change of loan attributes among them), the
resulting tables are kept aside, then `dbt build --full-refresh` rebuilds everything and runs
every data and unit test. The two sets of tables must be identical (EXCEPT ALL both ways), and
the marts must agree with an independent computation in pandas.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import dbt_scenario
import pandas as pd
import psycopg
import pytest
from databases import fresh_database
from dateutil.relativedelta import relativedelta
from dbt_support import copy_tables, dbt, environment, model_tables, rows_differing, rows_out_of_month_order

from exchange.access.logins import add_analyst, remove_analyst
from exchange.core.settings import PROJECT_ROOT
from exchange.pipeline.dbt import DBT_PROJECT_DIR, TransformFailed, dbt_env, run_dbt
from exchange_tools.demo import portfolio_summary

SNAPSHOT_SCHEMA = "incremental_snapshot"
COLLECTION_ONLY = ("int_collection_", "mart_collection_", "mart_conduct_")
"""Models built from collection_actions alone: empty on this scenario, compared all the same."""
FORCED_REBUILD_RUN = 6  # this incremental run also passes var('as_of'), as the DAG does


@dataclass(frozen=True)
class Built:
    url: str
    work_dir: Path
    compared_tables: list[str]
    idle_run_rows: dict[str, int]
    """Rows each incremental model inserted in a run with nothing new in the raw zone."""
    build_statuses: dict[str, str]
    """Status of every node and test of the full `dbt build`, by unique id."""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    work_dir = tmp_path_factory.mktemp("dbt")
    with fresh_database("dbt") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            dbt_scenario.insert_lenders(conn)
            dbt(url, work_dir, "seed")
            for run, batch in enumerate(dbt_scenario.deliveries(), start=1):
                with conn.transaction():
                    dbt_scenario.insert_delivery(conn, batch)
                extra = ["--vars", f"{{as_of: '{dbt_scenario.MONTHS[2]}'}}"] if run == FORCED_REBUILD_RUN else []
                dbt(url, work_dir, "run", *extra)
            dbt(url, work_dir, "run", "--select", "config.materialized:incremental")
            results = json.loads((work_dir / "target" / "run_results.json").read_text())["results"]
            idle_run_rows = {r["unique_id"].split(".")[-1]: r["adapter_response"]["rows_affected"] for r in results
                             if r["unique_id"].startswith("model.")}
            tables = model_tables(conn)
            copy_tables(conn, tables, SNAPSHOT_SCHEMA)
            dbt(url, work_dir, "build", "--full-refresh")
            results = json.loads((work_dir / "target" / "run_results.json").read_text())["results"]
            statuses = {r["unique_id"]: r["status"] for r in results}
        yield Built(url, work_dir, tables, idle_run_rows, statuses)


def frame(conn: psycopg.Connection, sql: str) -> pd.DataFrame:
    cur = conn.execute(sql)
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


# ---- the incremental path equals the full refresh ----------------------------------------


def test_incremental_runs_equal_a_full_refresh(built: Built) -> None:
    assert {"intermediate.int_loan_status_history", "marts.dim_loan"} <= set(built.compared_tables)
    with psycopg.connect(built.url) as conn:
        assert model_tables(conn) == built.compared_tables
        for table in built.compared_tables:
            full = conn.execute(f"select count(*) from {table}").fetchone()[0]
            # this scenario sends no collection_actions (tests/test_collection_models.py covers those models)
            assert full > 0 or table.split(".")[1].startswith(COLLECTION_ONLY), f"{table} is empty"
            differ = rows_differing(conn, table, f"{SNAPSHOT_SCHEMA}.{table.replace('.', '__')}")
            assert differ is None, f"{table} (full refresh, {full} rows) against the incremental runs: {differ}"


def test_incremental_run_without_news_rebuilds_nothing(built: Built) -> None:
    assert built.idle_run_rows == {
        "int_loan_status_history": 0,
        "int_consistency_findings": 0, "int_borrower_months": 0, "mart_roll_rates": 0, "dim_loan": 0,
        "mart_portfolio_quality": 0, "int_delinquency_segments": 0, "int_phone_link_signals": 0,
        "int_identity_mismatch_signals": 0, "int_loan_stacking_signals": 0, "int_bust_out_signals": 0,
        "int_co_debt_signals": 0, "int_signal_loans": 0, "mart_borrower_signals": 0,
        "int_collection_actions": 0, "int_collection_debtor_days": 0, "int_collection_first_contacts": 0,
        "int_collection_promises": 0, "mart_collection_conduct": 0, "int_loans_latest": 0,
        "int_loan_latest_reports": 0, "int_default_episodes": 0, "int_lender_month_classification": 0,
    }


@pytest.mark.parametrize("table", ["intermediate.int_loan_status_history", "intermediate.int_borrower_months"])
def test_a_full_build_writes_the_loan_month_tables_in_month_order(built: Built, table: str) -> None:
    # a month's rows sit together on disk, so a monthly read (the models' windows through the
    # status-file index, the marts' windows, the monthly tests) touches a month's pages, not most
    # of the table's (macros/incremental.sql, month_order)
    with psycopg.connect(built.url) as conn:
        rows, out_of_order = rows_out_of_month_order(conn, table, "report_month")
    assert rows > 0 and out_of_order == 0


def test_correction_and_attribute_change_reached_old_months(built: Built) -> None:
    with psycopg.connect(built.url) as conn:
        # XD01's month-2 file was corrected in delivery 4: A1 is current in month 2, from the correction
        a1 = conn.execute(
            "select f.dpd, s.seq from marts.fct_loan_status f join control.submissions s"
            " on s.submission_id = f.status_submission_id"
            " where f.loan_id = 'A1' and f.as_of_date = '2025-02-28'").fetchone()
        assert a1 == (0, 2)
        # B1's region changed in month 5's loans file: every month of its history carries the new one
        regions = conn.execute("select distinct region_code from marts.fct_loan_status where loan_id = 'B1'").fetchall()
        assert regions == [("110108",)]


# ---- the standard on the scenario's cases ---------------------------------------------


def test_every_unit_test_runs_and_passes_here(built: Built) -> None:
    """The monthly transform leaves unit tests out (exchange_transform): this build is where they run."""
    manifest = json.loads((built.work_dir / "target" / "manifest.json").read_text())
    unit_tests = set(manifest["unit_tests"])
    assert len(unit_tests) >= 20
    assert {uid: built.build_statuses.get(uid) for uid in unit_tests} == dict.fromkeys(unit_tests, "pass")


def test_every_schema_dbt_builds_into_exists_after_the_migrations_alone(built: Built) -> None:
    """exchange_transform builds each model in its own task, and tasks run at once (Celery workers,
    LocalExecutor's parallelism): a schema dbt had to create would be created by two tasks at once on
    a new database, and one of them fails (CREATE SCHEMA IF NOT EXISTS is not safe against a concurrent
    one: a Celery deployment test failed so on the publication schema). The migrations create them all."""
    manifest = json.loads((built.work_dir / "target" / "manifest.json").read_text())
    schemas = {node["schema"] for node in manifest["nodes"].values() if node["resource_type"] in ("model", "seed")}
    assert {"staging", "intermediate", "marts", "publication", "rules"} <= schemas
    with fresh_database("schemas") as url, psycopg.connect(url) as conn:
        existing = {name for (name,) in conn.execute("select nspname from pg_namespace")}
    assert schemas - existing == set()


def test_every_test_spanning_nodes_or_none_has_its_transform_task(built: Built) -> None:
    """exchange_transform runs a model's tests in the model's task, but a test reading a second
    node must wait for it: the seeds' own tests run in rule_seeds (tag rule_seeds), the tests
    between models in cross_model_tests (tag cross_model). Untagged, such a test would run in the
    first parent's task, before the other parent is (re)built; a test of no node would run in no
    task at all (Cosmos renders a test with the node it tests), so it goes with cross_model."""
    manifest = json.loads((built.work_dir / "target" / "manifest.json").read_text())
    untagged = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test":
            continue
        parents = {uid for uid in node["depends_on"]["nodes"] if uid.split(".")[0] in ("model", "seed")}
        if len(parents) == 1:
            continue
        only_seeds = bool(parents) and all(uid.startswith("seed.") for uid in parents)
        if ("rule_seeds" if only_seeds else "cross_model") not in node["config"]["tags"]:
            untagged.append(node["name"])
    assert untagged == []
    cross_model = [n for n in manifest["nodes"].values() if "cross_model" in n["config"].get("tags", [])]
    assert len(cross_model) >= 10
    assert all(built.build_statuses.get(n["unique_id"]) == "pass" for n in cross_model)


def test_default_episodes(built: Built) -> None:
    with psycopg.connect(built.url) as conn:
        episodes = {
            r[0]: r[1:]
            for r in conn.execute(
                "select loan_id, default_date, entry_reasons, episode_status, end_date"
                " from marts.fct_default_episodes").fetchall()
        }
    assert episodes == {
        "A2": (date(2025, 5, 31), "dpd_over_90", "written_off", None),
        # cure on elapsed time: A3 and E3 are clean from 03-31, six months elapse only on 09-30
        "A3": (date(2025, 2, 28), "dpd_over_90", "ongoing", None),
        "A4": (date(2025, 3, 31), "dpd_over_90", "ongoing", None),
        "B2": (date(2025, 5, 31), "fraud", "ongoing", None),
        "B4": (date(2025, 1, 31), "dpd_over_90", "settled", date(2025, 3, 31)),
        "E1": (date(2025, 4, 30), "dpd_over_90", "compensated", date(2025, 6, 30)),
        "E2": (date(2025, 1, 31), "judgment", "cured", date(2025, 8, 31)),  # clean from 02-28
        "E3": (date(2025, 2, 28), "dishonest", "ongoing", None),
        "B8": (date(2025, 4, 30), "dpd_over_90", "ongoing", None),
        "B9": (date(2025, 4, 30), "dpd_over_90", "ongoing", None),
        "B10": (date(2025, 4, 30), "dpd_over_90", "ongoing", None),
    }


def test_classes_held_until_cure(built: Built) -> None:
    with psycopg.connect(built.url) as conn:
        rows = dict(conn.execute(
            "select loan_id || ' ' || as_of_date, standardized_class from marts.fct_loan_status"
            " where loan_id in ('A3', 'A4', 'E1')").fetchall())
    # clean from 03-31: six reports by 08-31 but five months elapsed, so still held at 次级
    assert [rows[f"A3 {m}"] for m in dbt_scenario.MONTHS] == [1, 3, 3, 3, 3, 3, 3, 3]
    assert rows["A4 2025-08-31"] == 3  # five clean months: still held at 次级
    assert rows["E1 2025-04-30"] == 4  # the lender's class 4 beats the non_retail floor 3
    assert rows["E1 2025-05-31"] == 3  # DPD 127: non_retail floor 次级 (retail would be 可疑)


def test_repayment_profiles(built: Built) -> None:
    with psycopg.connect(built.url) as conn:
        profiles = dict(conn.execute(
            "select loan_id || ' ' || as_of_date, repayment_profile_24m from marts.fct_loan_status").fetchall())
    assert profiles["A2 2025-08-31"] == "GG54321*"
    assert profiles["A3 2025-08-31"] == "NNNNNN4N###"
    assert profiles["A5 2025-07-31"] == "C*****"
    assert profiles["E1 2025-06-30"] == "D5432N#######"
    assert profiles["B3 2025-04-30"] == "CNCN#######"


def test_consistency_findings(built: Built) -> None:
    line = dbt_scenario.status_line
    with psycopg.connect(built.url) as conn:
        findings = sorted(conn.execute(
            "select finding_code, loan_id, as_of_date::text, severity, submission_id, line, previous_submission_id,"
            " previous_line from intermediate.int_consistency_findings"
        ).fetchall(), key=lambda row: row[:3])
    assert findings == [
        ("C_BALANCE_GROWTH", "B1", "2025-04-30", "medium", *line("WD02", "B1", 4), *line("WD02", "B1", 3)),
        ("C_BALANCE_GROWTH", "B3", "2025-03-31", "medium", *line("WD02", "B3", 3), *line("WD02", "B3", 2)),
        ("C_CURRENT_WITH_ARREARS", "A6", "2025-03-31", "high", *line("XD01", "A6", 3), *line("XD01", "A6", 2)),
        # A7 and B6 are absent from the file; B5's month-5 row and B7's month-6 row were rejected by
        # the exchange: no finding for either (B7's rejected row may have settled it)
        ("C_DISAPPEARED", "A7", "2025-05-31", "medium", dbt_scenario.status_file("XD01", 5), None,
         *line("XD01", "A7", 4)),
        ("C_DISAPPEARED", "B6", "2025-05-31", "medium", dbt_scenario.status_file("WD02", 5), None,
         *line("WD02", "B6", 4)),
        ("C_DPD_MISMATCH", "A6", "2025-02-28", "low", *line("XD01", "A6", 2), None, None),
        ("C_REACTIVATED", "B3", "2025-03-31", "high", *line("WD02", "B3", 3), *line("WD02", "B3", 2)),
        # DPD 40 -> 3 while overdue (more than the 28 days elapsed); B8 DPD 120 -> 0 as normal without
        # a payment (B9 with a last_payment_date in the month and B10 restructured are not re-aged)
        ("C_REAGING", "A6", "2025-02-28", "high", *line("XD01", "A6", 2), *line("XD01", "A6", 1)),
        ("C_REAGING", "B8", "2025-05-31", "high", *line("WD02", "B8", 5), *line("WD02", "B8", 4)),
    ]


def test_no_disappearance_rests_on_a_row_the_exchange_rejected(built: Built) -> None:
    with psycopg.connect(built.url) as conn:
        rejected = conn.execute(
            "select f.loan_id from intermediate.int_consistency_findings f"
            " join control.row_problems p on p.submission_id = f.submission_id and p.loan_id = f.loan_id"
            " where f.finding_code = 'C_DISAPPEARED' and p.severity = 'error'").fetchall()
        quarantined = conn.execute("select count(*) from control.row_problems where severity = 'error'").fetchone()[0]
    assert (rejected, quarantined) == ([], 2)


# ---- marts against an independent computation ------------------------------------------


def _retail_floor(dpd: int) -> int:
    return 1 if dpd == 0 else 2 if dpd <= 90 else 3 if dpd <= 120 else 4 if dpd <= 180 else 5


def _non_retail_floor(dpd: int) -> int:
    return 1 if dpd == 0 else 2 if dpd <= 90 else 3 if dpd <= 270 else 4 if dpd <= 360 else 5


def independent_status(conn: psycopg.Connection) -> pd.DataFrame:
    """Status rows in force, classified by a plain reading of the standard (a loop, not windows)."""
    subs = frame(conn, "select submission_id, seq, verdict, superseded_by from control.submissions")
    effective = subs[subs.verdict.isin(["accepted", "accepted_with_errors"]) & subs.superseded_by.isna()]
    loans = frame(conn, "select * from raw.loans").merge(effective[["submission_id", "seq"]], on="submission_id")
    loans = (loans.sort_values(["as_of_date", "seq", "submission_id", "line"])
             .drop_duplicates(["lender_code", "loan_id"], keep="last"))
    status = frame(conn, "select * from raw.loan_status").merge(effective[["submission_id", "seq"]], on="submission_id")
    status = (status.sort_values(["seq", "submission_id", "line"])
              .drop_duplicates(["lender_code", "loan_id", "as_of_date"], keep="last"))
    status = status.merge(
        loans[["lender_code", "loan_id", "borrower_key", "borrower_type", "product_type", "region_code", "issue_date",
               "principal"]], on=["lender_code", "loan_id"])
    records = []
    for _, rows in status.sort_values("as_of_date").groupby(["lender_code", "loan_id"]):
        in_default, clean_since, restructured_on, previous = False, None, None, None
        for row in rows.itertuples():
            overdue = row.overdue_principal + row.overdue_interest
            dpd = (row.as_of_date - row.overdue_since).days if overdue > 0 else 0
            floor = (_retail_floor if row.borrower_type == "individual" else _non_retail_floor)(dpd)
            override = max([0]
                           + [5] * (row.account_status == "written_off") + [2] * (row.account_status == "restructured")
                           + [3] * bool(row.fraud_flag) + [3] * (row.legal_status == "dishonest"))
            trigger = (dpd > 90 or row.account_status == "written_off" or bool(row.fraud_flag)
                       or row.legal_status in ("judgment", "enforcement", "dishonest"))
            clean = dpd == 0 and override == 0 and not trigger
            month = row.as_of_date.year * 12 + row.as_of_date.month
            continues = previous is not None and previous[1] and month - previous[0] <= 1
            clean_since = (clean_since if continues else row.as_of_date) if clean else None
            if row.account_status == "restructured":
                restructured_on = row.as_of_date
            # cured: six calendar months since the first clean report, a year after a restructuring
            cured = (clean_since is not None and row.as_of_date >= clean_since + relativedelta(months=6)
                     and (restructured_on is None or row.as_of_date >= restructured_on + relativedelta(months=12)))
            in_default = in_default or trigger
            if in_default and (row.account_status in ("settled", "compensated", "transferred") or cured):
                in_default = False
            lender = 0 if pd.isna(row.lender_risk_class) else int(row.lender_risk_class)
            standardized = max(floor, override, 3 if in_default else 0, lender)
            records.append({
                "lender_code": row.lender_code, "loan_id": row.loan_id, "borrower_key": row.borrower_key,
                "borrower_type": row.borrower_type, "product_type": row.product_type, "region_code": row.region_code,
                "issue_month": date(row.issue_date.year, row.issue_date.month, 1), "principal": row.principal,
                "report_month": date(row.as_of_date.year, row.as_of_date.month, 1), "dpd": dpd,
                "outstanding": row.outstanding_principal, "standardized_class": standardized, "in_default": in_default,
                "active": row.account_status in ("normal", "overdue", "restructured"),
            })
            previous = (month, clean)
    return pd.DataFrame.from_records(records)


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    return None if denominator == 0 else round(Decimal(numerator) / Decimal(denominator), 6)


def test_portfolio_quality_matches_independent_computation(built: Built) -> None:
    with psycopg.connect(built.url) as conn:
        status = independent_status(conn)
        mart = frame(conn, "select * from marts.mart_portfolio_quality")
    book = status[status.active]
    expected = {}
    for keys, group in book.groupby(["report_month", "lender_code", "product_type", "region_code"]):
        outstanding = group.outstanding.sum()
        expected[keys] = {
            "active_loans": len(group),
            "outstanding_principal": outstanding,
            "m1_plus_balance_ratio": _ratio(group[group.dpd >= 1].outstanding.sum(), outstanding),
            "m2_plus_balance_ratio": _ratio(group[group.dpd >= 31].outstanding.sum(), outstanding),
            "m3_plus_balance_ratio": _ratio(group[group.dpd >= 61].outstanding.sum(), outstanding),
            "dpd90_plus_balance_ratio": _ratio(group[group.dpd >= 91].outstanding.sum(), outstanding),
            "m1_plus_count_ratio": _ratio(Decimal(int((group.dpd >= 1).sum())), Decimal(len(group))),
            "dpd90_plus_count_ratio": _ratio(Decimal(int((group.dpd >= 91).sum())), Decimal(len(group))),
            "npl_ratio": _ratio(group[group.standardized_class >= 3].outstanding.sum(), outstanding),
        }
    actual = {
        (r.report_month, r.lender_code, r.product_type, r.region_code): {k: getattr(r, k) for k in expected[
            (r.report_month, r.lender_code, r.product_type, r.region_code)]}
        for r in mart.itertuples()
    }
    assert actual == expected
    assert any(v["npl_ratio"] not in (None, 0) for v in expected.values())


def test_multi_lender_matches_independent_computation(built: Built) -> None:
    with psycopg.connect(built.url) as conn:
        status = independent_status(conn)
        mart = frame(conn, "select report_month, borrower_type, active_lender_count, borrowers from marts.mart_multi_lender")
    lenders = (status[status.active].groupby(["report_month", "borrower_type", "borrower_key"]).lender_code.nunique()
               .reset_index(name="active_lender_count"))
    expected = lenders.groupby(["report_month", "borrower_type", "active_lender_count"]).size().to_dict()
    actual = {(r.report_month, r.borrower_type, r.active_lender_count): r.borrowers for r in mart.itertuples()}
    assert actual == expected
    assert max(k[2] for k in actual) == 2  # P1, P2 and Q1 borrow at two lenders


def test_vintage_matches_independent_computation(built: Built) -> None:
    with psycopg.connect(built.url) as conn:
        status = independent_status(conn)
        mart = frame(conn, "select * from marts.mart_vintage")
    status["month_on_book"] = [(r.year - i.year) * 12 + r.month - i.month
                               for r, i in zip(status.report_month, status.issue_month, strict=True)]
    first_90 = status[status.dpd >= 91].groupby(["lender_code", "loan_id"]).month_on_book.min()
    loans = status.drop_duplicates(["lender_code", "loan_id"]).set_index(["lender_code", "loan_id"])
    loans["first_90"] = first_90
    last_month = status.groupby("lender_code").report_month.max()
    expected = {}
    for (lender, product, cohort), group in loans.groupby(["lender_code", "product_type", "issue_month"]):
        horizon = (last_month[lender].year - cohort.year) * 12 + last_month[lender].month - cohort.month
        for mob in range(horizon + 1):
            expected[(lender, product, cohort, mob)] = _ratio(
                Decimal(int((group.first_90 <= mob).sum())), Decimal(len(group)))
    actual = {(r.lender_code, r.product_type, r.cohort_month, r.month_on_book): r.ever_90_plus_share
              for r in mart.itertuples()}
    assert actual == expected
    assert expected[("XD01", "consumer_loan", date(2025, 1, 1), 4)] == 1  # A2 reached DPD 112 at month on book 4


def test_submission_quality(built: Built) -> None:
    with psycopg.connect(built.url) as conn:
        subs = frame(conn, "select lender_code, kind, as_of_date, received_at, verdict from control.submissions")
        mart = frame(conn, "select * from marts.mart_lender_submission_quality")
    loaded = subs[(subs.kind == "loan_status") & subs.verdict.isin(["accepted", "accepted_with_errors"])].copy()
    loaded["received_date"] = [ts.astimezone(dbt_scenario.SHANGHAI).date() for ts in loaded.received_at]
    loaded["period_month"] = [date(d.year, d.month, 1) for d in loaded.as_of_date]
    first = loaded.groupby(["lender_code", "period_month"]).agg(received=("received_date", "min"),
                                                                 as_of=("as_of_date", "max"))
    expected = {k: "on_time" if r.received <= r.as_of + timedelta(days=15) else "late" for k, r in first.iterrows()}
    actual = {(r.lender_code, r.period_month): r.status_timeliness for r in mart.itertuples()}
    assert actual == expected
    assert actual[("DB03", date(2025, 6, 1))] == "late"
    row = mart.set_index(["lender_code", "period_month"]).loc[("DB03", date(2025, 3, 1))]
    assert (row.files_rejected, row.files_received, row.file_rejection_rate) == (1, 2, Decimal("0.5"))
    assert mart.set_index(["lender_code", "period_month"]).loc[("XD01", date(2025, 2, 1))].files_corrected == 1
    assert mart.consistency_findings.sum() == 9
    assert mart.under_classified_reports.sum() > 0


# ---- the Python entry points -------------------------------------------------------------


def test_portfolio_summary(built: Built) -> None:
    with psycopg.connect(built.url) as conn:
        summary = {row["lender_code"]: row for row in portfolio_summary(conn)}
    assert set(summary) == {"XD01", "WD02", "DB03"}
    xd = summary["XD01"]
    assert xd["report_month"] == date(2025, 8, 1)
    # A1, A3, A4, A6, A8 active at 2025-08-31 (A2 written off, A5 settled, A7 gone); A3 and A4 still in
    # default (clean since 03-31 and 04-30: six months have not elapsed), so both are 次级
    assert xd["loans"] == 5
    assert xd["outstanding"] == Decimal(3400 + 30000 + 4500 + 6000 + 75000)
    assert xd["m1_plus_ratio"] == 0
    assert xd["npl_ratio"] == round(Decimal(30000 + 4500) / xd["outstanding"], 6)


def test_docs_generate(built: Built) -> None:
    dbt(built.url, built.work_dir, "docs", "generate")
    catalog = json.loads((built.work_dir / "target" / "catalog.json").read_text())
    manifest = json.loads((built.work_dir / "target" / "manifest.json").read_text())
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert "model.exchange.fct_loan_status" in catalog["nodes"]
    undocumented = [f"{name}.{column}" for name, node in models.items()
                    for column in catalog["nodes"].get(node["unique_id"], {"columns": {}})["columns"]
                    if not node["columns"].get(column, {}).get("description")]
    assert undocumented == []
    assert all(node["description"] for node in models.values())


def _compile_inline(built: Built, sql: str) -> str:
    """The SQL dbt compiles from `sql` (Jinja calling the project's macros) against the built database."""
    from dbt.cli.main import dbtRunner

    # the profile reads the connection from dbt_env(), evaluated once the URL is set
    with environment(EXCHANGE_DB_URL=built.url), environment(**dbt_env()):
        result = dbtRunner().invoke(["compile", "--inline", sql, "--project-dir", str(DBT_PROJECT_DIR),
                                     "--profiles-dir", str(DBT_PROJECT_DIR),
                                     "--target-path", str(built.work_dir / "target_inline"),
                                     "--log-path", str(built.work_dir / "logs")])
    assert result.success, result.exception
    return result.result.results[0].node.compiled_code


def test_the_unique_test_trusts_a_unique_index_but_still_finds_null_duplicates(built: Built) -> None:
    """unique_combination_of_columns groups only rows with a null key where a unique index holds,
    on the table and on the subquery a scoped test reads; without the index it groups every row."""
    with psycopg.connect(built.url, autocommit=True) as conn:
        conn.execute("drop schema if exists scratch_unique cascade; create schema scratch_unique")
        for table, indexed in (("indexed", True), ("bare", False)):
            conn.execute(f"create table scratch_unique.{table} (a int, b int)")
            if indexed:
                conn.execute(f"create unique index on scratch_unique.{table} (b, a)")
            conn.execute(f"insert into scratch_unique.{table} values (1, 1), (2, 2), (null, 1), (null, 1)")
        conn.execute("insert into scratch_unique.bare values (2, 2)")  # a duplicate the index would refuse
        database = conn.info.dbname
        found = {}
        for table in ("indexed", "bare"):
            relation = f"api.Relation.create(database='{database}', schema='scratch_unique', identifier='{table}')"
            subquery = f'(select * from "{database}"."scratch_unique"."{table}" where a is null or a > 0) dbt_subquery'
            for form, model in (("table", relation), ("subquery", repr(subquery))):
                sql = _compile_inline(built, f"{{{{ test_unique_combination_of_columns({model}, ['a', 'b']) }}}}")
                found[table, form] = (sorted(conn.execute(f"select a, b, occurrences from ({sql}) t").fetchall(),
                                             key=str), "pg_index" in sql)
    assert found["indexed", "table"] == found["indexed", "subquery"] == ([(None, 1, 2)], True)
    assert found["bare", "table"][0] == found["bare", "subquery"][0] == [(2, 2, 2), (None, 1, 2)]


def test_run_dbt_raises_a_reason_code(built: Built) -> None:
    with environment(EXCHANGE_DB_URL=built.url), pytest.raises(TransformFailed) as failure:
        run_dbt(["run", "--select", "int_loan_status_history", "--vars", "{as_of: '2025-13'}",
                 "--target-path", str(built.work_dir / "target_failure"),
                 "--log-path", str(built.work_dir / "logs")])
    assert failure.value.code == "T_DBT_FAILED"
    assert failure.value.failures == ["int_loan_status_history: error"]
    # the database's own words come with it, not only in the dbt log
    assert ("\n- int_loan_status_history: error: Compilation Error in model int_loan_status_history "
            "(models/intermediate/int_loan_status_history.sql)\nvar('as_of') must be a date YYYY-MM-DD, got '2025-13'"
            in str(failure.value))


def test_the_analyst_guide_queries_run_as_an_analyst_login(built: Built) -> None:
    """Every query the analyst guide gives runs as a login in the analyst group, which reads the
    marts and nothing else."""
    guide = (PROJECT_ROOT / "docs" / "analyst-guide.md").read_text(encoding="utf-8")
    queries = re.findall(r"```sql\n(.*?)```", guide, flags=re.S)
    assert len(queries) >= 8
    name = f"t{uuid.uuid4().hex[:8]}"
    with psycopg.connect(built.url, autocommit=True) as conn:
        login = add_analyst(conn, name, built.url)
        try:
            with psycopg.connect(login.conninfo, autocommit=True) as analyst:
                assert analyst.execute("select current_user").fetchone()[0] == f"analyst_{name}"
                for query in queries:
                    analyst.execute(query).fetchall()
                for private in ("raw.loans", "control.submissions", "shared.blacklist_rows"):
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        analyst.execute(f"select 1 from {private} limit 1")
        finally:
            assert remove_analyst(conn, name)
        actions = [a for (a,) in conn.execute("select action from control.audit_log where object = %s order by at",
                                               (f"analyst_{name}",))]
        assert actions == ["analyst_login_added", "analyst_login_removed"]


def test_monthly_data_tests_read_only_the_months_a_run_rebuilt(built: Built) -> None:
    """With tests_scope 'rebuilt' (the monthly transform) an incremental model's data tests read
    the months its latest run rebuilt: a bad row in a month it kept is found only by the whole
    test, one in a month it rebuilt by both. Last in the module: it rebuilds the history."""
    history = "intermediate.int_loan_status_history"
    select = ["--select", "int_loan_status_history,test_name:not_null_columns", "--exclude-resource-type", "unit_test"]
    scoped = [*select, "--vars", "{tests_scope: rebuilt}"]
    failing = "not_null_columns_int_loan_statu"
    last_month = dbt_scenario.MONTHS[-1]
    with psycopg.connect(built.url, autocommit=True) as conn:
        def spoil(as_of: date) -> tuple:
            row = conn.execute(f"select lender_code, loan_id, as_of_date, exchange_class from {history}"
                               " where as_of_date = %s order by loan_id limit 1", (as_of,)).fetchone()
            conn.execute(f"update {history} set exchange_class = null"
                         " where lender_code = %s and loan_id = %s and as_of_date = %s", row[:3])
            return row

        def restore(row: tuple) -> None:
            conn.execute(f"update {history} set exchange_class = %s"
                         " where lender_code = %s and loan_id = %s and as_of_date = %s", (row[3], *row[:3]))

        dbt(built.url, built.work_dir, "run", "--select", "int_loan_status_history")  # nothing new
        assert conn.execute("select first_month from exchange_state.test_scope"
                            " where model = 'int_loan_status_history'").fetchone() == (None,)
        kept = spoil(dbt_scenario.MONTHS[0])
        try:
            dbt(built.url, built.work_dir, "test", *scoped)
            with pytest.raises(TransformFailed, match=failing):
                dbt(built.url, built.work_dir, "test", *select)
        finally:
            restore(kept)

        dbt(built.url, built.work_dir, "run", "--select", "int_loan_status_history",
            "--vars", f"{{as_of: '{last_month}'}}")
        assert conn.execute("select first_month from exchange_state.test_scope"
                            " where model = 'int_loan_status_history'").fetchone() == (last_month.replace(day=1),)
        rebuilt = spoil(last_month)
        try:
            with pytest.raises(TransformFailed, match=failing):
                dbt(built.url, built.work_dir, "test", *scoped)
        finally:
            restore(rebuilt)


def assert_planner_estimates_a_month(url: str, relation: str, condition: str) -> None:
    """`condition` on `relation` (a table, optionally with an alias) keeps a month's share of the
    rows (under a quarter), and the planner's estimate of them is within 2x: what decides whether
    it reads the month through an index or scans the whole table."""
    table = relation.split()[0]
    with psycopg.connect(url) as conn:
        conn.execute(f"analyze {table}")
        rows = conn.execute(f"select count(*) from {relation} where {condition}").fetchone()[0]
        total = conn.execute(f"select count(*) from {table}").fetchone()[0]
        plan = conn.execute(f"explain (format json) select * from {relation} where {condition}").fetchone()[0]
    estimate = plan[0]["Plan"]["Plan Rows"]
    assert 0 < rows < total / 4
    assert rows / 2 <= estimate <= rows * 2, f"estimated {estimate} rows for {rows} (table {total})"


def test_a_monthly_run_deletes_its_months_with_an_estimate_of_those_months(built: Built) -> None:
    """The incremental strategy deletes the months a run rebuilds with their lenders and first
    month written out: joined to the window (a table without statistics), the delete was planned
    for a third of the table and scanned all of it every month (523 MB of fct_loan_status at 200k
    loans, to delete no row). The planner's estimate must be the months' rows."""
    history = "intermediate.int_loan_status_history"
    last_month = dbt_scenario.MONTHS[-1]
    dbt(built.url, built.work_dir, "run", "--select", "int_loan_status_history",
        "--vars", f"{{as_of: '{last_month}'}}")
    sql = (built.work_dir / "target" / "run" / "exchange" / "models" / "intermediate"
           / "int_loan_status_history.sql").read_text()
    deletes = re.findall(r"delete from \S+\.\"int_loan_status_history\" as built\s+where (.+?);", sql, re.S)
    assert len(deletes) == 1, sql
    assert f"built.report_month >= date '{last_month.replace(day=1)}'" in deletes[0]
    assert_planner_estimates_a_month(built.url, f"{history} as built", deletes[0])


@pytest.mark.parametrize("relation", ["intermediate.int_loan_status_history", "marts.fct_loan_status"])
def test_a_monthly_data_test_reads_its_months_with_an_estimate_of_those_months(built: Built, relation: str) -> None:
    """Under the monthly scope the tests of a model with a status-file index keep the status files
    of the months its run rebuilt, written out: as an array parameter the planner could not see how
    few rows that keeps, and dbt's accepted_values tests on the history scanned all of it every
    month (290k blocks at a million loans). The planner's estimate must be the months' rows. The
    view fct_loan_status (config rows_of) is tested in the history's scope, through its index."""
    model = relation.split(".")[1]
    last_month = dbt_scenario.MONTHS[-1]
    dbt(built.url, built.work_dir, "run", "--select", "int_loan_status_history",
        "--vars", f"{{as_of: '{last_month}'}}")
    dbt(built.url, built.work_dir, "test", "--select", f"{model},test_name:accepted_values",
        "--exclude-resource-type", "unit_test", "--vars", "{tests_scope: rebuilt}")
    compiled = sorted((built.work_dir / "target" / "run").rglob(f"accepted_values_{model[:14]}*.sql"))
    assert compiled
    sql = compiled[0].read_text()
    scope = re.search(rf'"{model}" where (.+?)\) dbt_subquery', sql, re.S)
    assert scope and scope.group(1).startswith("status_submission_id in ("), sql
    assert_planner_estimates_a_month(built.url, relation, scope.group(1))


def test_monthly_staging_tests_read_only_the_files_each_test_has_not_passed_on(built: Built) -> None:
    """With tests_scope 'rebuilt' a staging view over the raw zone is tested on the files the test
    has not yet passed on: once passed, a file is not read again (a bad value slipped into it is
    found only by the whole test); a file not yet passed is read, and read again after a failure.
    The rows of a test the project no longer holds are deleted."""
    select = ["--select", "stg_raw__loan_status,test_name:accepted_values", "--exclude-resource-type", "unit_test"]
    scoped = [*select, "--vars", "{tests_scope: rebuilt}"]
    failing = "accepted_values_stg_raw__loan_status_account_status"
    with psycopg.connect(built.url, autocommit=True) as conn:
        conn.execute("delete from exchange_state.tested_files")
        # a file passed by a test an upgrade renamed away: the next scoped run deletes the row
        gone = "test.exchange.accepted_values_stg_raw__loan_status_renamed_away"
        conn.execute("insert into exchange_state.tested_files (test_id, submission_id)"
                     " select %s, min(submission_id) from raw.loan_status", (gone,))
        files = conn.execute("select count(*) from control.submissions"
                             " where verdict in ('accepted', 'accepted_with_errors')").fetchone()[0]
        first, last = conn.execute("select min(submission_id), max(submission_id) from raw.loan_status").fetchone()

        def spoil(submission_id: int) -> tuple:
            row = conn.execute("select submission_id, line, account_status from raw.loan_status"
                               " where submission_id = %s order by line limit 1", (submission_id,)).fetchone()
            conn.execute("update raw.loan_status set account_status = 'bogus' where submission_id = %s and line = %s",
                         row[:2])
            return row

        def restore(row: tuple) -> None:
            conn.execute("update raw.loan_status set account_status = %s where submission_id = %s and line = %s",
                         (row[2], *row[:2]))

        def passed_on(submission_id: int) -> int:
            return conn.execute("select count(*) from exchange_state.tested_files where submission_id = %s",
                                (submission_id,)).fetchone()[0]

        dbt(built.url, built.work_dir, "test", *scoped)
        assert not conn.execute("select 1 from exchange_state.tested_files where test_id = %s", (gone,)).fetchone()
        tests = conn.execute("select count(distinct test_id) from exchange_state.tested_files").fetchone()[0]
        assert tests == 3  # account_status, lender_risk_class, legal_status
        assert conn.execute("select count(*) from exchange_state.tested_files").fetchone()[0] == tests * files
        assert conn.execute("select count(*) from exchange_state.test_run_files").fetchone()[0] == 0

        kept = spoil(first)  # a file every test passed on: not read again
        try:
            dbt(built.url, built.work_dir, "test", *scoped)
            with pytest.raises(TransformFailed, match=failing):
                dbt(built.url, built.work_dir, "test", *select)
        finally:
            restore(kept)

        # a file the account_status test has not passed on (a new one): read, and read again after a failure
        conn.execute("delete from exchange_state.tested_files where submission_id = %s", (last,))
        fresh = spoil(last)
        try:
            for _ in range(2):
                with pytest.raises(TransformFailed, match=failing):
                    dbt(built.url, built.work_dir, "test", *scoped)
                assert passed_on(last) == 2  # the other two tests passed on it
        finally:
            restore(fresh)
        dbt(built.url, built.work_dir, "test", *scoped)
        assert passed_on(last) == 3


# ---- a crash recovery empties the unlogged models -------------------------------------------


def test_the_models_a_crash_recovery_empties_are_built_whole_by_the_next_run(built: Built) -> None:
    """PostgreSQL empties every UNLOGGED table when it recovers from a crash (the intermediate models,
    macros/unlogged.sql); TRUNCATE leaves them as the recovery does. A model run on its own must
    refuse to build from an emptied one (the blacklist candidates from no listing reasons would
    publish an empty blacklist); the next whole run must build each emptied incremental model whole
    again, or it would add only the months it rebuilds to an empty table: every table must equal
    the full refresh again."""
    with psycopg.connect(built.url, autocommit=True) as conn:
        unlogged = [row[0] for row in conn.execute(
            "select format('%I.%I', namespaces.nspname, tables.relname)"
            " from pg_class as tables join pg_namespace as namespaces on namespaces.oid = tables.relnamespace"
            " where tables.relkind = 'r' and tables.relpersistence = 'u' order by 1")]
        assert {"intermediate.int_listing_reasons", "intermediate.int_borrower_months"} <= set(unlogged)
        # what people read stays logged: the marts, the publication, and the intermediate models read
        # outside the transform (the history through fct_loan_status, the two the portal reads)
        assert all(table.startswith("intermediate.") for table in unlogged), unlogged
        read_outside = {"intermediate.int_loan_status_history", "intermediate.int_default_episodes",
                        "intermediate.int_episode_publishability"}
        assert not read_outside & set(unlogged)
        candidates = conn.execute("select count(*) from publication.pub_blacklist_candidates").fetchone()[0]
        assert candidates > 0
        emptied = [table for table in unlogged if conn.execute(f"select exists (select from {table})").fetchone()[0]]
        conn.execute(f"truncate {', '.join(unlogged)}")

        # the error says why, without the dbt log: the reason code the pre-hook raised
        with pytest.raises(TransformFailed, match="pub_blacklist_candidates: error: .*\n.*T_UNLOGGED_LOST: "
                           "pub_blacklist_candidates reads int_listing_reasons, emptied by a crash"):
            dbt(built.url, built.work_dir, "run", "--select", "pub_blacklist_candidates")
        assert conn.execute("select count(*) from publication.pub_blacklist_candidates").fetchone()[0] == candidates

        dbt(built.url, built.work_dir, "run")
        results = json.loads((built.work_dir / "target" / "run_results.json").read_text())["results"]
        rows = {r["unique_id"].split(".")[-1]: r["adapter_response"].get("rows_affected") for r in results}
        assert rows["int_borrower_months"] > 0
        for table in built.compared_tables:
            differ = rows_differing(conn, table, f"{SNAPSHOT_SCHEMA}.{table.replace('.', '__')}")
            assert differ is None, f"{table} after the run that followed the emptying of {emptied}: {differ}"
