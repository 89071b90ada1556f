-- Every schema dbt builds into exists before dbt first runs (staging, intermediate and marts since
-- 0004; the publication candidates and the rule seeds here). dbt creates a node's schema when it
-- first builds a node there, and exchange_transform builds each model in its own task: on a new
-- database two publication models' tasks started at once on two Celery workers, and one failed
-- with "duplicate key value violates unique constraint pg_namespace_nspname_index", because
-- CREATE SCHEMA IF NOT EXISTS does not wait for a concurrent one that has not committed yet.
create schema if not exists publication;
create schema if not exists rules;
