"""The rule seeds (规则表) of the monthly transform: loaded and tested only when they changed.

The rule tables (dbt_project/seeds/, schema `rules`) change with a rule release, not with a
month's files. Loading them and running their ~100 tests took 8-10 s of every month at a million
loans, on the transform's critical path (every model waits for them), to write the same rows
again. A load records two fingerprints in exchange_state.rule_seeds_loaded: of the seed files as
dbt read them (the CSVs, their yml and dbt_project.yml, which holds the seeds' config, and dbt's
version) and of the tables' contents as loaded. The next run loads and tests them again when
either differs: a new release changed a file, or someone edited, emptied or dropped a rule table
by hand (the reload puts the released rules back). Otherwise it only lets dbt check the project
(`dbt parse`, partial: about a second when nothing changed), so after a release of models alone
the run's first task still parses the project once and writes the partial-parse file that every
model task then reads (exchange.pipeline.dbt.TRANSFORM_VARS).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import psycopg
from psycopg import sql

from exchange.core import db
from exchange.core.settings import DBT_PROJECT_DIR
from exchange.pipeline.dbt import monthly_vars, run_dbt

log = logging.getLogger(__name__)

RULES_SCHEMA = "rules"
"""Where the seeds land (dbt_project.yml, seeds: +schema)."""


def seed_files(project_dir: Path = DBT_PROJECT_DIR) -> list[Path]:
    """The files whose contents decide what `dbt seed` loads, in a stable order."""
    seeds = sorted(p for p in (project_dir / "seeds").rglob("*") if p.is_file())
    return [*seeds, project_dir / "dbt_project.yml"]


def files_fingerprint(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """sha256 over the seed files (name and bytes) and dbt's version."""
    from dbt.version import __version__ as dbt_version

    digest = hashlib.sha256(f"dbt {dbt_version}\0".encode())
    for path in seed_files(project_dir):
        digest.update(str(path.relative_to(project_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def tables_fingerprint(conn: psycopg.Connection, project_dir: Path = DBT_PROJECT_DIR) -> str | None:
    """md5 over every rule table's rows as stored now; None when one of them is missing."""
    names = sorted(p.stem for p in (project_dir / "seeds").rglob("*.csv"))
    parts = []
    for name in names:
        if conn.execute("select to_regclass(%s)", (f"{RULES_SCHEMA}.{name}",)).fetchone()[0] is None:
            return None
        parts.append(sql.SQL("(select md5(coalesce(string_agg(t::text, ';' order by t::text), '')) from {} as t)")
                     .format(sql.Identifier(RULES_SCHEMA, name)))
    query = sql.SQL("select md5(concat_ws('|', {}))").format(sql.SQL(", ").join(parts))
    return conn.execute(query).fetchone()[0]


def seeds_current(conn: psycopg.Connection, files: str, project_dir: Path = DBT_PROJECT_DIR) -> bool:
    """Whether the rule tables hold what seed files of fingerprint `files` load: both fingerprints
    as the last load recorded them."""
    recorded = conn.execute("select files_fingerprint, tables_fingerprint from exchange_state.rule_seeds_loaded"
                            " where project = 'exchange'").fetchone()
    return recorded is not None and recorded == (files, tables_fingerprint(conn, project_dir))


def load_rule_seeds(as_of: str | None = None, dbt_args: Sequence[str] = (),
                    project_dir: Path = DBT_PROJECT_DIR) -> bool:
    """Load and test the rule seeds unless they are current (seeds_current); True when loaded.

    `as_of` is the transform run's param (its vars, exchange.pipeline.dbt.monthly_vars);
    `dbt_args` are more dbt flags (a benchmark's own target and log paths).
    Raises TransformFailed (exchange.pipeline.dbt.run_dbt) when a seed or one of its tests fails;
    nothing is then recorded, so the next run loads them again.
    """
    files = files_fingerprint(project_dir)
    with db.connect() as conn:
        current = seeds_current(conn, files, project_dir)
    # --no-write-json: target/manifest.json is the one ensure_manifest wrote, which the DAG's
    # parsing reads, never rewritten under a reader; the vars of every task of the run, as the
    # model tasks read the partial-parse file this writes (TRANSFORM_VARS)
    flags = ["--no-write-json", *monthly_vars(as_of), *dbt_args]
    if current:
        log.info("rule seeds unchanged since they were loaded: not loaded again (规则表未变更)")
        run_dbt(["parse", *flags], project_dir)
        return False
    # cautious: a test between a model and a seed (relationships) runs with the model, once it exists
    run_dbt(["build", "--select", "resource_type:seed", "--indirect-selection", "cautious", *flags], project_dir)
    with db.connect(autocommit=True) as conn:
        conn.execute(
            "insert into exchange_state.rule_seeds_loaded (project, files_fingerprint, tables_fingerprint)"
            " values ('exchange', %s, %s) on conflict (project) do update set files_fingerprint ="
            " excluded.files_fingerprint, tables_fingerprint = excluded.tables_fingerprint, loaded_at = now()",
            (files, tables_fingerprint(conn, project_dir)))
    log.info("rule seeds loaded and tested (规则表已加载)")
    return True
