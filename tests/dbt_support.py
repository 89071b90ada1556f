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
