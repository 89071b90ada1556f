-- Database identity that cannot be claimed (issue 12), and disputes whose opening is written once.
--
-- Until now a lender's rows were found by control.current_lender() (the lender_<code> spelling of
-- current_user) and, in the shared views, by shared.viewing_lender(), which fell back to the
-- session setting exchange.lender_code: any session may set it, so a login role that is a member
-- of lender_xd05 (operator guide section 8) could read another lender's alerts and held-back
-- records by naming its code. Now a lender is the role itself: control.role_lenders maps each
-- lender_<code> role to its code, and control.session_lender() is the one lender whose role the
-- session's current role has the privileges of (pg_has_role ... 'USAGE': the role itself, or a
-- login role that inherits it). No setting is read anywhere.

-- ---- which role is which lender ----------------------------------------------------------------

create table control.role_lenders (
    role_name   text primary key,
    lender_code text not null unique references control.lenders (lender_code) on delete cascade
);
comment on table control.role_lenders is
    'The database role of each lender (lender_<code>, created by `exchange lenders add`): '
    'row-level security and the lender views know a lender by this role, never by a session setting.';

insert into control.role_lenders (role_name, lender_code)
select r.rolname, l.lender_code
from control.lenders l
join pg_catalog.pg_roles r on r.rolname = 'lender_' || lower(l.lender_code)
on conflict do nothing;

-- Exactly one lender or none: a superuser (a member of every role) and a role holding the
-- privileges of two lenders are no lender, and so read no lender's rows through these policies.
-- Security invoker on purpose: current_user must stay the caller's role. Policies and views call
-- it as a scalar sub-select, so it runs once per statement, not once per row.
create function control.session_lender() returns text
    language sql stable
    as $$
        select case when count(*) = 1 then min(m.lender_code) end
        from control.role_lenders m
        join pg_catalog.pg_roles r on r.rolname = m.role_name
        where pg_catalog.pg_has_role(current_user, r.oid, 'USAGE')
          and not exists (select 1 from pg_catalog.pg_roles s where s.rolname = current_user and s.rolsuper)
    $$;
comment on function control.session_lender() is
    'The lender whose lender_<code> role the current role is or inherits (control.role_lenders); null for any other role.';

alter table control.role_lenders enable row level security;
create policy staff_all on control.role_lenders for select to exchange_admin, association using (true);
create policy own_role on control.role_lenders for select to member_lender
    using (exists (select 1 from pg_catalog.pg_roles r
                   where r.rolname = role_lenders.role_name and pg_catalog.pg_has_role(current_user, r.oid, 'USAGE')));
grant select on control.role_lenders to member_lender;

-- ---- every lender policy and view on the new identity -------------------------------------------

alter policy lender_own on control.submissions using (lender_code = (select control.session_lender()));
alter policy lender_own on control.lookup_audit using (lender_code = (select control.session_lender()));
alter policy lender_own on control.row_problems
    using (exists (select 1 from control.submissions s
                   where s.submission_id = row_problems.submission_id
                     and s.lender_code = (select control.session_lender())));

do $$
declare
    t text;
begin
    for t in select tablename from pg_catalog.pg_policies where schemaname = 'raw' and policyname = 'lender_own' loop
        execute format('alter policy lender_own on raw.%I using (lender_code = (select control.session_lender()))', t);
    end loop;
end
$$;

create or replace view shared.v_lender_default_feed as
select version, loan_ref, default_episode_no, borrower_key,
       case when lender_code = (select control.session_lender()) then lender_code else lender_category end
           as reporting_lender,
       product_type, default_date, max_dpd, amount_at_default, episode_status, end_date, purge_date, disputed
from shared.default_feed;

create or replace view shared.v_lender_pending_notice as
select rows.*
from shared.pending_notice_rows as rows
join shared.live_version as live on live.version = rows.version
where rows.lender_code = (select control.session_lender());

create or replace view shared.v_lender_alerts as
select version, alert_key, alert_type, alert_type_zh, borrower_key, loan_ref, loan_reference, first_seen_date,
       as_of_date, other_lender_count, other_lender_categories, max_dpd_elsewhere, reason_codes, evidence_en,
       evidence_zh
from shared.lender_alerts
where lender_code = (select control.session_lender());

drop function shared.viewing_lender();
drop function control.current_lender();

-- Partitions: row-level security on a parent does not apply when a partition is queried directly.
-- A table partitioned later needs these policies on each partition (or no grant on them).

-- ---- disputes: the association resolves, nobody rewrites the opening -----------------------------

revoke insert, update on control.disputes from exchange_admin, association;
grant insert (borrower_key, record_kind, lender_code, loan_id, loan_ref, opened_reason)
    on control.disputes to exchange_admin, association;
grant update (status, resolution_reason, resolved_by, resolved_at) on control.disputes to exchange_admin, association;

-- The column grants bind the two staff roles; this binds any role given UPDATE later. Only the
-- owner (the pipeline, e.g. to correct a data error) may change who opened a dispute, on what and
-- when, and its statutory deadline.
create function control.disputes_opening_written_once() returns trigger
    language plpgsql
    as $$
begin
    if (new.dispute_id, new.borrower_key, new.record_kind, new.lender_code, new.loan_id, new.loan_ref, new.opened_by,
        new.opened_at, new.deadline, new.opened_party, new.opened_reason)
       is distinct from
       (old.dispute_id, old.borrower_key, old.record_kind, old.lender_code, old.loan_id, old.loan_ref, old.opened_by,
        old.opened_at, old.deadline, old.opened_party, old.opened_reason)
       and not pg_catalog.pg_has_role(current_user, (select relowner from pg_catalog.pg_class where oid = tg_relid),
                                      'USAGE') then
        raise exception using errcode = 'insufficient_privilege',
            message = 'the opening of a dispute (record, opened_by, opened_at, deadline, reason) is written once';
    end if;
    return new;
end
$$;
create trigger opening_written_once before update on control.disputes
    for each row execute function control.disputes_opening_written_once();
