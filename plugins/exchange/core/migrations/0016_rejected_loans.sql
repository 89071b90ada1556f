-- The loans of a loans file rejected whole (F_ERROR_RATE: too many bad rows). Its rows never reach
-- raw.loans, so a status file for those loans meets R_UNKNOWN_LOAN; the feedback then names the
-- rejected submission that held the loan, so the lender knows to correct and resend that file
-- rather than hunt for a loan it did report. Contract numbers only (合同编号), never an identity.
create table control.rejected_loans (
    submission_id bigint not null references control.submissions on delete cascade,
    lender_code   text not null,
    loan_id       text not null
);
comment on table control.rejected_loans is
    'Loan ids of loans files rejected whole (F_ERROR_RATE), for the R_UNKNOWN_LOAN feedback of later status files.';
create index rejected_loans_lender_loan on control.rejected_loans (lender_code, loan_id);
grant select on control.rejected_loans to exchange_admin, association;
