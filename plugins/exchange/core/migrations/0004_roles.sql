-- Who may read what (DOMAIN section 8), enforced by PostgreSQL itself:
--   exchange_admin  runs the exchange: reads everything, manages control (lenders, tokens, disputes)
--   association     the industry association: reads control, the dbt layers and shared; handles disputes
--   analyst         reads marts only
--   member_lender   group of the per-lender roles lender_<code> (created by `exchange lenders add`):
--                   each reads only its own submissions, problems, raw rows and look-up records
-- The pipeline is the owner of the tables (the role that runs the migrations, dbt and the
-- publication); it alone writes raw, the dbt layers and shared. Roles are cluster-wide, so
-- creation is idempotent: several databases on one server share them.

do $$
declare
    r text;
begin
    foreach r in array array['exchange_admin', 'association', 'analyst', 'member_lender'] loop
        if not exists (select 1 from pg_roles where rolname = r) then
            begin
                execute format('create role %I nologin', r);
            exception when duplicate_object or unique_violation then
                null;  -- created meanwhile by a migration of another database on the same server
            end;
        end if;
    end loop;
end
$$;

-- the dbt layers exist before dbt first runs, so default privileges can be attached to them
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;

-- ---- API tokens and the look-up audit --------------------------------------------------------

create table control.api_tokens (
    token_id     bigserial primary key,
    party        text not null check (party in ('lender', 'association')),
    lender_code  text check (lender_code ~ '^[A-Z0-9]{2,16}$'),
    token_hash   char(64) not null unique,
    token_prefix text not null,
    label        text not null default '',
    issued_at    timestamptz not null default now(),
    issued_by    text not null default current_user,
    revoked_at   timestamptz,
    check ((party = 'lender') = (lender_code is not null))
);
comment on table control.api_tokens is 'API and portal tokens (接口令牌): only the SHA-256 of each token is stored.';
create index api_tokens_lender on control.api_tokens (lender_code);

create table control.lookup_audit (
    lookup_id    bigserial primary key,
    at           timestamptz not null default now(),
    party        text not null check (party in ('lender', 'association')),
    lender_code  text,
    channel      text not null check (channel in ('api', 'portal', 'cli', 'bench')),
    purpose      text,
    consent_ref  text,
    id_type      text,
    borrower_key char(64),
    hit          boolean,
    outcome      text not null check (outcome in ('answered', 'refused')),
    refusal_code text,
    feed_version bigint
);
comment on table control.lookup_audit is
    'Every look-up (查询记录): who, when, purpose, consent reference, borrower key, hit or miss, or why refused.';
create index lookup_audit_borrower on control.lookup_audit (borrower_key, at);
create index lookup_audit_lender on control.lookup_audit (lender_code, at);

-- ---- which lender is asking ------------------------------------------------------------------

create function control.current_lender() returns text
    language sql stable
    as $$ select case when current_user like 'lender\_%' then upper(substr(current_user, 8)) end $$;
comment on function control.current_lender() is 'The lender code of a lender_<code> role, else null.';

-- ---- grants ------------------------------------------------------------------------------------

grant usage on schema control to exchange_admin, association, member_lender;
grant usage on schema raw to exchange_admin, member_lender;
grant usage on schema staging, intermediate, marts to exchange_admin, association;
grant usage on schema marts to analyst;
grant execute on function control.current_lender() to public;

grant select on all tables in schema control to exchange_admin, association;
grant insert, update on control.lenders, control.api_tokens, control.audit_log to exchange_admin;
grant usage on all sequences in schema control to exchange_admin;
grant select on all tables in schema raw to exchange_admin;
grant select on all tables in schema staging, intermediate, marts to exchange_admin, association;
grant select on all tables in schema marts to analyst;
-- dbt recreates its tables on every run: grant on what the pipeline creates later too
alter default privileges in schema staging grant select on tables to exchange_admin, association;
alter default privileges in schema intermediate grant select on tables to exchange_admin, association;
alter default privileges in schema marts grant select on tables to exchange_admin, association, analyst;
alter default privileges in schema control grant select on tables to exchange_admin, association;

grant select on control.submissions, control.row_problems, control.reason_codes, control.lookup_audit
    to member_lender;
revoke all on control.api_tokens from association, member_lender;
grant select (token_id, party, lender_code, token_prefix, label, issued_at, issued_by, revoked_at)
    on control.api_tokens to association;

-- ---- row-level security: a lender sees its own rows only ---------------------------------------
-- The owner (the pipeline) is not subject to these policies; every other role is.

alter table control.submissions enable row level security;
create policy staff_all on control.submissions for select to exchange_admin, association using (true);
create policy lender_own on control.submissions for select to member_lender
    using (lender_code = control.current_lender());

alter table control.row_problems enable row level security;
create policy staff_all on control.row_problems for select to exchange_admin, association using (true);
create policy lender_own on control.row_problems for select to member_lender
    using (exists (select 1 from control.submissions s
                   where s.submission_id = row_problems.submission_id
                     and s.lender_code = control.current_lender()));

alter table control.lookup_audit enable row level security;
create policy staff_all on control.lookup_audit for select to exchange_admin, association using (true);
create policy lender_own on control.lookup_audit for select to member_lender
    using (lender_code = control.current_lender());

-- every raw table (loans, loan_status, collection_actions, ...) carries its lender_code
do $$
declare
    t text;
begin
    for t in select c.table_name from information_schema.columns c
             join information_schema.tables tb using (table_schema, table_name)
             where c.table_schema = 'raw' and c.column_name = 'lender_code' and tb.table_type = 'BASE TABLE'
    loop
        execute format('grant select on raw.%I to member_lender', t);
        execute format('alter table raw.%I enable row level security', t);
        execute format('create policy staff_all on raw.%I for select to exchange_admin using (true)', t);
        execute format('create policy lender_own on raw.%I for select to member_lender'
                       ' using (lender_code = control.current_lender())', t);
    end loop;
end
$$;
