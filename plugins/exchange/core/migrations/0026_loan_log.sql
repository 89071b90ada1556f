-- The loan log (dbt_project/macros/loan_log.sql): the loans whose latest attributes changed or
-- that went, as int_loans_latest finds them in each run. The loan-level models
-- (status history, repayment profile, fct_loan_status) and the collection actions rebuild those
-- loans from their first row. Until now each of them compared every row it held with the loans
-- every month (7.2M status rows three times and 19.6M collection actions at a million loans x 24
-- months): a cost that grew with the history. Numbered from the rebuild log's sequence, so a
-- reader keeps one position for both logs; lender_code null means every loan (a full build of
-- int_loans_latest). Entries every reader has read are deleted by the next int_loans_latest run.

create table if not exists exchange_state.loan_log (
    seq bigint primary key default nextval('exchange_state.rebuild_log_seq_seq'),
    lender_code text,
    loan_id text,
    logged_at timestamptz not null default now()
);
