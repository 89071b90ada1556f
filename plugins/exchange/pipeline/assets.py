"""Airflow Assets that connect the exchange's DAGs (ingest -> transform -> publish), and the pool of
their database-heavy tasks."""

from airflow.sdk import Asset

RAW_ASSET = Asset(name="exchange_raw", uri="exchange://raw/submissions")
"""Updated when an ingest run loaded or replaced rows in the raw zone."""

MARTS_ASSET = Asset(name="exchange_marts", uri="exchange://marts/standardized")
"""Updated when a transform run rebuilt the standardized models and marts."""

FEED_ASSET = Asset(name="exchange_feed", uri="exchange://shared/feed")
"""Updated when a new version of the blacklist and default feed went live."""

DB_POOL = "exchange_db"
"""The Airflow pool of the tasks that load or switch data in the exchange's PostgreSQL (ingest per
lender, the quality gate, publish): its slots bound how many of them hold connections at once.
The deployment creates it; the in-process runner (exchange.pipeline.run) creates it in its own
metadata database."""
