#!/bin/bash
# Creates the exchange's and Airflow's databases and owners on first start of the postgres volume.
# The exchange's owner may create roles: its migrations create the access roles and one per lender.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username postgres <<SQL
create role exchange login createrole password '${EXCHANGE_DB_PASSWORD}';
create database exchange owner exchange;
create role airflow login password '${AIRFLOW_DB_PASSWORD}';
create database airflow owner airflow;
SQL
