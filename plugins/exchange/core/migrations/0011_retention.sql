-- Retention (保存期限, 征信业管理条例 art. 16): a negative record leaves the zones members,
-- analysts and data subjects read five years after the bad behaviour ended, and is de-keyed in
-- raw; an archived original file is deleted five years after its reporting date
-- (exchange.retention, `exchange feed purge`).
--
-- A de-keyed loan row keeps its figures (lender, contract number, amounts, dates: what the
-- association's own statistics were built from) but no link to any person: borrower key, name
-- hash, phone hash and guarantor key are null, and dekeyed_at says when. Only such a row may lack
-- a borrower key, and such a row may hold no key at all.
alter table raw.loans
    alter column borrower_key drop not null,
    alter column name_hash drop not null,
    add column dekeyed_at timestamptz;
alter table raw.loans add constraint loans_keyed_unless_dekeyed check (
    case when dekeyed_at is null then borrower_key is not null and name_hash is not null
         else borrower_key is null and name_hash is null and phone_hash is null and guarantor_key is null
    end);
comment on column raw.loans.dekeyed_at is
    'When retention removed every link to the person (keys null): the loan''s negative record passed its purge date.';

alter table control.submissions add column archive_deleted_at timestamptz;
comment on column control.submissions.archive_deleted_at is
    'When retention deleted the archived original (five years after the reporting date); archive_path stays as a record.';
