-- The intermediate models are UNLOGGED tables (dbt_project/macros/unlogged.sql): PostgreSQL empties
-- them when it recovers from a crash. Per unlogged model, whether its last committed build left
-- rows in it: a run that finds an incremental one empty builds it whole, and a model that reads one
-- still emptied refuses to build. Logged, so it survives the crash that empties the models.
create table if not exists exchange_state.unlogged_built (
    model text primary key,
    has_rows boolean not null,
    built_at timestamptz not null default now()
);
