-- The monthly tests of a staging view over the raw zone (stg_raw__loans, stg_raw__loan_status,
-- stg_raw__collection_actions: dbt_project/macros/tested_files.sql) read only the files that
-- test has not yet passed on. A file's raw rows never change once accepted (a correction is a new
-- file; retention's de-keying takes rows out of the view), so a file that passed a test still
-- passes it; before this the monthly tests read every file ever received (19.6M collection
-- actions at a million loans) and grew with the history.
--
-- test_run_files  per dbt invocation testing such a view: the files accepted when it started
--                 (the rows its tests read are of these files only, so a file committed while
--                 the tests ran is left for the next run, never skipped)
-- tested_files    per data test: the files it passed on

create table if not exists exchange_state.test_run_files (
    invocation_id text not null,
    submission_id bigint not null,
    recorded_at timestamptz not null default now(),
    primary key (invocation_id, submission_id)
);

create table if not exists exchange_state.tested_files (
    test_id text not null,
    submission_id bigint not null,
    tested_at timestamptz not null default now(),
    primary key (test_id, submission_id)
);
