"""Control totals (控制总数): a sidecar states what a file holds; a difference rejects the file whole."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest
from builders import csv_text, land, loan_row, status_row

from exchange.intake import lenders
from exchange.intake.ingest import ingest_path, landing_files, submit


@pytest.fixture
def lender(exchange_home, conn):
    lenders.add(conn, "XD01", "测试小额贷款有限公司", "microloan_company")
    ingest_path(land(exchange_home, "XD01", "XD01_loans_20250131.csv", csv_text([loan_row(i) for i in range(1, 11)])))
    return "XD01"


def _statuses(home, lender, sidecar: str | None):
    path = land(home, lender, "XD01_loan_status_20250131.csv",
                csv_text([status_row(i, outstanding_principal=f"{1000 * i}.50") for i in range(1, 11)], "loan_status"))
    if sidecar is not None:
        land(home, lender, path.name + ".ctl", sidecar)
    return path


def _feedback(home, lender, submission_id):
    path = next((home / "feedback" / lender).glob(f"{submission_id:07d}_*.feedback.csv"))
    with path.open(encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_matching_control_totals_load_the_file_and_are_kept(exchange_home, lender, conn):
    path = _statuses(exchange_home, lender, "rows,outstanding_principal,overdue_principal\n10,55005.00,0\n")
    assert landing_files() == [path]  # the sidecar is read with its file, never ingested alone
    out = ingest_path(path)
    assert (out.verdict, out.rows_accepted) == ("accepted", 10)
    declared, found = conn.execute("select control_declared, control_found from control.submissions"
                                   " where submission_id = %s", (out.submission_id,)).fetchone()
    as_numbers = {"rows": 10, "outstanding_principal": Decimal("55005"), "overdue_principal": Decimal(0)}
    assert {k: Decimal(str(v)) for k, v in declared.items()} == as_numbers
    assert {k: Decimal(str(v)) for k, v in found.items()} == as_numbers
    assert not list((exchange_home / "landing" / lender).iterdir())  # file and sidecar both done


def test_a_row_count_that_differs_rejects_the_whole_file_with_both_figures(exchange_home, lender, conn):
    out = ingest_path(_statuses(exchange_home, lender, "记录数,剩余本金合计\n11,55005.00\n"))
    assert (out.verdict, out.reason_code, out.rows_accepted) == ("rejected", "F_CONTROL_TOTALS", 0)
    assert conn.execute("select count(*) from raw.loan_status").fetchone()[0] == 0
    (row,) = [r for r in _feedback(exchange_home, lender, out.submission_id) if r["code"] == "F_CONTROL_TOTALS"]
    assert "declared rows 11, outstanding_principal 55005.00; found rows 10, outstanding_principal 55005.00" \
        in row["message_en"]
    assert "申报 记录数 11" in row["message_zh"]


def test_a_sum_that_differs_rejects_the_file(exchange_home, lender, conn):
    out = ingest_path(_statuses(exchange_home, lender, "rows,overdue_principal\n10,99.99\n"))
    assert out.reason_code == "F_CONTROL_TOTALS"
    assert conn.execute("select control_found from control.submissions where submission_id = %s",
                        (out.submission_id,)).fetchone()[0]["overdue_principal"] in ("0", "0.00")


@pytest.mark.parametrize("sidecar, field", [("rows\nten\n", "rows"), ("rows,principal\n10,5\n", None),
                                            ("rows\n", None), ("x" * 5000, None)])
def test_a_malformed_sidecar_rejects_the_file_with_its_reason(exchange_home, lender, conn, sidecar, field):
    out = ingest_path(_statuses(exchange_home, lender, sidecar))
    assert (out.verdict, out.reason_code) == ("rejected", "F_CONTROL_FORMAT")


def test_submit_checks_a_sidecar_at_the_door_and_queues_it_before_its_file(exchange_home, lender, tmp_path):
    data = tmp_path / "XD01_loan_status_20250131.csv"
    data.write_text(csv_text([status_row(i) for i in range(1, 11)], "loan_status"))
    good = tmp_path / (data.name + ".ctl")
    good.write_text("rows\n10\n")
    results = submit(lender, [data, good])
    assert [r.file for r in results] == [good.name, data.name] and all(r.accepted_for_processing for r in results)
    bad = tmp_path / "XD02_loan_status_20250131.csv.ctl"
    bad.write_text("rows\n10\n")
    (refused,) = submit(lender, [bad])
    assert (refused.accepted_for_processing, refused.code) == (False, "F_LENDER_MISMATCH")
