-- Fraud signals in members' alerts and in disputes (issue 16, items 2 and 4; DOMAIN section 5).
--
-- 1. Four alert kinds built from the fraud signals (dbt int_alert_events -> mart_lender_alerts ->
--    publication.pub_lender_alerts_candidates): one of a lender's current borrowers newly shows
--    loan stacking (叠贷), bust-out (撸贷), a phone shared by several borrower keys (共用手机号) or
--    an identity mismatch (身份信息不一致). Masked like the other alerts: the other lenders are
--    counted and shown as their category at most.
-- 2. A data subject (through the association, or the reporting lender) may contest a phone link
--    (手机号关联): the borrower key and the phone hash as reported with one lender's loan. While
--    open, the signals built from that link carry the disputed mark (异议标注); upheld, the link
--    leaves every signal model (phone sharing, clusters) from the next version; rejected or
--    withdrawn, nothing changes. The phone is held as its keyed hash only, never in clear.

-- ---- 1. the alert kinds of the shared alerts ---------------------------------------------------

alter table shared.lender_alerts_versions
    drop constraint lender_alerts_versions_alert_type_check,
    add constraint lender_alerts_versions_alert_type_check
        check (alert_type in ('dpd_30_plus_elsewhere', 'default_elsewhere', 'blacklisted_elsewhere',
                              'multi_lender_surge', 'loan_stacking', 'bust_out', 'phone_shared',
                              'identity_mismatch'));

-- ---- 2. phone-link disputes --------------------------------------------------------------------

alter table control.disputes
    add column phone_hash char(64) check (phone_hash ~ '^[0-9a-f]{64}$'),
    drop constraint disputes_record_kind_check,
    add constraint disputes_record_kind_check
        check (record_kind in ('listing', 'default_episode', 'phone_link')),
    add constraint disputes_phone_hash_on_phone_link
        check ((record_kind = 'phone_link') = (phone_hash is not null));
comment on column control.disputes.phone_hash is
    'For a phone-link dispute (手机号关联异议), the keyed hash of the phone as the loan (lender_code, '
    'loan_id) reported it; never a clear number. Empty for the other record kinds.';

-- the staff roles open disputes through column grants (0008); the phone hash is part of the opening
grant insert (phone_hash) on control.disputes to exchange_admin, association;

-- the opening (now with the phone hash) is written once, as in 0008
create or replace function control.disputes_opening_written_once() returns trigger
    language plpgsql
    as $$
begin
    if (new.dispute_id, new.borrower_key, new.record_kind, new.lender_code, new.loan_id, new.loan_ref, new.opened_by,
        new.opened_at, new.deadline, new.opened_party, new.opened_reason, new.phone_hash)
       is distinct from
       (old.dispute_id, old.borrower_key, old.record_kind, old.lender_code, old.loan_id, old.loan_ref, old.opened_by,
        old.opened_at, old.deadline, old.opened_party, old.opened_reason, old.phone_hash)
       and not pg_catalog.pg_has_role(current_user, (select relowner from pg_catalog.pg_class where oid = tg_relid),
                                      'USAGE') then
        raise exception using errcode = 'insufficient_privilege',
            message = 'the opening of a dispute (record, opened_by, opened_at, deadline, reason) is written once';
    end if;
    return new;
end
$$;
