-- The monthly tests of a fraud-signal model (dbt_project/macros/test_scope.sql) read the dates its
-- latest run rebuilt for every key (exchange_state.test_scope) and the rows of the keys it rebuilt
-- on earlier dates, kept here per model. Without them the scope went back to the earliest date a
-- key was rebuilt from, and a month's tests read every past date of every key (minutes at a
-- million loans). Pseudonymized keys, as in the key log: out of the analysts' schemas, replaced
-- by the model's next run.

create table if not exists exchange_state.test_scope_keys (
    model text not null,
    borrower_key text not null,
    primary key (model, borrower_key)
);
