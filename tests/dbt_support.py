"""dbt invocations for the dbt tests, against a database from tests/databases.py."""

from __future__ import annotations

from pathlib import Path

import psycopg

from exchange.core.settings import environment
from exchange.pipeline.dbt import DBT_PROJECT_DIR, run_dbt


def exchange_env(url: str, home: Path) -> dict[str, str]:
    """The environment that points the exchange's own functions at a test database and home."""
    from conftest import TEST_SECRET

    return {"EXCHANGE_DB_URL": url, "EXCHANGE_HOME": str(home), "EXCHANGE_PSEUDONYM_KEY": TEST_SECRET}


def dbt(url: str, work_dir: Path, *args: str, project_dir: Path = DBT_PROJECT_DIR) -> None:
    """Run dbt against `url`, keeping its target and logs in `work_dir` (not in the checkout)."""
    with environment(EXCHANGE_DB_URL=url):
        run_dbt([*args, "--target-path", str(work_dir / "target"), "--log-path", str(work_dir / "logs")],
                project_dir)


def rows_out_of_month_order(conn: psycopg.Connection, table: str, month_column: str) -> tuple[int, int]:
    """(rows, rows stored after a row of a later month) of `table`, in its order on disk (ctid)."""
    return conn.execute(
        f"select count(*), count(*) filter (where {month_column} < previous)"
        f" from (select {month_column}, lag({month_column}) over (order by ctid) as previous from {table}) as on_disk"
    ).fetchone()


def model_tables(conn: psycopg.Connection, schemas: tuple[str, ...] = ("intermediate", "marts")) -> list[str]:
    """The base tables ("schema.table") of `schemas`, sorted: the tables dbt built there."""
    return [r[0] for r in conn.execute(
        "select table_schema || '.' || table_name from information_schema.tables"
        " where table_schema = any(%s) and table_type = 'BASE TABLE' order by 1", (list(schemas),)).fetchall()]


def copy_tables(conn: psycopg.Connection, tables: list[str], schema: str,
                source: psycopg.Connection | None = None) -> dict[str, str]:
    """Each of `tables` copied as it is now, from the database of `source` (default: that of
    `conn`), into `schema` of the database of `conn` (created afresh); {table: its copy}."""
    conn.execute(f"drop schema if exists {schema} cascade")
    conn.execute(f"create schema {schema}")
    copies = {table: f"{schema}.{table.replace('.', '__')}" for table in tables}
    for table, copy in copies.items():
        if source is None:
            conn.execute(f"create table {copy} as table {table}")
            continue
        conn.execute(f"create table {copy} (like {table})")
        with (source.cursor().copy(f"copy {table} to stdout (format binary)") as rows,
              conn.cursor().copy(f"copy {copy} from stdin (format binary)") as into):
            for block in rows:
                into.write(block)
    return copies


def rows_differing(conn: psycopg.Connection, table: str, other: str) -> str | None:
    """None when `table` and `other` hold the same rows, duplicates counted (EXCEPT ALL both
    ways); else how many rows each holds that the other does not, with up to two of them."""
    counts = [conn.execute(f"select count(*) from (table {a} except all table {b}) d").fetchone()[0]
              for a, b in ((table, other), (other, table))]
    if counts == [0, 0]:
        return None
    examples = [conn.execute(f"select * from (table {a} except all table {b}) d limit 2").fetchall()
                for a, b in ((table, other), (other, table))]
    return (f"{counts[0]} rows only in {table} (e.g. {examples[0]}),"
            f" {counts[1]} only in {other} (e.g. {examples[1]})")
