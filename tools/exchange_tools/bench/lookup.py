"""`exchange bench lookup`: the HTTP look-up at 1M borrower keys, auditing on, against its floor.

One run, one scratch database: a live feed version with `keys` default episodes (one
borrower key each, a quarter of them also listed, an eighth with published borrower signals,
with the seed's signal rules), a look-up history of two answered look-ups by other members
within the inquiry windows for a quarter of the keys (what inquiry velocity counts), and a
lender with a token and fresh data.
The app runs under uvicorn in a child process exactly as `exchange serve` runs it; the
load generator here keeps `concurrency` HTTP/1.1 keep-alive connections busy with
look-ups of random applicants (half of them in the feed) and times each one. The floor is
a bare indexed SELECT of the same keys over one connection. Target: p99 <= 10 ms and at
least 800 look-ups per second on a 2-core machine with the load generator on it.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table

from exchange.access import tokens as access
from exchange.core import db
from exchange.core.identifiers import Pseudonymizer, resident_id_check_char
from exchange.core.settings import DBT_PROJECT_DIR
from exchange.feed.tables import BORROWER_SIGNAL_COLUMNS
from exchange_tools.bench.scratch import create_scratch, drop_scratch

LENDER = "BENCH01"
SECRET = "bench-secret-0123456789abcdef-lookup"


def _ids(count: int) -> list[str]:
    """Distinct valid resident IDs: region x birth date x sequence."""
    out = []
    day = 0
    start = dt.date(1950, 1, 1)
    while len(out) < count:
        d = start + dt.timedelta(days=day)
        for region in ("110105", "310101", "440305", "330106"):
            for seq in range(1000):
                first17 = f"{region}{d:%Y%m%d}{seq:03d}"
                out.append(first17 + resident_id_check_char(first17))
                if len(out) == count:
                    return out
        day += 1
    return out


def _setup(url: str, keys: int, console: Console) -> tuple[list[str], str]:
    pseudo = Pseudonymizer(SECRET.encode())
    console.print(f"准备 preparing a live version with {keys:,} borrower keys ...")
    ids = _ids(keys)
    with psycopg.connect(url, autocommit=True) as conn:
        db.migrate(conn)
        conn.execute("insert into control.lenders values (%s, 'Benchmark lender', 'microloan_company')", (LENDER,))
        access.ensure_lender_role(conn, LENDER)
        conn.execute("insert into control.submissions (lender_code, kind, as_of_date, seq, file_name, sha256,"
                     " size_bytes, arrival_key, verdict) values (%s, 'loan_status', current_date - 5, 1, 'setup',"
                     " repeat('0', 64), 0, 'bench-setup', 'accepted')", (LENDER,))
        _, token = access.issue_token(conn, lender_code=LENDER, label="bench")
        conn.execute("insert into shared.feed_versions (version, as_of_date, content_sha256, status, published_at)"
                     " values (1, current_date, repeat('b', 64), 'live', now())")
        conn.execute("insert into shared.live_version (version) values (1)")
        feed, listing, signals, history = io.StringIO(), io.StringIO(), io.StringIO(), io.StringIO()
        purposes = ("loan_application", "credit_limit_review", "post_loan_management")
        for i, clear in enumerate(ids):
            key = pseudo.borrower_key("RESIDENT_ID", clear)
            ref = pseudo.loan_ref("OTHER01", f"L{i}")
            feed.write(f"1\t{ref}\t1\t{key}\tOTHER01\tonline_microloan_company\tconsumer_loan\t2025-06-30\t{95 + i % 200}"
                       f"\t{1000 + i % 50000}.00\tongoing\t\\N\t\\N\t2025-06-01\tf\t1\t{i + 2}\n")
            if i % 4 == 0:
                listing.write(f"1\t{key}\tindividual\tB1\t2025-07-01\t1\t{1000 + i % 50000}.00\t{95 + i % 200}"
                              f"\t2025-06-01\tf\t\\N\t1\t{i + 2}\n")
            if i % 8 == 0:  # published signals: phone sharing and co-debt, loan stacking on every other one
                stacked = "t" if i % 16 == 0 else "f"
                signals.write(f"1\t{key}\t2025-06-30\t1\t2\t2\t3\t2\t4\t4\t5\t{i % 90}\tt\t1\tf\t3\t30000.00"
                              f"\t{stacked}\t3\t0\tf\t3\t{20000 + i % 9000}.00\t1\n")
            if i % 4 == 0:  # two other members looked the key up within the inquiry windows
                for member, days in (("OTHER01", i % 5), ("OTHER02", i % 29)):
                    history.write(f"{days}\tlender\t{member}\tapi\t{purposes[i % 3]}\tRESIDENT_ID\t{key}\tt"
                                  f"\tanswered\t1\n")
        with conn.cursor() as cur:
            with cur.copy("copy shared.default_feed_rows (version, loan_ref, default_episode_no, borrower_key,"
                          " lender_code, lender_category, product_type, default_date, max_dpd, amount_at_default,"
                          " episode_status, end_date, purge_date, notice_date, disputed, source_submission_id,"
                          " source_line) from stdin") as copy:
                copy.write(feed.getvalue())
            with cur.copy("copy shared.blacklist_rows (version, borrower_key, borrower_type, reason_codes,"
                          " first_listed_date, lenders_count, total_overdue, max_dpd,"
                          " notice_date, disputed, dispute_deadline, source_submission_id, source_line)"
                          " from stdin") as copy:
                copy.write(listing.getvalue())
            with cur.copy(f"copy shared.borrower_signal_rows (version, {', '.join(BORROWER_SIGNAL_COLUMNS)})"
                          " from stdin") as copy:
                copy.write(signals.getvalue())
            cur.execute("create temporary table bench_history (days int, party text, lender_code text, channel text,"
                        " purpose text, id_type text, borrower_key text, hit boolean, outcome text, feed_version bigint)")
            with cur.copy("copy bench_history from stdin") as copy:
                copy.write(history.getvalue())
            cur.execute("insert into control.lookup_audit (at, party, lender_code, channel, purpose, id_type,"
                        " borrower_key, hit, outcome, feed_version) select now() - make_interval(days => days),"
                        " party, lender_code, channel, purpose, id_type, borrower_key, hit, outcome, feed_version"
                        " from bench_history order by days desc")  # in time order, as look-ups come
            with (DBT_PROJECT_DIR / "seeds" / "rule_fraud_signals.csv").open(encoding="utf-8") as fh:
                cur.executemany("insert into shared.signal_rule_rows (version, parameter, rules_version, value, unit)"
                                " values (1, %s, %s, %s, %s)",
                                [(r["parameter"], r["rules_version"], int(r["value"]), r["unit"])
                                 for r in csv.DictReader(fh)])
        conn.execute("insert into shared.listing_reason_rows (version, reason_code, rules_version, reason_zh, reason_en)"
                     " values (1, 'B1', 'v1', '逾期90天以上且近90天无还款迹象', 'over 90 days past due, no repayment')")
        for table in ("shared.default_feed_rows", "shared.blacklist_rows", "shared.borrower_signal_rows",
                      "control.lookup_audit"):
            conn.execute(f"vacuum analyze {table}")
    return ids, token


def _requests(ids: list[str], n: int, seed: int = 11) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 2 == 0:
            clear = rng.choice(ids)
        else:  # not in the feed: a valid ID from another region
            first17 = f"500101{1960 + rng.randrange(40):04d}0{1 + rng.randrange(9)}1{rng.randrange(10)}{rng.randrange(1000):03d}"
            clear = first17 + resident_id_check_char(first17)
        out.append(json.dumps({"id_type": "RESIDENT_ID", "id_number": clear, "purpose": "loan_application",
                               "consent_ref": f"BENCH-{i}"}).encode())
    return out


async def _load(port: int, token: str, bodies: list[bytes], concurrency: int) -> tuple[list[float], float, dict]:
    head = (f"POST /v1/lookup HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: ").encode()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = list(reversed(bodies))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while queue:
            body = queue.pop()
            t = time.perf_counter()
            writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
            header = await reader.readuntil(b"\r\n\r\n")
            status = int(header[9:12])
            length = 0
            for line in header.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t)
            statuses[status] = statuses.get(status, 0) + 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started, statuses


def _floor(url: str, ids: list[str], bodies: list[bytes]) -> tuple[list[float], float]:
    pseudo = Pseudonymizer(SECRET.encode())
    keys = [pseudo.borrower_key("RESIDENT_ID", json.loads(b)["id_number"]) for b in bodies]
    latencies = []
    with psycopg.connect(url, autocommit=True) as conn:
        sql = "select * from shared.default_feed_rows where version = 1 and borrower_key = %s"
        for k in keys[:200]:
            conn.execute(sql, (k,), prepare=True).fetchall()
        started = time.perf_counter()
        for k in keys:
            t = time.perf_counter()
            conn.execute(sql, (k,), prepare=True).fetchall()
            latencies.append(time.perf_counter() - t)
        return latencies, time.perf_counter() - started


def _backend_pids(url: str) -> list[int]:
    """The server's PostgreSQL backends (their CPU is readable when the server runs on this machine)."""
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("select pid from pg_stat_activity where application_name = 'exchange-api'")]


def _cpu_seconds(pids: list[int]) -> float | None:
    total = 0.0
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None
    return total


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] * 1000


def _wait_for(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the benchmark server exited")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("the benchmark server did not start")


def run(keys: int, n_requests: int, concurrency: int, console: Console) -> dict:
    dbname = f"exchange_bench_lookup_{os.getpid()}"
    url = create_scratch(dbname)
    proc = None
    try:
        ids, token = _setup(url, keys, console)
        bodies = _requests(ids, n_requests)
        with tempfile.TemporaryDirectory(prefix="exchange-bench-lookup-") as home:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            runs: dict = {}
            cpu: dict = {}
            for mode in ("on", "off"):
                env = {**os.environ, "EXCHANGE_DB_URL": url, "EXCHANGE_HOME": home, "EXCHANGE_PSEUDONYM_KEY": SECRET,
                       "EXCHANGE_LOOKUP_RATE": "10000000", "EXCHANGE_LOOKUP_BURST": "10000000",
                       "EXCHANGE_AUDIT_COMMIT": mode}
                code = f"from exchange.web.app import serve; serve('127.0.0.1', {port})"
                proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=home)
                _wait_for(port, proc)
                console.print(f"审计提交 audit commit {mode}: warming up, then {n_requests:,} look-ups over"
                              f" {concurrency} connections ...")
                asyncio.run(_load(port, token, bodies[: min(2000, len(bodies))], concurrency))
                backends = _backend_pids(url)
                before = _cpu_seconds([proc.pid]), _cpu_seconds(backends), time.process_time()
                runs[mode] = asyncio.run(_load(port, token, bodies, concurrency))
                after = _cpu_seconds([proc.pid]), _cpu_seconds(backends), time.process_time()
                cpu[mode] = [(a - b) / len(bodies) * 1000 for a, b in zip(after, before, strict=True)]
                proc.terminate()
                proc.wait(10)
                proc = None
        floor, floor_elapsed = _floor(url, ids, bodies)
        with psycopg.connect(url) as conn:
            audited = conn.execute("select count(*), count(*) filter (where hit) from control.lookup_audit"
                                   " where outcome = 'answered'").fetchone()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        drop_scratch(dbname)
    result = {"keys": keys, "requests": n_requests, "concurrency": concurrency, "cores": os.cpu_count(),
              "load_average": os.getloadavg(), "audited": audited[0], "audited_hits": audited[1],
              "select_p50_ms": _pct(floor, 0.5), "select_p99_ms": _pct(floor, 0.99),
              "select_per_s": len(floor) / floor_elapsed}
    for mode, (latencies, elapsed, statuses) in runs.items():
        result[f"commit_{mode}"] = {"p50_ms": _pct(latencies, 0.5), "p99_ms": _pct(latencies, 0.99),
                                    "per_s": len(latencies) / elapsed, "statuses": statuses}
    table = Table("measure 指标", "HTTP look-up, durable audit", "HTTP look-up, audit commit off",
                  "bare indexed SELECT (floor)")
    on, off = result["commit_on"], result["commit_off"]
    table.add_row("p50 latency (ms)", f"{on['p50_ms']:.2f}", f"{off['p50_ms']:.2f}", f"{result['select_p50_ms']:.3f}")
    table.add_row("p99 latency (ms)", f"{on['p99_ms']:.2f}", f"{off['p99_ms']:.2f}", f"{result['select_p99_ms']:.3f}")
    table.add_row("throughput (/s)", f"{on['per_s']:.0f}", f"{off['per_s']:.0f}", f"{result['select_per_s']:.0f}")
    console.print(table)
    for mode in ("on", "off"):
        r = result[f"commit_{mode}"]
        ok = r["p99_ms"] <= 10 and r["per_s"] >= 800
        app_ms, pg_ms, gen_ms = cpu[mode]
        r["cpu_ms"] = {"app": app_ms, "postgres": pg_ms, "load_generator": gen_ms}
        line = (f"audit commit {mode}: HTTP statuses {r['statuses']}; target p99 <= 10 ms and >= 800/s:"
                f" {'met 达标' if ok else 'NOT met 未达标'}")
        if app_ms is not None and pg_ms is not None:
            total = app_ms + pg_ms + gen_ms
            r["capacity_per_s"] = (os.cpu_count() or 1) * 1000 / total
            line += (f"; CPU per look-up {total:.2f} ms (app {app_ms:.2f}, PostgreSQL {pg_ms:.2f}, load generator"
                     f" {gen_ms:.2f}): {r['capacity_per_s']:.0f}/s if these {os.cpu_count()} cores were ours alone")
        console.print(line)
    console.print(f"{keys:,} borrower keys; {audited[0]:,} audit rows ({audited[1]:,} hits); {result['cores']} cores,"
                  f" load generator included; load average {result['load_average'][0]:.1f} at the end")
    return result
