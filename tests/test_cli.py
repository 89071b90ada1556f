"""The `exchange` command as an operator and a lender use it."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import time
import uuid

import psycopg
from builders import csv_text, loan_row
from click.testing import CliRunner
from psycopg.conninfo import make_conninfo

from exchange.cli.main import main
from exchange.core import db


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_lender_registry_add_list_suspend_reinstate(exchange_home):
    assert run("lenders", "add", "XD01", "--name", "甲小贷", "--category", "microloan_company")[0] == 0
    assert "already registered" in run("lenders", "add", "XD01", "--name", "甲小贷", "--category",
                                       "microloan_company")[1]
    code, out = run("lenders", "add", "XD01", "--name", "别的名字", "--category", "microloan_company")
    assert code == 2 and "L_EXISTS" in out
    assert run("lenders", "suspend", "XD01", "--reason", "test")[0] == 0
    listed = json.loads(run("lenders", "list", "--json")[1])
    assert listed == [{"code": "XD01", "name": "甲小贷", "category": "microloan_company", "status": "suspended"}]
    assert run("lenders", "reinstate", "XD01", "--reason", "paid")[0] == 0


def test_the_exchange_database_orders_text_bytewise_and_db_up_names_one_that_does_not(exchange_home, pg_url,
                                                                                       monkeypatch):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert db.orders_text_bytewise(conn)
        assert "note" not in run("db", "up")[1]
        locale = conn.execute(  # a libc locale of the server's encoding other than C/POSIX
            "select collcollate from pg_collation where collprovider = 'c' and collencoding in (-1, 6)"
            " and collcollate not in ('C', 'POSIX') order by collname limit 1").fetchone()[0]
        name = f"exchange_test_locale_{uuid.uuid4().hex[:8]}"
        conn.execute(f"create database {name} template template0 encoding 'UTF8' lc_collate '{locale}'"
                     f" lc_ctype '{locale}'")
    try:
        monkeypatch.setenv("EXCHANGE_DB_URL", make_conninfo(pg_url, dbname=name))
        code, out = run("db", "up")
        assert code == 0 and 'the database\'s collation is not "C"' in " ".join(out.split())
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"drop database {name} with (force)")


def test_bad_lender_code_is_refused_with_its_reason(exchange_home):
    code, out = run("lenders", "add", "xd-1", "--name", "x", "--category", "microloan_company")
    assert code == 2 and "L_CODE" in out


def test_submit_queues_good_files_and_refuses_bad_ones_with_the_reason(exchange_home, tmp_path):
    run("lenders", "add", "XD01", "--name", "甲小贷", "--category", "microloan_company")
    good = tmp_path / "XD01_loans_20250131.csv"
    good.write_text(csv_text([loan_row(1)]), encoding="utf-8")
    other = tmp_path / "XD02_loans_20250131.csv"
    other.write_text(csv_text([loan_row(2)]), encoding="utf-8")
    code, out = run("submit", "--lender", "XD01", str(good), str(other))
    assert code == 1
    assert "F_LENDER_MISMATCH" in out
    assert (exchange_home / "landing" / "XD01" / good.name).exists()
    assert not (exchange_home / "landing" / "XD01" / other.name).exists()


def test_submit_names_a_mistyped_path_as_not_found_not_as_a_damaged_file(exchange_home, tmp_path):
    run("lenders", "add", "XD01", "--name", "甲小贷", "--category", "microloan_company")
    missing = tmp_path / "XD01_loans_20250131.csv"
    code, out = run("submit", "--lender", "XD01", str(missing), str(tmp_path))
    assert code == 1
    said = " ".join(out.split())  # one line per file, however the terminal wraps it
    assert f"✗ F_NOT_FOUND {missing.name}: 找不到要提交的文件（路径不存在或是目录） / does not exist" in said
    assert f"✗ F_NOT_FOUND {tmp_path.name}: 找不到要提交的文件（路径不存在或是目录） / a directory" in said
    assert "F_FORMAT" not in out


def test_status_json_reports_each_lender(exchange_home):
    run("lenders", "add", "XD01", "--name", "甲小贷", "--category", "microloan_company")
    (row,) = json.loads(run("status", "--json")[1])
    assert row["lender"] == "XD01" and row["files"] == 0


def test_status_of_one_lender_lists_its_files_and_names_an_unknown_code(exchange_home):
    """A mistyped code is L_UNKNOWN, not an empty list that reads as a lender with nothing sent yet."""
    run("lenders", "add", "XD01", "--name", "甲小贷", "--category", "microloan_company")
    assert json.loads(run("status", "--lender", "XD01", "--json")[1]) == []
    code, out = run("status", "--lender", "XD0I", "--json")
    assert code == 2 and "[L_UNKNOWN] no lender XD0I" in out


def test_tools_attach_by_entry_point_and_the_product_runs_without_them():
    """demo, generate and bench come from exchange_tools; an install without it (the image) has the rest."""
    from exchange.cli.main import main as full

    assert {"demo", "generate", "bench"} <= set(full.commands)
    blocked = textwrap.dedent("""
        import sys

        class NoTools:
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] == "exchange_tools":
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)

        sys.meta_path.insert(0, NoTools())
        from exchange.cli.main import main
        print(" ".join(sorted(main.commands)))
    """)
    out = subprocess.run([sys.executable, "-c", blocked], check=True, capture_output=True, text=True).stdout.split()
    assert out == sorted(set(full.commands) - {"demo", "generate", "bench"})


def test_the_pipelines_progress_ends_a_dag_with_nothing_to_count_at_0_of_0_with_its_own_time(monkeypatch):
    from rich.console import Console

    from exchange.cli import pipeline as cli_pipeline

    screen = io.StringIO()
    monkeypatch.setattr(cli_pipeline, "console", Console(file=screen, force_terminal=True, width=120))
    watcher = cli_pipeline.ProgressWatcher()
    watcher.run_started(None)
    try:
        watcher.dag_started("exchange_ingest", 0, "files")  # the landing zone was empty
        watcher.dag_finished("exchange_ingest", "success", 0.5)
        watcher.dag_started("exchange_transform", 64, "dbt models")
        [ingest, _] = watcher.progress.tasks
        ended = ingest.elapsed
        time.sleep(1.1)

        assert ingest.finished and (ingest.completed, ingest.total) == (0, 0)
        assert ingest.elapsed == ended  # the other DAG's time does not run on in its line
    finally:
        watcher.run_finished()
    assert "0/0" in screen.getvalue()
