-- What the rule tables were last loaded from (exchange.pipeline.seeds): the fingerprint of the
-- seed files dbt read and of the tables' contents as loaded. The monthly transform loads and
-- tests the rule seeds again only when either differs (a rule release, or a table edited by hand).
create table if not exists exchange_state.rule_seeds_loaded (
    project text primary key,
    files_fingerprint text not null,
    tables_fingerprint text not null,
    loaded_at timestamptz not null default now()
);
