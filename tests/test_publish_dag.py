"""The publish DAG (dags/exchange_publish.py) through the pipeline driver (Airflow dag.test()).

A fresh database gets the crafted publication data and a dbt build; the driver then runs
exchange_publish as the marts Asset would start it: the gate task passes and the publish task
makes version 1 live. A clear ID injected into a candidate then fails the gate: the run fails
with the name of the failed expectation, version 1 stays live, and the publication is not left
pending (the pipeline would only fail the same way again).
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import publication_scenario as scenario
import pytest
from conftest import TEST_SECRET
from databases import fresh_database
from dbt_support import dbt

from exchange.feed.quality_gate import GateFailed
from exchange.pipeline import stages
from exchange.pipeline.run import DAG_ORDER, run_pipeline


@pytest.mark.slow
def test_publish_dag_publishes_then_a_failing_gate_keeps_the_live_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert DAG_ORDER[-1] == "exchange_publish"
    with fresh_database("publish_dag") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            scenario.load(conn)
        dbt(url, tmp_path, "seed")
        dbt(url, tmp_path, "run", "--select", "+path:models/publication")
        monkeypatch.setenv("EXCHANGE_DB_URL", url)
        monkeypatch.setenv("EXCHANGE_HOME", str(tmp_path))
        monkeypatch.setenv("EXCHANGE_PSEUDONYM_KEY", TEST_SECRET)

        result = run_pipeline(only=("exchange_publish",))

        [run] = result.runs
        assert run.state == "success"
        assert run.task_states == {"gate": "success", "publish": "success"}
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("select version from shared.live_version").fetchone() == (1,)
            assert conn.execute("select count(*) from shared.blacklist").fetchone() == (5,)
            conn.execute("update publication.pub_blacklist_candidates set reason_codes = 'B1 13800138000'"
                         " where borrower_key = %s", (scenario.BORROWER["P1"],))

        with pytest.raises(GateFailed) as failure:
            run_pipeline(only=("exchange_publish",))

        assert "blacklist_candidates/no_clear_identifier:reason_codes" in failure.value.failed
        assert "blacklist_candidates/accepted_values:reason_codes" in str(failure.value)
        assert "does not retry" in str(failure.value)
        with psycopg.connect(url) as conn:
            assert conn.execute("select version from shared.live_version").fetchone() == (1,)
            assert conn.execute("select status from shared.feed_versions where version = 2").fetchone() == ("failed",)
            assert stages.pending(conn) == {}  # the version waits for an approval: nothing to retry
            assert conn.execute("select count(*) from shared.blacklist_rows where reason_codes like '%%138%%'"
                                ).fetchone() == (0,)
        assert (tmp_path / "exports" / "1" / "manifest.json").exists()
        assert not (tmp_path / "exports" / "2").exists()
