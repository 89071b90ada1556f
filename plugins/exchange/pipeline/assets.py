"""Airflow Assets that connect the exchange's DAGs (ingest -> transform -> publish), and the pool of
their database-heavy tasks."""

from airflow.sdk import Asset

from exchange.pipeline.pools import DB_POOL  # noqa: F401  (the DAGs take the pool from here with the Assets)

RAW_ASSET = Asset(name="exchange_raw", uri="exchange://raw/submissions")
"""Updated when an ingest run loaded or replaced rows in the raw zone."""

MARTS_ASSET = Asset(name="exchange_marts", uri="exchange://marts/standardized")
"""Updated when a transform run rebuilt the standardized models and marts."""

FEED_ASSET = Asset(name="exchange_feed", uri="exchange://shared/feed")
"""Updated when a new version of the blacklist and default feed went live."""
