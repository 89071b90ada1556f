-- Access to the shared zone (migration 0002) and to disputes, for the roles of 0004.

-- ---- the shared zone: written by the publication only -----------------------------------------
-- The association reads all of it; a lender reads the lender-facing views (its own code, other
-- lenders as their category); the analyst none of it.

grant usage on schema shared to exchange_admin, association, member_lender;
grant select on all tables in schema shared to exchange_admin, association;
alter default privileges in schema shared grant select on tables to exchange_admin, association;
grant select on shared.v_lender_blacklist, shared.v_lender_default_feed, shared.v_lender_pending_notice
    to member_lender;
grant execute on function shared.viewing_lender() to public;
grant insert, update on control.disputes to exchange_admin, association;
grant usage on sequence control.disputes_dispute_id_seq to exchange_admin, association;

-- look-ups find a person's episodes and held-back records by borrower key within the live version
create index if not exists default_feed_rows_borrower on shared.default_feed_rows (version, borrower_key);
create index if not exists pending_notice_rows_borrower on shared.pending_notice_rows (version, borrower_key);

-- who opened a dispute and why (the publication reads status and marks only)
alter table control.disputes add column opened_party text check (opened_party in ('lender', 'association')),
                             add column opened_reason text;
