-- The shared zone (DOMAIN section 5 and 8): the published blacklist (恶意逾期名单) and default
-- feed (违约信息), one numbered version at a time, plus the disputes (异议) and feed approvals
-- the publication reads. Only the publication step (exchange.publish) writes here.
--
-- Versioning: every publication writes its rows once, tagged with its version, into
-- shared.blacklist_rows / shared.default_feed_rows / shared.pending_notice_rows. Which version
-- members see is ONE row, shared.live_version; the views shared.blacklist and
-- shared.default_feed join it. Switching versions is an UPDATE of that row in the publishing
-- transaction, so a reader's statement sees the old version or the new one, never a mix.
-- No column anywhere holds a clear ID number, name or phone: borrowers are keys, loans are
-- loan references (HMAC of lender and contract number, computed by the publication step).

create schema if not exists shared;

create table shared.feed_versions (
    version                   bigint primary key,
    as_of_date                date not null,
    created_at                timestamptz not null default now(),
    content_sha256            char(64) not null check (content_sha256 ~ '^[0-9a-f]{64}$'),
    raw_through_submission_id bigint not null default 0,
    blacklist_rows            int not null default 0,
    default_feed_rows         int not null default 0,
    pending_notice_rows       int not null default 0,
    counts                    jsonb not null default '{}'::jsonb,
    validation_success        boolean,
    validation                jsonb not null default '{}'::jsonb,
    export_dir                text,
    export_checksums          jsonb,
    status                    text not null default 'validating'
                              check (status in ('validating', 'failed', 'live', 'superseded')),
    published_at              timestamptz,
    approved_by               text,
    approved_at               timestamptz,
    approval_reason           text,
    check ((approved_at is null) = (approval_reason is null))
);
comment on table shared.feed_versions is
    'Every publication attempt (发布版本): as-of date, counts, export checksums, validation result and status '
    '(validating, failed, live, superseded). A failed version approved by the association carries who, when and why.';
comment on column shared.feed_versions.content_sha256 is
    'SHA-256 over the version''s rows as exported: the same content is never published twice.';
comment on column shared.feed_versions.raw_through_submission_id is
    'Highest submission whose raw rows the gate validated for this version.';

create table shared.live_version (
    singleton   boolean primary key default true check (singleton),
    version     bigint not null references shared.feed_versions,
    switched_at timestamptz not null default now()
);
comment on table shared.live_version is 'The one version members see (a single row, switched in one transaction).';

create table shared.blacklist_rows (
    version              bigint not null references shared.feed_versions on delete cascade,
    borrower_key         char(64) not null check (borrower_key ~ '^[0-9a-f]{64}$'),
    borrower_type        text not null,
    reason_codes         text not null check (reason_codes ~ '^B[1-4](,B[1-4])*$'),
    reason_b1            boolean not null,
    reason_b2            boolean not null,
    reason_b3            boolean not null,
    reason_b4            boolean not null,
    first_listed_date    date not null,
    lenders_count        int not null,
    total_overdue        numeric(18, 2) not null,
    max_dpd              int not null,
    notice_date          date not null,
    disputed             boolean not null,
    dispute_deadline     date,
    source_submission_id bigint not null,
    source_line          int not null,
    primary key (version, borrower_key)
);
comment on table shared.blacklist_rows is 'Blacklist listings (恶意逾期名单) of every kept version; read shared.blacklist.';

create table shared.default_feed_rows (
    version              bigint not null references shared.feed_versions on delete cascade,
    loan_ref             char(64) not null check (loan_ref ~ '^[0-9a-f]{64}$'),
    default_episode_no   int not null,
    borrower_key         char(64) not null check (borrower_key ~ '^[0-9a-f]{64}$'),
    lender_code          text not null,
    lender_category      text not null,
    product_type         text not null,
    default_date         date not null,
    max_dpd              int not null,
    amount_at_default    numeric(18, 2) not null,
    episode_status       text not null
                         check (episode_status in ('ongoing', 'cured', 'settled', 'compensated', 'written_off')),
    end_date             date,
    purge_date           date,
    notice_date          date not null,
    disputed             boolean not null,
    source_submission_id bigint not null,
    source_line          int not null,
    primary key (version, loan_ref, default_episode_no),
    check (end_date is null or end_date >= default_date)
);
comment on table shared.default_feed_rows is 'Default episodes (违约信息) of every kept version; read shared.default_feed.';

create table shared.pending_notice_rows (
    version              bigint not null references shared.feed_versions on delete cascade,
    lender_code          text not null,
    borrower_key         char(64) not null,
    loan_ref             char(64) not null,
    record_kind          text not null check (record_kind in ('listing', 'default_episode')),
    reason_code          text,
    default_date         date not null,
    source_submission_id bigint not null,
    source_line          int not null
);
comment on table shared.pending_notice_rows is
    'Negative records held back because the reporting lender gave no notice_date (不良信息告知); shown to that lender only.';
create index pending_notice_rows_lender on shared.pending_notice_rows (version, lender_code);

-- ---- what members read: the live version only ---------------------------------------------------

create view shared.blacklist as
select rows.*
from shared.blacklist_rows as rows
join shared.live_version as live on live.version = rows.version;
comment on view shared.blacklist is 'The live blacklist (association view).';

create view shared.default_feed as
select rows.*
from shared.default_feed_rows as rows
join shared.live_version as live on live.version = rows.version;
comment on view shared.default_feed is 'The live default feed (association view, with lender codes).';

-- The lender asking: a lender_<code> role is that lender (issue: roles); any other role may preview
-- a lender's view with `set exchange.lender_code = 'XD01'`. A lender role cannot claim another code.
create function shared.viewing_lender() returns text
    language sql stable
    as $$
        select case
            when current_user like 'lender\_%' then upper(substr(current_user, 8))
            else nullif(current_setting('exchange.lender_code', true), '')
        end
    $$;
comment on function shared.viewing_lender() is 'Lender code of the session reading the lender-facing views.';

create view shared.v_lender_blacklist as
select version, borrower_key, borrower_type, reason_codes, reason_b1, reason_b2, reason_b3, reason_b4,
       first_listed_date, lenders_count, total_overdue, max_dpd, notice_date, disputed, dispute_deadline
from shared.blacklist;
comment on view shared.v_lender_blacklist is 'The live blacklist as members see it: no lender codes, no source rows.';

create view shared.v_lender_default_feed as
select version, loan_ref, default_episode_no, borrower_key,
       case when lender_code = shared.viewing_lender() then lender_code else lender_category end
           as reporting_lender,
       product_type, default_date, max_dpd, amount_at_default, episode_status, end_date, purge_date, disputed
from shared.default_feed;
comment on view shared.v_lender_default_feed is
    'The live default feed as a member sees it: its own lender code, every other lender only as its category.';

create view shared.v_lender_pending_notice as
select rows.*
from shared.pending_notice_rows as rows
join shared.live_version as live on live.version = rows.version
where rows.lender_code = shared.viewing_lender();
comment on view shared.v_lender_pending_notice is
    'Records of the viewing lender held back for want of a notice_date (pending_notice, 待告知).';

-- ---- disputes (异议) and approvals -------------------------------------------------------------

create table control.disputes (
    dispute_id        bigserial primary key,
    borrower_key      char(64) not null check (borrower_key ~ '^[0-9a-f]{64}$'),
    record_kind       text not null check (record_kind in ('listing', 'default_episode')),
    lender_code       text,
    loan_id           text,
    loan_ref          char(64),
    opened_by         text not null default current_user,
    opened_at         timestamptz not null default now(),
    deadline          date not null default ((now() at time zone 'Asia/Shanghai')::date + 20),
    status            text not null default 'open' check (status in ('open', 'upheld', 'rejected')),
    resolution_reason text,
    resolved_by       text,
    resolved_at       timestamptz,
    check ((status = 'open') = (resolved_at is null)),
    check (record_kind = 'listing' or (lender_code is not null and loan_id is not null))
);
comment on table control.disputes is
    'Disputes (异议) by data subjects: open ones mark the record (异议标注), upheld ones remove it; '
    '20-day limit (征信业管理条例 art. 25).';
create index disputes_borrower on control.disputes (borrower_key, status);

create table control.feed_approvals (
    approval_id bigserial primary key,
    version     bigint not null references shared.feed_versions,
    approved_by text not null default current_user,
    approved_at timestamptz not null default now(),
    reason      text not null check (length(trim(reason)) > 0),
    failed      jsonb not null default '[]'::jsonb
);
comment on table control.feed_approvals is
    'Explicit overrides of a failed quality gate (exchange feed approve): who, when, why, which checks had failed.';
