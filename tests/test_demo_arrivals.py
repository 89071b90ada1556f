"""The demo backdates its files' arrivals so that timeliness reads as a real year would, and keeps
its period from one run to the next."""

from __future__ import annotations

import datetime as dt

from builders import csv_text, land, loan_row, status_row

from exchange.core.clock import EXCHANGE_TZ
from exchange.intake import lenders
from exchange.intake.ingest import ingest_path
from exchange_tools.demo import backdate_arrivals, demo_period_end


def test_arrivals_fall_days_after_the_reporting_date_and_a_rerun_changes_nothing(exchange_home, conn):
    for n, code in enumerate(("AA01", "ZZ09"), start=1):  # different loans: the same bytes would be duplicates
        lenders.add(conn, code, f"测试机构{code}", "microloan_company")
        ingest_path(land(exchange_home, code, f"{code}_loans_20250131.csv", csv_text([loan_row(n)])))
        for month_end in ("20250131", "20250228", "20250331", "20250430", "20250531", "20250630"):
            as_of = f"{month_end[:4]}-{month_end[4:6]}-{month_end[6:]}"
            ingest_path(land(exchange_home, code, f"{code}_loan_status_{month_end}.csv",
                             csv_text([status_row(n, as_of=as_of)], "loan_status")))
    assert backdate_arrivals(conn, ["AA01", "ZZ09"]) == 14
    first = conn.execute("select lender_code, as_of_date, received_at from control.submissions order by 1, 2").fetchall()
    lags = {(lender, (received.astimezone(EXCHANGE_TZ).date() - as_of).days) for lender, as_of, received in first}
    assert all(3 <= lag <= 12 for lender, lag in lags if lender == "AA01")
    assert all(3 <= lag <= 12 or 16 <= lag <= 25 for lender, lag in lags if lender == "ZZ09")
    assert all(r.astimezone(EXCHANGE_TZ).time() == dt.time(10) for *_, r in first)
    backdate_arrivals(conn, ["AA01", "ZZ09"])
    assert conn.execute("select lender_code, as_of_date, received_at from control.submissions order by 1, 2"
                        ).fetchall() == first
    assert conn.execute("select count(*) from control.audit_log where action = 'demo_arrivals_backdated'"
                        ).fetchone()[0] == 2


def test_the_demo_fixes_its_period_on_the_first_run_even_in_a_home_with_no_state_yet(tmp_path):
    state_dir = tmp_path / "fresh-home" / ".exchange"  # a database URL given: nothing created it before the demo
    end = demo_period_end(state_dir)
    assert (end + dt.timedelta(days=1)).day == 1
    (state_dir / "demo.json").write_text('{"end": "2025-12-31"}')  # as a run last January left it
    assert demo_period_end(state_dir) == dt.date(2025, 12, 31)
