-- BRIN summaries of raw.loan_status's month partitions (账户状态分区的块范围摘要). The ingest
-- summarizes the ranges each load fills (exchange.intake.ingest._summarize_brin); the months loaded
-- before it did were left unsummarized until a VACUUM reached them, and a BRIN scan reads every
-- unsummarized range: reading one file's rows by submission_id read every month's partition whole.
-- Summarized once here, for the partitions this role owns (another role's wait for autovacuum's VACUUM).

select brin_summarize_new_values(indexes.indexrelid)
from pg_inherits as parts
join pg_index as indexes on indexes.indrelid = parts.inhrelid
join pg_class as index_class on index_class.oid = indexes.indexrelid
join pg_am as methods on methods.oid = index_class.relam
where parts.inhparent = 'raw.loan_status'::regclass
    and methods.amname = 'brin'
    and pg_has_role(index_class.relowner, 'USAGE');
