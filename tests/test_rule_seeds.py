"""The monthly transform loads and tests the rule seeds only when they changed (exchange.pipeline.seeds).

One migrated database for the module, its rule seeds loaded once; each test calls load_rule_seeds as
the transform DAG's rule_seeds task does (dbt's target and logs in a scratch folder) and leaves the
checkout's rules loaded and recorded.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from databases import fresh_database
from dbt_support import environment, exchange_env

from exchange.pipeline.dbt import DBT_PROJECT_DIR, ensure_manifest, parse_for_tasks
from exchange.pipeline.seeds import load_rule_seeds


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("rule_seeds")
    with fresh_database("rule_seeds") as url, environment(**exchange_env(url, home)):
        assert load(home) is True
        yield url


def load(work: Path, project_dir: Path = DBT_PROJECT_DIR) -> bool:
    return load_rule_seeds(dbt_args=["--target-path", str(work / "target"), "--log-path", str(work / "logs")],
                           project_dir=project_dir)


def filenode(url: str, table: str) -> int:
    """The table's file on disk: a load truncates the table, which gives it a new one."""
    with psycopg.connect(url) as conn:
        return conn.execute("select pg_relation_filenode(%s)", (table,)).fetchone()[0]


def dpd_buckets(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("select * from rules.rule_dpd_buckets order by 1, 2").fetchall()


def test_unchanged_seeds_are_not_loaded_again(url: str, tmp_path: Path) -> None:
    before = filenode(url, "rules.rule_dpd_buckets")

    assert load(tmp_path) is False
    assert filenode(url, "rules.rule_dpd_buckets") == before


def test_a_rule_table_edited_by_hand_gets_the_released_rules_back(url: str, tmp_path: Path) -> None:
    released = dpd_buckets(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("delete from rules.rule_dpd_buckets where ctid = (select min(ctid) from rules.rule_dpd_buckets)")

    assert load(tmp_path) is True
    assert dpd_buckets(url) == released


def test_a_dropped_rule_table_is_loaded_again(url: str, tmp_path: Path) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop table rules.rule_listing_reasons cascade")

    assert load(tmp_path) is True
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from rules.rule_listing_reasons").fetchone()[0] > 0


def test_a_released_seed_file_is_loaded(url: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    documented = project / "seeds" / "rule_parameters.yml"  # the same rows, another file
    documented.write_text(documented.read_text(encoding="utf-8") + "# released again\n", encoding="utf-8")

    assert load(tmp_path, project) is True
    assert load(tmp_path, project) is False
    assert load(tmp_path) is True  # back to the checkout's files: they differ from the copy's


def test_a_new_deployments_first_transform_parses_nothing_again_after_up(url: str, tmp_path: Path,
                                                                           capfd: pytest.CaptureFixture) -> None:
    """`exchange airflow up` writes dbt's partial-parse file for the deployment's profile and the
    monthly vars (parse_for_tasks): the first month's rule_seeds then reads it and parses nothing,
    where it parsed the whole project before any model task could start (8.6 s at a million loans)."""
    project = tmp_path / "project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    ensure_manifest(project)  # what `up` did before: a parse with stand-ins, of which it keeps the manifest
    parse_for_tasks(project)
    capfd.readouterr()

    assert load_rule_seeds(project_dir=project) is False
    assert "Unable to do partial parsing" not in capfd.readouterr().out
