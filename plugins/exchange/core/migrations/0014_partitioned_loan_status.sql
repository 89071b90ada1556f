-- raw.loan_status (账户状态: every loan of every lender, every reporting date) partitioned by
-- reporting month: one partition raw.loan_status_YYYYMM per month of as_of_date (issue 14).
--
-- Why: retention (exchange.feed.retention, DOMAIN section 5) can then drop a whole expired month
-- by DETACH PARTITION ... CONCURRENTLY and DROP TABLE (milliseconds, no table rewrite, no dead
-- rows for vacuum) instead of a DELETE over the largest table; a month's rows sit together.
--
-- Native declarative partitions with an ensure function, not pg_partman: pg_partman is neither in
-- the embedded pgserver (PostgreSQL 16) nor in Debian's PostgreSQL 15 here, and the one thing it
-- would do for us (create next month's partition) is raw.ensure_loan_status_partition below,
-- called by the ingest before each COPY. No default partition: a row of a month without its
-- partition fails loudly ("no partition of relation loan_status found for row"), and DETACH
-- CONCURRENTLY is refused on a table that has one.
--
-- Row-level security (STACK_NOTES 14): a policy on the parent does not apply when a partition is
-- queried directly. Two guards: no role but the owner holds any privilege on a partition (it is
-- read through the parent), and each partition carries row-level security with the parent's own
-- policies (copied from pg_policies by the ensure function, so there is one definition).
--
-- On an existing database the rows move across in this migration's one transaction: the old
-- table is renamed, the partitioned table created under the old name, a partition made for
-- every month present, the rows inserted, the old table dropped. Views reading the table (dbt's
-- staging.stg_raw__loan_status, and any view on those) are re-created on the new table with
-- their grants; the functions reading it (control.give_to_get) name it in PL/pgSQL and need
-- nothing.

-- ---- views that read the old table: kept to re-create on the new one ----------------------------

create temporary table loan_status_dependent_views on commit drop as
with recursive readers (oid, depth) as (
    select rules.ev_class, 1
    from pg_catalog.pg_depend as deps
    join pg_catalog.pg_rewrite as rules on rules.oid = deps.objid
    where deps.classid = 'pg_catalog.pg_rewrite'::regclass
      and deps.refobjid = 'raw.loan_status'::regclass and rules.ev_class <> deps.refobjid
    union
    select rules.ev_class, readers.depth + 1
    from readers
    join pg_catalog.pg_depend as deps on deps.refobjid = readers.oid
    join pg_catalog.pg_rewrite as rules on rules.oid = deps.objid
    where deps.classid = 'pg_catalog.pg_rewrite'::regclass and rules.ev_class <> readers.oid
)
select views.oid, max(readers.depth) as depth, views.relkind,
       format('%I.%I', spaces.nspname, views.relname) as name,
       pg_catalog.pg_get_viewdef(views.oid) as definition,
       pg_catalog.obj_description(views.oid, 'pg_class') as description,
       views.relacl
from readers
join pg_catalog.pg_class as views on views.oid = readers.oid
join pg_catalog.pg_namespace as spaces on spaces.oid = views.relnamespace
group by views.oid, views.relkind, spaces.nspname, views.relname, views.relacl;

do $$
declare
    v record;
begin
    for v in select * from loan_status_dependent_views order by depth desc loop
        if v.relkind <> 'v' then
            raise exception 'migration 0014: % (relkind %) reads raw.loan_status; drop it and re-create it after', v.name, v.relkind;
        end if;
        execute format('drop view %s', v.name);
    end loop;
end
$$;

-- ---- the partitioned table under the old name ------------------------------------------------------

alter table raw.loan_status rename to loan_status_unpartitioned;
alter index raw.raw_loan_status_submission rename to raw_loan_status_unpartitioned_submission;

-- the same columns, defaults, checks and column comments as the table it replaces
create table raw.loan_status (like raw.loan_status_unpartitioned including defaults including constraints including comments)
    partition by range (as_of_date);
comment on table raw.loan_status is
    'Validated account-status rows (账户状态), one per loan and reporting date per submission; '
    'partitioned by reporting month (raw.loan_status_YYYYMM, made by raw.ensure_loan_status_partition).';
-- migration 0007: readers reach the rows by submission; every partition gets this index
create index raw_loan_status_submission on raw.loan_status using brin (submission_id) with (pages_per_range = 16);

grant select on raw.loan_status to exchange_admin, member_lender;
alter table raw.loan_status enable row level security;
create policy staff_all on raw.loan_status for select to exchange_admin using (true);
create policy lender_own on raw.loan_status for select to member_lender
    using (lender_code = (select control.session_lender()));

-- ---- a month's partition, on demand ----------------------------------------------------------------

create function raw.ensure_loan_status_partition(p_month date) returns regclass
    language plpgsql
    set search_path = pg_catalog, pg_temp
    as $$
declare
    v_first  date := date_trunc('month', p_month)::date;
    v_name   text := 'loan_status_' || to_char(date_trunc('month', p_month), 'YYYYMM');
    v_part   oid;
    v_state  text;
    v_policy record;
begin
    -- the usual case: attached already, no lock taken
    select c.oid into v_part
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    join pg_inherits i on i.inhrelid = c.oid and i.inhparent = 'raw.loan_status'::regclass and not i.inhdetachpending
    where n.nspname = 'raw' and c.relname = v_name;
    if found then
        return v_part;
    end if;
    -- One creator at a time: SHARE UPDATE EXCLUSIVE conflicts with itself (a second ensure, a
    -- DETACH CONCURRENTLY) but not with COPY or reads. Taking a table lock also brings this
    -- session's catalog caches up to date, so the look-up below sees a partition just committed.
    lock table raw.loan_status in share update exclusive mode;
    select c.oid,
           case when i.inhrelid is null then 'detached' when i.inhdetachpending then 'detaching' else 'attached' end
        into v_part, v_state
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    left join pg_inherits i on i.inhrelid = c.oid and i.inhparent = 'raw.loan_status'::regclass
    where n.nspname = 'raw' and c.relname = v_name;
    if v_state = 'attached' then
        return v_part;
    elsif v_state is not null then
        -- retention detached this month and has not dropped it yet: never put expired rows back
        raise exception using errcode = 'object_in_use',
            message = format('raw.%s is %s by retention (exchange feed purge); run the purge to finish, then load again',
                             v_name, v_state);
    end if;
    -- built beside the parent, then attached: ATTACH takes SHARE UPDATE EXCLUSIVE on the parent,
    -- where CREATE TABLE ... PARTITION OF would wait for every load in progress
    execute format('create table raw.%I (like raw.loan_status including defaults including constraints)', v_name);
    execute format('revoke all on raw.%I from public', v_name);
    execute format('alter table raw.%I enable row level security', v_name);
    for v_policy in
        select p.policyname, p.permissive, p.cmd, p.qual, p.with_check,
               (select string_agg(quote_ident(r), ', ') from unnest(p.roles) as r) as roles
        from pg_policies p
        where p.schemaname = 'raw' and p.tablename = 'loan_status'
    loop
        execute format('create policy %I on raw.%I as %s for %s to %s%s%s', v_policy.policyname, v_name,
                       v_policy.permissive, v_policy.cmd, v_policy.roles,
                       coalesce(' using (' || v_policy.qual || ')', ''),
                       coalesce(' with check (' || v_policy.with_check || ')', ''));
    end loop;
    execute format('comment on table raw.%I is %L', v_name,
                   format('raw.loan_status rows of reporting month %s; read through raw.loan_status (no role but '
                          'the owner holds a privilege here; the parent''s policies apply here too).',
                          to_char(v_first, 'YYYY-MM')));
    execute format('alter table raw.loan_status attach partition raw.%I for values from (%L) to (%L)',
                   v_name, v_first, (v_first + interval '1 month')::date);
    return format('raw.%I', v_name)::regclass;
end
$$;
revoke all on function raw.ensure_loan_status_partition(date) from public;
comment on function raw.ensure_loan_status_partition(date) is
    'The partition of raw.loan_status for the month of the given date, created (with row-level security and '
    'the parent''s policies, no grants) and attached when missing. Idempotent; safe with concurrent loads.';

-- ---- the rows across ---------------------------------------------------------------------------------

select raw.ensure_loan_status_partition(months.month)
from (select distinct date_trunc('month', as_of_date)::date as month from raw.loan_status_unpartitioned) as months
order by months.month;

-- heap order (one COPY per submission) keeps each partition's rows in submission order for BRIN
insert into raw.loan_status select * from raw.loan_status_unpartitioned;

drop table raw.loan_status_unpartitioned;

-- ---- the views again, on the new table, with their comments and grants -------------------------------

do $$
declare
    v record;
    g record;
begin
    for v in select * from loan_status_dependent_views order by depth loop
        execute format('create view %s as %s', v.name, v.definition);
        if v.description is not null then
            execute format('comment on view %s is %L', v.name, v.description);
        end if;
        for g in select grantee, privilege_type from aclexplode(v.relacl) where grantee <> grantor loop
            execute format('grant %s on %s to %s', g.privilege_type, v.name,
                           case when g.grantee = 0 then 'public' else g.grantee::regrole::text end);
        end loop;
    end loop;
end
$$;
