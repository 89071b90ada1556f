-- What a member may see of the shared zone, defined once (issue 13).
--
-- Until now the rule was written three times: in the lender views (migrations 0002, 0006, 0008,
-- 0010), in the look-up's SQL and in the member export. The member_* views below are now the one
-- definition, for every kept version and every member (viewing_lender). A lender role reads them
-- through its v_lender_* views (the live version, its own role's lender); the look-up
-- (exchange.access.lookup) and the member exports (exchange.feed.exports) read them with the
-- lender asking. They hold every member's copy side by side: never granted to member_lender.
--
-- A member sees only published rows (the shared tables hold nothing else):
--   - the blacklist without lender codes or source rows;
--   - the default feed with its own lender code on its own episodes, every other lender only as
--     its category (or `member`, decided by dbt), and no source rows;
--   - its own alerts only;
--   - its own held-back records only, with their reasons;
--   - the reasons' texts (shared.listing_reason_rows, no lender in them).
-- A session that is no single lender (control.session_lender() null) is no member: through the
-- lender views it sees the blacklist, the default feed with every lender as its category, and
-- no alerts or held records.

create view shared.member_blacklist as
select version, borrower_key, borrower_type, reason_codes, first_listed_date, lenders_count, total_overdue,
       max_dpd, notice_date, disputed, dispute_deadline
from shared.blacklist_rows;
comment on view shared.member_blacklist is
    'The blacklist of every kept version as members see it: no lender codes, no source rows.';

create view shared.member_default_feed as
select viewers.lender_code as viewing_lender, rows.version, rows.loan_ref, rows.default_episode_no,
       rows.borrower_key,
       case when rows.lender_code = viewers.lender_code then rows.lender_code else rows.lender_category end
           as reporting_lender,
       rows.product_type, rows.default_date, rows.max_dpd, rows.amount_at_default, rows.episode_status,
       rows.end_date, rows.purge_date, rows.notice_date, rows.disputed
from shared.default_feed_rows as rows
-- every member, and no member (null: every lender as its category)
cross join (select lender_code from control.lenders union all select null) as viewers (lender_code);
comment on view shared.member_default_feed is
    'The default feed of every kept version as each member (viewing_lender) sees it: its own lender code, '
    'every other lender only as its category, no source rows.';

create view shared.member_lender_alerts as
select lender_code as viewing_lender, version, alert_key, loan_ref, alert_type, alert_type_zh, borrower_key,
       loan_reference, first_seen_date, as_of_date, other_lender_count, other_lender_categories, max_dpd_elsewhere,
       reason_codes, evidence_en, evidence_zh
from shared.lender_alerts_versions;
comment on view shared.member_lender_alerts is
    'The alerts of every kept version, each member (viewing_lender) its own only.';

create view shared.member_held_records as
select lender_code as viewing_lender, version, borrower_key, loan_ref, record_kind, default_episode_no, reason_code,
       hold_reason, default_date, notice_date, source_submission_id, source_line
from shared.held_record_rows;
comment on view shared.member_held_records is
    'The records of every kept version held back from members, each shown to its reporting lender '
    '(viewing_lender) only, with its hold_reason.';

-- ---- the lender views: the live version, as the session's lender sees it -------------------------
-- Same columns as before; each reads the one definition above.

create or replace view shared.v_lender_blacklist as
select member.*
from shared.member_blacklist as member
where member.version = (select version from shared.live_version);

create or replace view shared.v_lender_default_feed as
select member.version, member.loan_ref, member.default_episode_no, member.borrower_key, member.reporting_lender,
       member.product_type, member.default_date, member.max_dpd, member.amount_at_default, member.episode_status,
       member.end_date, member.purge_date, member.disputed
from shared.member_default_feed as member
where member.version = (select version from shared.live_version)
  and member.viewing_lender is not distinct from (select control.session_lender());

create or replace view shared.v_lender_alerts as
select member.version, member.alert_key, member.alert_type, member.alert_type_zh, member.borrower_key,
       member.loan_ref, member.loan_reference, member.first_seen_date, member.as_of_date, member.other_lender_count,
       member.other_lender_categories, member.max_dpd_elsewhere, member.reason_codes, member.evidence_en,
       member.evidence_zh
from shared.member_lender_alerts as member
where member.version = (select version from shared.live_version)
  and member.viewing_lender = (select control.session_lender());

create or replace view shared.v_lender_held_records as
select member.version, member.viewing_lender as lender_code, member.borrower_key, member.loan_ref,
       member.record_kind, member.reason_code, member.default_date, member.source_submission_id, member.source_line,
       member.hold_reason, member.default_episode_no, member.notice_date
from shared.member_held_records as member
where member.version = (select version from shared.live_version)
  and member.viewing_lender = (select control.session_lender());
