-- Database identity that cannot be claimed (issue 12), give-to-get by contribution, rate-limited
-- refusals counted in aggregate, and disputes whose opening is written once.
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

-- ---- look-up audit: rate-limited refusals counted, not each written ---------------------------

alter table control.lookup_audit
    add column attempts int not null default 1 check (attempts >= 1);
comment on column control.lookup_audit.attempts is
    'Look-ups this row stands for: 1, or for a Q_RATE_LIMIT row the refused attempts counted since the last such row.';

-- ---- give-to-get: the latest status file must cover the loans the previous one reported active --

create table control.status_coverage (
    submission_id          bigint primary key references control.submissions on delete cascade,
    previous_submission_id bigint not null references control.submissions on delete cascade,
    previous_active        int not null check (previous_active >= 0),
    covered                int not null check (covered between 0 and previous_active),
    computed_at            timestamptz not null default now()
);
comment on table control.status_coverage is
    'For a loan_status file, how many of the loans its lender''s previous file reported active '
    '(not settled, written_off, transferred, compensated) it reports again: computed once per file by '
    'control.give_to_get (files are immutable), read by the look-up''s give-to-get check.';

-- The lender's latest effective accepted loan_status file (as of date, age in days) and its
-- coverage of the previous one; no row when it has none. The look-up judges the numbers
-- against its settings (exchange.lookup.Gatekeeper).
create function control.give_to_get(p_lender text)
    returns table (latest_as_of date, age_days int, previous_active int, covered int)
    language plpgsql
    as $$
#variable_conflict use_column
declare
    v_latest   bigint;
    v_as_of    date;
    v_previous bigint;
    v_active   int := 0;
    v_covered  int := 0;
begin
    select s.submission_id, s.as_of_date into v_latest, v_as_of
    from control.submissions s
    where s.lender_code = p_lender and s.kind = 'loan_status' and s.verdict in ('accepted', 'accepted_with_errors')
      and s.superseded_by is null
    order by s.as_of_date desc, s.submission_id desc
    limit 1;
    if v_latest is null then
        return;
    end if;
    select s.submission_id into v_previous
    from control.submissions s
    where s.lender_code = p_lender and s.kind = 'loan_status' and s.verdict in ('accepted', 'accepted_with_errors')
      and s.superseded_by is null and s.as_of_date < v_as_of
    order by s.as_of_date desc, s.submission_id desc
    limit 1;
    if v_previous is not null then
        select c.previous_active, c.covered into v_active, v_covered
        from control.status_coverage c
        where c.submission_id = v_latest and c.previous_submission_id = v_previous;
        if not found then
            with before as (
                select distinct p.loan_id from raw.loan_status p
                where p.submission_id = v_previous
                  and p.account_status not in ('settled', 'written_off', 'transferred', 'compensated')
            ), now_reported as (
                select distinct n.loan_id from raw.loan_status n where n.submission_id = v_latest
            )
            select count(*), count(now_reported.loan_id) into v_active, v_covered
            from before left join now_reported using (loan_id);
            insert into control.status_coverage (submission_id, previous_submission_id, previous_active, covered)
            values (v_latest, v_previous, v_active, v_covered)
            on conflict (submission_id) do update
                set previous_submission_id = excluded.previous_submission_id,
                    previous_active = excluded.previous_active, covered = excluded.covered, computed_at = now();
        end if;
    end if;
    return query select v_as_of, current_date - v_as_of, v_active, v_covered;
end
$$;
revoke all on function control.give_to_get(text) from public;
