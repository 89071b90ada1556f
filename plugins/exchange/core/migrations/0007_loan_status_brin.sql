-- raw.loan_status, the exchange's largest table (账户状态: every loan of every lender, every
-- month), is append-only and written one submission at a time by a single COPY. Its btree
-- primary key on (submission_id, line) cost as much server time as the COPY itself (about 2.4 s
-- of 5.5 s for a 1M-row file, measured with `exchange bench ingest`), for a uniqueness the loader
-- already guarantees: `line` is the row's own line number in its file, and a file loads once.
--
-- Every reader reaches the rows by submission (the dbt staging and incremental models, the GX
-- batches, publication lineage), and a submission's rows sit together in the heap because one
-- COPY wrote them, so a BRIN index on submission_id finds them at a small fraction of the cost.
alter table raw.loan_status drop constraint loan_status_pkey;
create index raw_loan_status_submission on raw.loan_status using brin (submission_id) with (pages_per_range = 16);
comment on column raw.loan_status.line is
    'Line number in the submitted file (1 = header); unique within a submission by construction of the loader.';
