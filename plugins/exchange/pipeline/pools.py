"""The Airflow pool that the exchange's database-heavy tasks share.

Kept apart from the Assets (which import Airflow) so `exchange airflow up` can create the pool
without importing Airflow into the CLI's process; exchange.pipeline.assets re-exports it.
"""

DB_POOL = "exchange_db"
"""The Airflow pool of the tasks that load or switch data in the exchange's PostgreSQL (ingest per
lender, the dbt seeds and models, the quality gate, publish): its slots bound how many of them hold
connections at once. `exchange airflow up` creates it (and airflow-init in docker-compose.yml); the
in-process runner (exchange.pipeline.run) creates it in its own metadata database."""

DB_POOL_SLOTS = 2
"""How many such tasks run at once: a dbt model already keeps the server's cores busy (this host
has two), so more at once would only queue inside PostgreSQL. Measured at a million loans on clones
of one database (2026-12-07): three slots 236.7 s for the month, two 236.4 s; the third put the
idle cores to work and every task took longer by as much (docs/benchmarks.md)."""
