"""Generated lenders through a real Airflow ingest run: the truth file replayed against the
feedback (recall and false positives per reason code), and no clear identity anywhere."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt

import psycopg
import pytest
from rich.console import Console
from rich.table import Table

from exchange.core.settings import get_settings
from exchange.core.spec import KINDS
from exchange.intake import lenders
from exchange.intake.ingest import submit
from exchange.intake.readers import detect_encoding, open_rows, parse_file_name
from exchange.pipeline.run import run_pipeline
from exchange_tools.synthetic.generate import generate
from exchange_tools.synthetic.inject import ROW_CODES

SCALE = {"lenders": 5, "months": 4, "loans": 600, "seed": 11, "error_rate": 0.02, "end": dt.date(2025, 6, 30)}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, pg_url):
    """Generate, register, submit and run exchange_ingest once for the module's tests."""
    home = tmp_path_factory.mktemp("home")
    out = tmp_path_factory.mktemp("generated")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXCHANGE_DB_URL", pg_url)
        mp.setenv("EXCHANGE_HOME", str(home))
        mp.setenv("EXCHANGE_PSEUDONYM_KEY", "generated-data-test-secret-0123")
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("truncate control.lenders, control.role_lenders, control.audit_log, control.submissions,"
                         " control.status_coverage, control.row_problems, raw.loans, raw.loan_status,"
                         " raw.collection_actions cascade")
            result = generate(out, **SCALE)
            for lender in result.lenders:
                lenders.add(conn, lender.code, lender.name_zh, lender.category)
        for path in result.files:
            submit(path.name.split("_", 1)[0], [path])
        pipeline = run_pipeline(only=("exchange_ingest",))
        yield {"home": home, "out": out, "result": result, "pipeline": pipeline, "url": pg_url}


def test_ingest_run_succeeds_and_loads_every_lender(loaded):
    (run,) = loaded["pipeline"].runs
    assert run.state == "success"
    with psycopg.connect(loaded["url"]) as conn:
        per_lender = dict(conn.execute("select lender_code, count(*) from raw.loan_status group by 1"))
    assert set(per_lender) == {lender.code for lender in loaded["result"].lenders}
    assert all(n > 0 for n in per_lender.values())


def test_truth_replay_catches_every_injected_error_and_flags_no_clean_row(loaded):
    with (loaded["out"] / "truth.csv").open(encoding="utf-8") as fh:
        truth = {(r["file"], int(r["line"]), r["code"]) for r in csv.DictReader(fh)}
    with psycopg.connect(loaded["url"]) as conn:
        found = {(f, line, code) for f, line, code in conn.execute(
            "select s.file_name, p.line, p.code from control.row_problems p join control.submissions s"
            " using (submission_id) where p.severity <> 'file' and p.code <> 'W_COLUMN_IGNORED'")}
    table = Table("code", "injected", "caught", "wrongly flagged", title="truth replay 校验回放")
    for code in sorted({c for *_, c in truth | found}):
        injected = {t for t in truth if t[2] == code}
        flagged = {f for f in found if f[2] == code}
        table.add_row(code, str(len(injected)), str(len(injected & flagged)), str(len(flagged - injected)))
    Console(width=120).print(table)
    assert truth - found == set(), "missed: " + repr(sorted(truth - found)[:10])
    assert found - truth == set(), "wrongly flagged: " + repr(sorted(found - truth)[:10])
    assert {c for *_, c in truth} == set(ROW_CODES), "the generated data exercises every row-level reason code"


def _clear_identities(out) -> set[str]:
    """Every ID number, name and phone in the generated loans files, read with the ingest's own reader."""
    values: set[str] = set()
    for path in out.rglob("*_loans_*"):
        name = parse_file_name(path.name)
        encoding = None if name.ext == "xlsx" else detect_encoding(path)
        _, chunks = open_rows(path, name.ext, encoding, KINDS["loans"],
                              dataclasses.replace(get_settings(), max_field_bytes=1 << 20))
        for chunk in chunks:
            for field in ("id_number", "borrower_name", "phone"):
                values.update(v.strip() for v in chunk.columns.get(field, []) if len(v.strip()) >= 2)
    return values


def test_no_clear_identity_in_any_table_log_or_feedback(loaded):
    clear = _clear_identities(loaded["out"])
    assert len(clear) > 1000
    with psycopg.connect(loaded["url"]) as conn:
        columns = conn.execute(
            "select table_schema, table_name, column_name from information_schema.columns"
            " where table_schema not in ('pg_catalog', 'information_schema')"
            " and data_type in ('text', 'character', 'character varying', 'jsonb', 'json')").fetchall()
        assert len(columns) > 20
        for schema, table, column in columns:
            hits = conn.execute(f'select count(*) from "{schema}"."{table}" where "{column}"::text = any(%s)',
                                (list(clear),)).fetchone()[0]
            assert hits == 0, f"{schema}.{table}.{column} holds clear identities"
    ids_and_phones = {v for v in clear if v.isascii()}
    texts = [p.read_text(encoding="utf-8-sig", errors="replace") for p in (loaded["home"] / "feedback").rglob("*.*")]
    texts.append(loaded["pipeline"].log_path.read_text(errors="replace"))
    for text in texts:
        assert not [v for v in ids_and_phones if v in text]
