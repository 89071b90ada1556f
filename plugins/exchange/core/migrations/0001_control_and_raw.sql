-- The exchange's own tables: lender registry, submissions and their problems (control),
-- and validated rows with keys in place of identities (raw). No column here may hold a
-- clear ID number, name or phone.

create schema if not exists control;
create schema if not exists raw;

create table control.lenders (
    lender_code text primary key check (lender_code ~ '^[A-Z0-9]{2,16}$'),
    name        text not null,
    category    text not null check (category in
                ('microloan_company', 'online_microloan_company', 'financing_guarantee_company')),
    status      text not null default 'active' check (status in ('active', 'suspended')),
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);
comment on table control.lenders is 'Participating lenders (会员机构) and whether they may submit.';

create table control.audit_log (
    audit_id bigserial primary key,
    at       timestamptz not null default now(),
    actor    text not null default current_user,
    action   text not null,
    object   text not null,
    detail   jsonb not null default '{}'::jsonb
);
comment on table control.audit_log is 'Administrative actions (lender admitted, suspended, ...).';

create table control.reason_codes (
    code       text primary key,
    severity   text not null check (severity in ('file', 'error', 'warning')),
    message_zh text not null,
    message_en text not null
);
comment on table control.reason_codes is 'Mirror of the submission spec''s reason codes (synced by exchange db up).';

create table control.submissions (
    submission_id bigserial primary key,
    lender_code   text not null,
    kind          text,
    as_of_date    date,
    seq           int,
    file_name     text not null,
    sha256        text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes    bigint not null,
    file_format   text,
    encoding      text,
    arrival_key   text not null,
    received_at   timestamptz not null default now(),
    processed_at  timestamptz not null default now(),
    verdict       text not null check (verdict in ('accepted', 'accepted_with_errors', 'rejected', 'duplicate')),
    reason_code   text,
    rows_total    int not null default 0,
    rows_accepted int not null default 0,
    rows_rejected int not null default 0,
    rows_warned   int not null default 0,
    duplicate_of  bigint references control.submissions,
    superseded_by bigint references control.submissions,
    archive_path  text,
    feedback_path text
);
comment on table control.submissions is 'One row per file received (报送文件), with its verdict and counts.';
-- loaded bytes are loaded once: a second accepted copy of the same file cannot exist
create unique index submissions_loaded_once on control.submissions (sha256)
    where verdict in ('accepted', 'accepted_with_errors');
-- one record per arrival: a rerun after a crash resumes instead of recording the file twice
create unique index submissions_arrival on control.submissions (arrival_key);
create index submissions_period on control.submissions (lender_code, kind, as_of_date);

create table control.row_problems (
    submission_id bigint not null references control.submissions on delete cascade,
    line          int not null,
    loan_id       text,
    field         text,
    code          text not null,
    severity      text not null check (severity in ('file', 'error', 'warning'))
);
comment on table control.row_problems is 'Problems found in a submission, by line and field (no values: they may be identities).';
create index row_problems_submission on control.row_problems (submission_id, line);

-- Raw rows carry their submission_id without a foreign key: they are written in the same
-- transaction as their submission row, and a per-row RI check would make COPY several times slower.
create table raw.loans (
    submission_id    bigint not null,
    line             int not null,
    lender_code      text not null,
    as_of_date       date not null,
    loan_id          text not null,
    borrower_type    text not null,
    id_type          text not null,
    borrower_key     char(64) not null,
    name_hash        char(64) not null,
    phone_hash       char(64),
    region_code      char(6) not null,
    product_type     text not null,
    guarantee_type   text not null,
    guarantor_key    char(64),
    principal        numeric(18, 2) not null,
    currency         char(3) not null,
    annual_rate      numeric(9, 6) not null,
    issue_date       date not null,
    maturity_date    date not null,
    repayment_method text not null,
    installments     int not null,
    consent_ref      text not null,
    primary key (submission_id, line)
);
comment on table raw.loans is 'Validated loan rows (借款合同信息) with keyed hashes in place of identities.';
create index raw_loans_lender_loan on raw.loans (lender_code, loan_id);
create index raw_loans_borrower on raw.loans (borrower_key);

create table raw.loan_status (
    submission_id         bigint not null,
    line                  int not null,
    lender_code           text not null,
    as_of_date            date not null,
    loan_id               text not null,
    account_status        text not null,
    outstanding_principal numeric(18, 2) not null,
    overdue_principal     numeric(18, 2) not null,
    overdue_interest      numeric(18, 2) not null,
    overdue_since         date,
    dpd_reported          int,
    last_payment_date     date,
    last_payment_amount   numeric(18, 2),
    lender_risk_class     smallint check (lender_risk_class between 1 and 5),
    notice_date           date,
    legal_status          text not null,
    fraud_flag            boolean not null,
    primary key (submission_id, line)
);
comment on table raw.loan_status is 'Validated account-status rows (账户状态), one per loan and reporting date per submission.';
