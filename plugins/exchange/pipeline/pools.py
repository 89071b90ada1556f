"""The Airflow pool that the exchange's database-heavy tasks share.

Kept apart from the Assets (which import Airflow) so `exchange airflow up` can create the pool
without importing Airflow into the CLI's process.
"""

DB_POOL = "exchange_db"
"""Tasks that write the exchange's database (ingest files, the dbt seeds and models, publication)
take a slot of this pool; `exchange airflow up` creates it. The in-process runner (dag.test)
does not consult pools."""

DB_POOL_SLOTS = 2
"""How many such tasks run at once: a dbt model already keeps the server's cores busy (this host
has two), so more at once would only queue inside PostgreSQL."""
