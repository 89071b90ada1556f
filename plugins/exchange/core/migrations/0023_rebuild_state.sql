-- The state of the dbt project's incremental rebuilds (dbt_project/macros/rebuild_log.sql,
-- signal_inputs.sql, key_log.sql, test_scope.sql), out of the analysts' schemas. Until now the
-- first incremental model of a run created it inside its own transaction; the others, built at the
-- same time, waited for that transaction under an advisory lock, so on a new database the first
-- build ran its incremental models one after the other (a model of several minutes held the rest).
-- Created here, once; on a database where dbt created it already, only the missing table is added.
--
-- rebuild_log       per model without a rebuild_producer, lender and run: the first month rebuilt
--                   (lender null: every lender); a signal model logs its first signal date rebuilt
-- rebuild_consumed  per model reading a log: the last entry it has read
-- rules_built       per model with rebuild_rules: the fingerprint of the seeds it was built with
-- signal_inputs     per signal model and signal date: the fingerprint of what it was built from
-- key_log           borrower keys whose loans changed (int_signal_loans), from which date; numbered
--                   from the rebuild log's sequence, so a reader keeps one position for both logs;
--                   entries go once every reader has read them
-- test_scope        per incremental model: the first month its latest run rebuilt

create schema if not exists exchange_state;

create table if not exists exchange_state.rebuild_log (
    seq bigserial primary key,
    model text not null,
    lender_code text,
    rebuild_month date not null,
    logged_at timestamptz not null default now()
);

create table if not exists exchange_state.rebuild_consumed (
    model text primary key,
    seq bigint not null,
    consumed_at timestamptz not null default now()
);

create table if not exists exchange_state.rules_built (
    model text primary key,
    fingerprint text not null,
    built_at timestamptz not null default now()
);

create table if not exists exchange_state.signal_inputs (
    model text not null,
    signal_date date not null,
    fingerprint text not null,
    primary key (model, signal_date)
);

create table if not exists exchange_state.key_log (
    seq bigint primary key default nextval('exchange_state.rebuild_log_seq_seq'),
    model text not null,
    borrower_key text,
    rebuild_from date not null,
    logged_at timestamptz not null default now()
);

create table if not exists exchange_state.test_scope (
    model text primary key,
    first_month date,
    recorded_at timestamptz not null default now()
);
