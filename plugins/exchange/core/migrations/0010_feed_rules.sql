-- One rule table for the listing reasons, publishability per record, disputes per record
-- (issue: a trustworthy shared feed; DOMAIN sections 4 and 5 as clarified on 2026-11-29).
--
-- 1. The blacklist carries its reasons as codes only (reason_codes); the per-reason boolean
--    columns go, so that a new reason in the rule table (rules.rule_listing_reasons) needs no
--    change here. The texts of the reasons in force are published with each version
--    (shared.listing_reason_rows), and look-ups, exports, the portal and the report read them there.
-- 2. Held records (pending_notice, unreported, dispute_upheld) replace the pending-notice rows:
--    each says why it is held; the reporting lender and the association see them, no other member.
-- 3. A transfer (转出) ends an episode: episode_status transferred.
-- 4. A dispute names the record it contests: the loan's default episode (default_episode_no)
--    and, for a listing, optionally one reason (reason_code). It ends upheld, rejected or withdrawn.

-- ---- 1. the blacklist without per-reason columns ----------------------------------------------

drop view shared.v_lender_blacklist;
drop view shared.blacklist;
alter table shared.blacklist_rows
    drop column reason_b1,
    drop column reason_b2,
    drop column reason_b3,
    drop column reason_b4,
    drop constraint blacklist_rows_reason_codes_check,
    add constraint blacklist_rows_reason_codes_check check (reason_codes ~ '^B[0-9]+(,B[0-9]+)*$');

create view shared.blacklist as
select rows.*
from shared.blacklist_rows as rows
join shared.live_version as live on live.version = rows.version;
comment on view shared.blacklist is 'The live blacklist (association view).';

create view shared.v_lender_blacklist as
select version, borrower_key, borrower_type, reason_codes, first_listed_date, lenders_count, total_overdue,
       max_dpd, notice_date, disputed, dispute_deadline
from shared.blacklist;
comment on view shared.v_lender_blacklist is 'The live blacklist as members see it: no lender codes, no source rows.';

create table shared.listing_reason_rows (
    version         bigint not null references shared.feed_versions on delete cascade,
    reason_code     text not null check (reason_code ~ '^B[0-9]+$'),
    rules_version   text not null,
    reason_zh       text not null,
    reason_en       text not null,
    primary key (version, reason_code)
);
comment on table shared.listing_reason_rows is
    'The blacklist reasons (列入原因) in force for each kept version, copied from the rule table '
    'rules.rule_listing_reasons at publication: the one source of reason texts members read.';

create view shared.listing_reasons as
select rows.reason_code, rows.rules_version, rows.reason_zh, rows.reason_en
from shared.listing_reason_rows as rows
join shared.live_version as live on live.version = rows.version;
comment on view shared.listing_reasons is 'The reasons of the live version, with their texts (zh/en).';

grant select on shared.blacklist, shared.v_lender_blacklist, shared.listing_reason_rows, shared.listing_reasons
    to exchange_admin, association;
grant select on shared.v_lender_blacklist, shared.listing_reasons to member_lender;

-- ---- 2. held records -------------------------------------------------------------------------

drop view shared.v_lender_pending_notice;
alter table shared.pending_notice_rows rename to held_record_rows;
alter index shared.pending_notice_rows_lender rename to held_record_rows_lender;
alter index shared.pending_notice_rows_borrower rename to held_record_rows_borrower;
alter table shared.held_record_rows
    add column hold_reason text not null default 'pending_notice'
        check (hold_reason in ('pending_notice', 'unreported', 'dispute_upheld')),
    add column default_episode_no int,
    add column notice_date date;
alter table shared.held_record_rows alter column hold_reason drop default;
comment on table shared.held_record_rows is
    'Negative records held back from members (不予发布): no notice on or after the delinquency began '
    '(pending_notice), missing from two consecutive files of its lender (unreported), or corrected by an '
    'upheld dispute (dispute_upheld). Shown to the reporting lender and the association only, with the reason.';
alter table shared.feed_versions rename column pending_notice_rows to held_rows;

create view shared.v_lender_held_records as
select rows.*
from shared.held_record_rows as rows
join shared.live_version as live on live.version = rows.version
where rows.lender_code = (select control.session_lender());
comment on view shared.v_lender_held_records is
    'Records of the viewing lender held back from members, each with its hold_reason.';
grant select on shared.held_record_rows to exchange_admin, association;
grant select on shared.v_lender_held_records to member_lender;

-- ---- 3. transferred ends an episode ----------------------------------------------------------

alter table shared.default_feed_rows
    drop constraint default_feed_rows_episode_status_check,
    add constraint default_feed_rows_episode_status_check
        check (episode_status in ('ongoing', 'cured', 'settled', 'compensated', 'transferred', 'written_off'));

-- ---- 4. disputes name their record -----------------------------------------------------------

alter table control.disputes
    add column default_episode_no int check (default_episode_no >= 1),
    add column reason_code text check (reason_code ~ '^B[0-9]+$'),
    add constraint disputes_reason_on_listing check (reason_code is null or record_kind = 'listing'),
    drop constraint disputes_status_check,
    add constraint disputes_status_check check (status in ('open', 'upheld', 'rejected', 'withdrawn'));
comment on column control.disputes.default_episode_no is
    'The default episode contested (违约事件序号); empty: the episodes of the loan (or borrower) that began '
    'on or before the day the dispute was opened. A later episode is never covered.';
comment on column control.disputes.reason_code is
    'For a listing dispute, the one reason contested (B1, B2, ...); empty: every reason of the record.';
