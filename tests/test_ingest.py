"""Ingest against a real PostgreSQL: encodings, verdicts, duplicates, corrections, crash safety."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest
from builders import csv_text, land, loan_row, status_row, write_xlsx

from exchange.intake import lenders
from exchange.intake.ingest import ingest_path, landing_files, submit


@pytest.fixture
def lender(exchange_home, conn):
    lenders.add(conn, "XD01", "测试小额贷款有限公司", "microloan_company")
    return "XD01"


def _problems(conn, submission_id):
    return conn.execute("select line, field, code from control.row_problems where submission_id = %s order by 1, 3",
                        (submission_id,)).fetchall()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
@pytest.mark.parametrize("chinese", [False, True])
def test_each_encoding_and_header_language_loads(exchange_home, lender, conn, encoding, chinese):
    rows = [loan_row(i, borrower_name=f"张伟{i}") for i in range(1, 21)]
    path = land(exchange_home, lender, "XD01_loans_20250131.csv", csv_text(rows, chinese=chinese), encoding)
    out = ingest_path(path)
    assert (out.verdict, out.rows_accepted) == ("accepted", 20)
    assert conn.execute("select encoding from control.submissions").fetchone()[0] == encoding
    assert conn.execute("select count(distinct borrower_key) from raw.loans").fetchone()[0] == 20


def test_xlsx_first_sheet_loads_with_sheet_row_numbers(exchange_home, lender, conn):
    rows = [loan_row(i) for i in range(1, 11)] + [loan_row(11, region_code="999999")]
    path = exchange_home / "landing" / lender / "XD01_loans_20250131.xlsx"
    path.parent.mkdir(parents=True)
    write_xlsx(path, rows)
    out = ingest_path(path)
    assert (out.verdict, out.rows_accepted, out.rows_rejected) == ("rejected", 0, 1)  # 1 of 11 > 5 %
    assert _problems(conn, out.submission_id) == [(0, None, "F_ERROR_RATE"), (12, "region_code", "R_REGION")]


def test_bad_rows_are_quarantined_and_good_rows_load(exchange_home, lender, conn):
    rows = [loan_row(i) for i in range(1, 40)] + [loan_row(40, id_number="110105194912310021")]
    out = ingest_path(land(exchange_home, lender, "XD01_loans_20250131.csv", csv_text(rows)))
    assert (out.verdict, out.rows_accepted, out.rows_rejected) == ("accepted_with_errors", 39, 1)
    assert _problems(conn, out.submission_id) == [(41, "id_number", "R_ID_CHECKSUM")]
    feedback = next((exchange_home / "feedback" / lender).glob("*.feedback.csv"))
    with feedback.open(encoding="utf-8-sig") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["line"] == "41" and row["loan_id"] == "L000040" and row["code"] == "R_ID_CHECKSUM"
    assert row["message_zh"] and row["message_en"]
    assert "110105194912310021" not in feedback.read_text(encoding="utf-8-sig")


def test_same_bytes_twice_is_a_duplicate_and_loads_nothing(exchange_home, lender, conn):
    content = csv_text([loan_row(i) for i in range(1, 6)])
    first = ingest_path(land(exchange_home, lender, "XD01_loans_20250131.csv", content))
    again = ingest_path(land(exchange_home, lender, "XD01_loans_20250131.csv", content))
    assert first.verdict == "accepted" and again.verdict == "duplicate"
    assert conn.execute("select count(*) from raw.loans").fetchone()[0] == 5
    assert conn.execute("select duplicate_of from control.submissions where submission_id = %s",
                        (again.submission_id,)).fetchone()[0] == first.submission_id


def test_submit_refuses_already_received_bytes_at_the_door(exchange_home, lender, tmp_path):
    src = tmp_path / "XD01_loans_20250131.csv"
    src.write_text(csv_text([loan_row(1)]), encoding="utf-8")
    assert submit(lender, [src])[0].accepted_for_processing
    ingest_path(landing_files()[0])
    (again,) = submit(lender, [src])
    assert (again.accepted_for_processing, again.code) == (False, "F_DUPLICATE")


def test_correction_replaces_its_period_and_keeps_history(exchange_home, lender, conn):
    ingest_path(land(exchange_home, lender, "XD01_loans_20250131.csv", csv_text([loan_row(i) for i in (1, 2)])))
    original = ingest_path(land(exchange_home, lender, "XD01_loan_status_20250131.csv",
                                csv_text([status_row(1), status_row(2)], "loan_status")))
    corrected_rows = [status_row(1, outstanding_principal="4500.00"), status_row(2)]
    correction = ingest_path(land(exchange_home, lender, "XD01_loan_status_20250131_2.csv",
                                  csv_text(corrected_rows, "loan_status")))
    assert correction.verdict == "accepted"
    assert conn.execute("select superseded_by from control.submissions where submission_id = %s",
                        (original.submission_id,)).fetchone()[0] == correction.submission_id
    assert conn.execute("select count(*) from raw.loan_status").fetchone()[0] == 4  # history kept
    current = conn.execute(
        "select ls.outstanding_principal from raw.loan_status ls join control.submissions s using (submission_id)"
        " where s.superseded_by is null and ls.loan_id = 'L000001'").fetchall()
    assert [float(v) for (v,) in current] == [4500.0]
    stale = ingest_path(land(exchange_home, lender, "XD01_loan_status_20250131_2.csv",
                             csv_text([status_row(1), status_row(2, dpd_reported="")], "loan_status")))
    assert (stale.verdict, stale.reason_code) == ("rejected", "F_SEQ_NOT_NEWER")


def test_status_for_a_loan_never_reported_is_rejected(exchange_home, lender, conn):
    ingest_path(land(exchange_home, lender, "XD01_loans_20250131.csv", csv_text([loan_row(i) for i in range(1, 30)])))
    rows = [status_row(i) for i in range(1, 30)] + [status_row(99)]
    out = ingest_path(land(exchange_home, lender, "XD01_loan_status_20250131.csv", csv_text(rows, "loan_status")))
    assert out.verdict == "accepted_with_errors"
    assert _problems(conn, out.submission_id) == [(31, "loan_id", "R_UNKNOWN_LOAN")]


def _feedback_rows(home, lender, submission_id):
    feedback = next((home / "feedback" / lender).glob(f"{submission_id:07d}_*.feedback.csv"))
    with feedback.open(encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_a_file_rejected_for_its_error_rate_gives_the_share_and_the_threshold(exchange_home, lender, conn):
    rows = [loan_row(i) for i in range(1, 11)] + [loan_row(11, region_code="999999")]
    out = ingest_path(land(exchange_home, lender, "XD01_loans_20250131.csv", csv_text(rows)))
    assert out.reason_code == "F_ERROR_RATE"
    (file_row,) = [r for r in _feedback_rows(exchange_home, lender, out.submission_id) if r["code"] == "F_ERROR_RATE"]
    assert "1 of 11 rows bad, 9.1%, above the threshold of 5.0%" in file_row["message_en"]
    assert "错误行 1/11，占 9.1%，超过阈值 5.0%" in file_row["message_zh"]
    summary = next((exchange_home / "feedback" / lender).glob(f"{out.submission_id:07d}_*.summary.txt")).read_text()
    assert "9.1%" in summary and "5.0%" in summary


def test_an_unknown_loan_names_the_rejected_loans_file_that_held_it(exchange_home, lender, conn):
    rows = [loan_row(i) for i in range(1, 11)] + [loan_row(11, region_code="999999")]
    rejected = ingest_path(land(exchange_home, lender, "XD01_loans_20250131.csv", csv_text(rows)))
    assert rejected.reason_code == "F_ERROR_RATE"
    status = ingest_path(land(exchange_home, lender, "XD01_loan_status_20250131.csv",
                              csv_text([status_row(1), status_row(99)], "loan_status")))
    unknown = {r["loan_id"]: r for r in _feedback_rows(exchange_home, lender, status.submission_id)
               if r["code"] == "R_UNKNOWN_LOAN"}
    assert set(unknown) == {"L000001", "L000099"}
    held = f"rejected submission {rejected.submission_id} (XD01_loans_20250131.csv)"
    assert held in unknown["L000001"]["message_en"]
    assert f"被退回的提交 {rejected.submission_id}" in unknown["L000001"]["message_zh"]
    assert "rejected submission" not in unknown["L000099"]["message_en"]  # in no file at all


def test_dates_are_accepted_only_as_yyyy_mm_dd(exchange_home, lender, conn):
    spellings = {61: "2025/01/10", 62: "20250110", 63: "2025-1-10"}
    rows = [loan_row(i) for i in range(1, 61)] + [loan_row(n, issue=v) for n, v in spellings.items()]
    out = ingest_path(land(exchange_home, lender, "XD01_loans_20250131.csv", csv_text(rows)))
    assert (out.verdict, out.rows_accepted) == ("accepted_with_errors", 60)
    assert _problems(conn, out.submission_id) == [(n + 1, "issue_date", "R_DATE") for n in spellings]
    shown = {r["line"]: r["value"] for r in _feedback_rows(exchange_home, lender, out.submission_id)}
    assert shown == {"62": "2025/01/10", "63": "20250110", "64": "2025-1-10"}  # the lender's own value
    report = next((exchange_home / "feedback" / lender).glob(f"{out.submission_id:07d}_*.report.html")).read_text()
    assert "2025/01/10" in report and "R_DATE" in report and "<script" not in report
    assert conn.execute("select count(*) from raw.loans where issue_date = '2025-01-10'").fetchone()[0] == 60


def test_a_value_that_could_be_an_identity_is_never_echoed(exchange_home, lender, conn):
    rows = [loan_row(i) for i in range(1, 61)] + [loan_row(61, issue="110105194912310021"),
                                                  loan_row(62, maturity_date="13800138000")]
    out = ingest_path(land(exchange_home, lender, "XD01_loans_20250131.csv", csv_text(rows)))
    problems = conn.execute("select field, code, value from control.row_problems where submission_id = %s"
                            " order by line", (out.submission_id,)).fetchall()
    assert problems == [("issue_date", "R_DATE", None), ("maturity_date", "R_DATE", None)]
    feedback = (exchange_home / "feedback" / lender)
    for path in feedback.iterdir():
        text = path.read_text(encoding="utf-8-sig")
        assert "110105194912310021" not in text and "13800138000" not in text


def test_a_file_dated_today_in_beijing_is_not_in_the_future_on_a_server_far_west():
    """Under UTC-12 the server's own date is a day behind Beijing's for 20 hours of the day."""
    code = ("from exchange.core.clock import local_today; from exchange.intake.readers import parse_file_name;"
            "print(parse_file_name(f'XD01_loans_{local_today():%Y%m%d}.csv').as_of)")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "TZ": "Etc/GMT+12"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_status_file_covering_little_of_the_book_is_kept_as_partial_and_replaces_nothing(exchange_home, lender, conn):
    ingest_path(land(exchange_home, lender, "XD01_loans_20250131.csv", csv_text([loan_row(i) for i in range(1, 41)])))
    january = ingest_path(land(exchange_home, lender, "XD01_loan_status_20250131.csv",
                               csv_text([status_row(i) for i in range(1, 41)], "loan_status")))
    daily = ingest_path(land(exchange_home, lender, "XD01_loan_status_20250205.csv",
                             csv_text([status_row(i, as_of="2025-02-05") for i in range(1, 6)], "loan_status")))
    assert (daily.verdict, daily.rows_accepted) == ("accepted", 5)
    flags = dict(conn.execute("select submission_id, is_partial from control.submissions where kind = 'loan_status'"))
    assert flags == {january.submission_id: False, daily.submission_id: True}
    (row,) = [r for r in _feedback_rows(exchange_home, lender, daily.submission_id) if r["code"] == "W_PARTIAL_MONTH"]
    assert "reports 5 of the 40 loans active in your last complete file, 12.5%, below the complete share of 95%" \
        in row["message_en"]
    # a partial correction of January replaces nothing: the complete file stays in force
    partial_fix = ingest_path(land(exchange_home, lender, "XD01_loan_status_20250131_2.csv",
                                   csv_text([status_row(1)], "loan_status")))
    assert partial_fix.verdict == "accepted"
    assert conn.execute("select superseded_by from control.submissions where submission_id = %s",
                        (january.submission_id,)).fetchone()[0] is None
    # a complete month-end file is judged against January's complete book, not the daily file
    february = ingest_path(land(exchange_home, lender, "XD01_loan_status_20250228.csv",
                                csv_text([status_row(i, as_of="2025-02-28") for i in range(1, 40)], "loan_status")))
    assert conn.execute("select is_partial from control.submissions where submission_id = %s",
                        (february.submission_id,)).fetchone()[0] is False  # 39 of 40 = 97.5 %


def test_a_row_of_the_wrong_width_names_its_loan_only_when_it_is_one_of_the_lenders_loans(exchange_home, lender, conn):
    """The loan of a rejected row must be known, or the loan looks absent from the file (C_DISAPPEARED);
    a shifted field in the loan_id column (here an ID number) never reaches the table."""
    ingest_path(land(exchange_home, lender, "XD01_loans_20250131.csv", csv_text([loan_row(i) for i in range(1, 61)])))
    rows = [status_row(i) for i in range(1, 61)] + [status_row(99, loan_id="110105194912310021")]
    lines = csv_text(rows, "loan_status").splitlines()
    lines[60] = lines[60].rsplit(",", 3)[0]  # loan 60, physical line 61: its last three fields missing
    lines[61] = lines[61].rsplit(",", 3)[0]  # line 62: the same, an ID number where loan_id belongs
    out = ingest_path(land(exchange_home, lender, "XD01_loan_status_20250131.csv", "\n".join(lines) + "\n"))
    assert out.verdict == "accepted_with_errors"
    assert conn.execute("select line, loan_id, code from control.row_problems where submission_id = %s order by line",
                        (out.submission_id,)).fetchall() == [(61, "L000060", "R_COLUMNS"), (62, None, "R_COLUMNS")]


def test_a_loan_reported_twice_is_caught_across_chunks(exchange_home, lender, conn, monkeypatch):
    """Small blocks put each repeat in a later chunk than its first report: known and unknown loans alike."""
    from exchange.intake import readers

    monkeypatch.setattr(readers, "FIRST_BLOCK_BYTES", 600)
    monkeypatch.setattr(readers, "BLOCK_BYTES", 600)
    ingest_path(land(exchange_home, lender, "XD01_loans_20250131.csv", csv_text([loan_row(i) for i in range(1, 41)])))
    rows = [status_row(i) for i in range(1, 41)] + [status_row(98), status_row(7), status_row(98), status_row(7)]
    rows += [status_row(i) for i in range(41, 60)]  # unknown loans, to keep the later chunks busy
    out = ingest_path(land(exchange_home, lender, "XD01_loan_status_20250131.csv", csv_text(rows, "loan_status")))
    problems = _problems(conn, out.submission_id)
    assert [p for p in problems if p[2] == "R_DUPLICATE_KEY"] == [(43, "loan_id", "R_DUPLICATE_KEY"),
                                                                  (44, "loan_id", "R_DUPLICATE_KEY"),
                                                                  (45, "loan_id", "R_DUPLICATE_KEY")]
    unknown = [p[0] for p in problems if p[2] == "R_UNKNOWN_LOAN"]
    assert unknown == [42, 44, *range(46, 65)]


def test_suspended_lender_files_are_rejected(exchange_home, lender, conn):
    lenders.set_status(conn, lender, "suspended", "test")
    out = ingest_path(land(exchange_home, lender, "XD01_loans_20250131.csv", csv_text([loan_row(1)])))
    assert (out.verdict, out.reason_code) == ("rejected", "F_LENDER_SUSPENDED")


def test_oversized_file_is_rejected(exchange_home, lender, monkeypatch):
    monkeypatch.setenv("EXCHANGE_MAX_FILE_MB", "0.001")
    out = ingest_path(land(exchange_home, lender, "XD01_loans_20250131.csv", csv_text([loan_row(i) for i in range(50)])))
    assert (out.verdict, out.reason_code) == ("rejected", "F_SIZE")


def test_rerun_after_commit_resumes_without_recording_twice(exchange_home, lender, conn):
    path = land(exchange_home, lender, "XD01_loans_20250131.csv", csv_text([loan_row(1)]))
    copy = path.read_bytes()
    stat = path.stat()
    first = ingest_path(path)
    path.write_bytes(copy)  # as if the process died after the commit, before removing the landing copy
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = ingest_path(path)
    assert again.resumed and again.submission_id == first.submission_id
    assert conn.execute("select count(*) from control.submissions").fetchone()[0] == 1
    assert not path.exists()


def test_process_killed_during_copy_leaves_nothing_and_rerun_loads_once(exchange_home, lender, conn, pg_url):
    n = 300_000
    from exchange_tools.bench.ingest import write_status_file

    conn.execute("insert into control.submissions (lender_code, kind, as_of_date, seq, file_name, sha256, size_bytes,"
                 " arrival_key, verdict) values ('XD01', 'loans', '2025-06-30', 1, 'setup', repeat('0', 64), 0,"
                 " 'setup', 'accepted')")
    conn.execute("insert into raw.loans select s.submission_id, g, 'XD01', '2025-06-30', 'L' || lpad(g::text, 7, '0'),"
                 " 'individual', 'RESIDENT_ID', md5(g::text) || md5(g::text), md5(g::text) || md5(g::text), null,"
                 " '110105', 'consumer_loan', 'credit', null, 50000, 'CNY', 0.18, '2025-01-01', '2026-01-01',"
                 " 'equal_installment', 12, 'AUTH' from generate_series(1, %s) g, control.submissions s", (n,))
    path = exchange_home / "landing" / lender / "XD01_loan_status_20250630.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_status_file(path, n)
    env = {**os.environ}
    child = subprocess.Popen([sys.executable, "-c", "import sys; from pathlib import Path;"
                              " from exchange.intake.ingest import ingest_path; ingest_path(Path(sys.argv[1]))", str(path)],
                             env=env)
    deadline = time.monotonic() + 120
    copied = 0
    while time.monotonic() < deadline and child.poll() is None:
        row = conn.execute("select tuples_processed from pg_stat_progress_copy p join pg_stat_activity a using (pid)"
                           " where a.query ilike 'copy raw.loan_status%%'").fetchone()
        if row and row[0] > 0:
            copied = row[0]
            break
        time.sleep(0.02)
    assert copied > 0, "the COPY was never seen in progress"
    child.send_signal(signal.SIGKILL)
    child.wait()
    while conn.execute("select count(*) from pg_stat_activity where query ilike 'copy raw.loan_status%%'"
                       " and pid <> pg_backend_pid()").fetchone()[0]:
        time.sleep(0.05)  # the server notices the dead client and rolls its transaction back
    assert conn.execute("select count(*) from raw.loan_status").fetchone()[0] == 0
    assert conn.execute("select count(*) from control.submissions where kind = 'loan_status'").fetchone()[0] == 0
    assert path.exists()
    out = ingest_path(path)
    assert (out.verdict, out.rows_accepted) == ("accepted", n)
    assert conn.execute("select count(*) from raw.loan_status").fetchone()[0] == n


def test_statuses_picked_before_their_loans_file_still_load_after_it(exchange_home, lender, conn):
    loans = land(exchange_home, lender, "XD01_loans_20250131.csv", csv_text([loan_row(i) for i in range(1, 11)]))
    statuses = land(exchange_home, lender, "XD01_loan_status_20250131.csv",
                    csv_text([status_row(i) for i in range(1, 11)], "loan_status"))
    first = ingest_path(statuses)  # a scheduler may run the statuses' task first
    assert (first.verdict, first.rows_accepted) == ("accepted", 10)
    later = ingest_path(loans)  # the loans task then reports the submission its file became
    assert later.resumed and later.verdict == "accepted"
    assert conn.execute("select count(*) from control.submissions").fetchone()[0] == 2


def test_unknown_columns_are_ignored_with_a_warning_and_never_stored(exchange_home, lender, conn):
    text = csv_text([loan_row(1)])
    header, row = text.splitlines()
    content = f"{header},家庭住址 home_address\n{row},北京市朝阳区某街 1 号\n"
    out = ingest_path(land(exchange_home, lender, "XD01_loans_20250131.csv", content))
    assert (out.verdict, out.rows_accepted) == ("accepted", 1)
    assert _problems(conn, out.submission_id) == [(1, "家庭住址 home_address", "W_COLUMN_IGNORED")]


def _statistics(conn, table):
    """(rows the planner believes, rows changed since the last ANALYZE) of a raw table."""
    return conn.execute("select tables.reltuples, stats.n_mod_since_analyze from pg_class as tables"
                        " join pg_stat_user_tables as stats on stats.relid = tables.oid"
                        " where tables.oid = %s::regclass", (table,)).fetchone()


def test_the_planner_knows_the_loans_and_the_months_loaded_before_the_transform_reads_them(exchange_home, lender, conn):
    assert _statistics(conn, "raw.loans")[0] < 0  # never analyzed: the planner would guess
    out = ingest_path(land(exchange_home, lender, "XD01_loans_20250131.csv",
                           csv_text([loan_row(i) for i in range(1, 31)])))
    assert out.rows_accepted == 30
    assert _statistics(conn, "raw.loans")[0] == 30
    status = ingest_path(land(exchange_home, lender, "XD01_loan_status_20250131.csv",
                              csv_text([status_row(i) for i in range(1, 31)], "loan_status")))
    assert status.rows_accepted == 30
    assert conn.execute("select reltuples from pg_class where oid = 'raw.loan_status_202501'::regclass").fetchone()[0] == 30
