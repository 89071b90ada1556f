"""Benchmarks that print ratios measured in one run, on a scratch database of the same server.

Speed targets live here, never in timed tests: the machine's load changes absolute
times, but the ratio against a plain COPY of the same file in the same run holds.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg.conninfo import conninfo_to_dict
from rich.console import Console
from rich.table import Table

from exchange.core import db
from exchange_tools.bench.scratch import create_scratch, drop_scratch

LENDER = "BENCH01"
AS_OF = dt.date(2025, 6, 30)
TARGET_INGEST_VS_COPY = 0.5  # the ingest against a plain COPY of the same 1M-row file (throughput, not a timed test)
STATUS_COLUMNS = ["as_of_date", "loan_id", "account_status", "outstanding_principal", "overdue_principal",
                  "overdue_interest", "overdue_since", "dpd_reported", "last_payment_date", "last_payment_amount",
                  "lender_risk_class", "notice_date", "legal_status", "fraud_flag"]


def write_status_file(path: Path, rows: int, seed: int = 7) -> None:
    """A valid loan_status file of `rows` loans (L0000001...): ~8% overdue, realistic amounts."""
    rng = np.random.default_rng(seed)
    overdue = rng.random(rows) < 0.08
    outstanding = np.round(rng.uniform(1_000, 200_000, rows), 2)
    dpd = np.where(overdue, rng.integers(1, 200, rows), 0)
    since = np.datetime64(AS_OF) - dpd.astype("timedelta64[D]")
    empty = pa.array([""] * rows)
    table = pa.table({
        "as_of_date": pa.array([AS_OF.isoformat()] * rows),
        "loan_id": pa.array([f"L{i:07d}" for i in range(1, rows + 1)]),
        "account_status": pa.array(np.where(overdue, "overdue", "normal")),
        "outstanding_principal": pa.array([f"{x:.2f}" for x in outstanding]),
        "overdue_principal": pa.array([f"{x:.2f}" for x in np.where(overdue, np.round(outstanding * 0.1, 2), 0)]),
        "overdue_interest": pa.array([f"{x:.2f}" for x in np.where(overdue, 35.5, 0)]),
        "overdue_since": pa.array(np.where(overdue, since.astype(str), "")),
        "dpd_reported": pa.array(dpd.astype(str)),
        "last_payment_date": pa.array([(AS_OF - dt.timedelta(days=15)).isoformat()] * rows),
        "last_payment_amount": pa.array(["1200.00"] * rows),
        "lender_risk_class": pa.array(np.where(dpd > 90, "3", np.where(dpd > 0, "2", "1"))),
        "notice_date": pa.array(np.where(overdue, since.astype(str), "")),
        "legal_status": pa.array(["none"] * rows),
        "fraud_flag": empty,
    })
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))


def _setup(url: str, rows: int) -> None:
    """Schema plus `rows` known loans for the lender, inserted directly (setup, not the path measured).

    Vacuumed afterwards, as autovacuum would have done long before a real status file arrives:
    otherwise the first read of the fresh rows (the known-loan check) pays for setting their hint bits.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        db.migrate(conn)
        conn.execute("insert into control.lenders values (%s, 'Benchmark lender', 'microloan_company')"
                     " on conflict do nothing", (LENDER,))
        sub = conn.execute(
            "insert into control.submissions (lender_code, kind, as_of_date, seq, file_name, sha256, size_bytes,"
            " arrival_key, verdict) values (%s, 'loans', %s, 1, 'setup', repeat('0', 64), 0, 'bench-setup',"
            " 'accepted') returning submission_id", (LENDER, AS_OF)).fetchone()[0]
        conn.execute(
            "insert into raw.loans select %s, g, %s, %s, 'L' || lpad(g::text, 7, '0'), 'individual', 'RESIDENT_ID',"
            " md5(g::text) || md5(g::text), md5(g::text) || md5(g::text), null, '110105', 'consumer_loan', 'credit',"
            " null, 50000, 'CNY', 0.18, date '2025-01-01', date '2026-01-01', 'equal_installment', 12, 'AUTH'"
            " from generate_series(1, %s) g", (sub, LENDER, AS_OF, rows))
        conn.execute("vacuum analyze raw.loans")


def _child(url: str, home: Path, path: Path) -> dict:
    """Run the real ingest in a child process; its peak RSS is the ingest's peak memory.

    The peak is the child's VmHWM: ru_maxrss would report this process's own peak instead
    whenever that is higher, since Linux carries it over into a child across exec.
    """
    env = {**os.environ, "EXCHANGE_DB_URL": url, "EXCHANGE_HOME": str(home)}
    code = ("import json, sys, time; from pathlib import Path; from exchange.intake.ingest import ingest_path;"
            "t = time.perf_counter(); o = ingest_path(Path(sys.argv[1])); s = time.perf_counter() - t;"
            "hwm = next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM:'));"
            "print(json.dumps({'seconds': s, 'verdict': o.verdict, 'rows': o.rows_accepted, 'rss_mb': hwm / 1024}))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def plain_copy(url: str, path: Path) -> float:
    """Seconds to COPY the loan_status CSV `path` (header STATUS_COLUMNS) into a table without constraints."""
    types = {"as_of_date": "date", "outstanding_principal": "numeric(18,2)", "overdue_principal": "numeric(18,2)",
             "overdue_interest": "numeric(18,2)", "overdue_since": "date", "dpd_reported": "int",
             "last_payment_date": "date", "last_payment_amount": "numeric(18,2)", "lender_risk_class": "smallint",
             "notice_date": "date"}
    cols = ", ".join(f"{c} {types.get(c, 'text')}" for c in STATUS_COLUMNS)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"drop table if exists bench_plain; create table bench_plain ({cols})")
        start = time.perf_counter()
        with conn.cursor() as cur, cur.copy("copy bench_plain from stdin with (format csv, header true)") as copy, \
                path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                copy.write(block)
        return time.perf_counter() - start


def _to_sql(url: str, path: Path, rows: int) -> tuple[float, int]:
    """pandas read_csv + to_sql, the usual tutorial way (on at most 200k rows: it is slow)."""
    import pandas as pd  # heavy, and only this comparison needs pandas and SQLAlchemy
    import sqlalchemy

    p = conninfo_to_dict(url)
    host = p.get("host", "localhost")
    sa_url = (f"postgresql+psycopg://{p.get('user', 'postgres')}@/{p['dbname']}?host={host}"
              if str(host).startswith("/") else f"postgresql+psycopg://{p.get('user')}@{host}:{p.get('port', 5432)}/{p['dbname']}")
    n = min(rows, 200_000)
    engine = sqlalchemy.create_engine(sa_url)
    start = time.perf_counter()
    frame = pd.read_csv(path, nrows=n)
    frame.to_sql("bench_to_sql", engine, if_exists="replace", index=False)
    seconds = time.perf_counter() - start
    engine.dispose()
    return seconds, n


def ingest_benchmark(rows: int, console: Console) -> dict:
    """Prints and returns throughputs and ratios; scratch databases are dropped afterwards."""
    results: dict = {"rows": rows}
    with tempfile.TemporaryDirectory(prefix="exchange-bench-") as tmp:
        tmp_path = Path(tmp)
        names = {"big": rows, "small": max(rows // 4, 1000)}
        for label, n in names.items():
            dbname = f"exchange_bench_{label}_{os.getpid()}"
            url = create_scratch(dbname)
            try:
                console.print(f"准备 preparing {n:,} loans and a {n:,}-row loan_status file ...")
                _setup(url, n)
                home = tmp_path / label
                (home / "landing" / LENDER).mkdir(parents=True)
                src = tmp_path / f"{label}.csv"
                write_status_file(src, n)
                size_mb = src.stat().st_size / 1e6
                if label == "big":
                    results["plain_copy_s"] = plain_copy(url, src)
                    results["to_sql_s"], results["to_sql_rows"] = _to_sql(url, src, n)
                target = home / "landing" / LENDER / f"{LENDER}_loan_status_{AS_OF:%Y%m%d}.csv"
                target.write_bytes(src.read_bytes())
                run = _child(url, home, target)
                if run["verdict"] != "accepted" or run["rows"] != n:
                    raise RuntimeError(f"benchmark ingest did not load cleanly: {run}")
                results[f"{label}_ingest_s"] = run["seconds"]
                results[f"{label}_rss_mb"] = run["rss_mb"]
                results[f"{label}_rows"] = n
                results[f"{label}_file_mb"] = size_mb
            finally:
                drop_scratch(dbname)
    copy_rate = rows / results["plain_copy_s"]
    ingest_rate = rows / results["big_ingest_s"]
    to_sql_rate = results["to_sql_rows"] / results["to_sql_s"]
    results |= {"ingest_vs_copy": ingest_rate / copy_rate, "ingest_vs_to_sql": ingest_rate / to_sql_rate,
                "memory_ratio": results["big_rss_mb"] / results["small_rss_mb"]}
    table = Table("measure", "value")
    table.add_row("file", f"{rows:,} loan_status rows, {results['big_file_mb']:.0f} MB")
    table.add_row("plain COPY (unconstrained table)", f"{results['plain_copy_s']:.2f} s  ({copy_rate:,.0f} rows/s)")
    table.add_row("exchange ingest (validate, key, COPY, archive, feedback)",
                  f"{results['big_ingest_s']:.2f} s  ({ingest_rate:,.0f} rows/s)")
    table.add_row(f"pandas to_sql ({results['to_sql_rows']:,} rows)", f"{results['to_sql_s']:.2f} s  ({to_sql_rate:,.0f} rows/s)")
    table.add_row(f"ratio ingest / plain COPY (target >= {TARGET_INGEST_VS_COPY})", f"{results['ingest_vs_copy']:.2f}")
    table.add_row("ratio ingest / to_sql", f"{results['ingest_vs_to_sql']:.1f}")
    table.add_row(f"peak memory, {rows:,} rows (target < 1 GB)", f"{results['big_rss_mb']:.0f} MB")
    table.add_row(f"peak memory, {results['small_rows']:,} rows", f"{results['small_rss_mb']:.0f} MB")
    table.add_row("memory ratio big / small (flat = about 1)", f"{results['memory_ratio']:.2f}")
    console.print(table)
    return results
