-- No JIT compilation on the exchange's database. The dbt models already turned it off for their
-- own transactions (macros/session_settings.sql: its cost outweighed its gain), but the data tests,
-- the quality gate's checks and the web queries ran with it: at a million loans a test over the
-- loans compiled for about a second before reading them (7.1 s against 6.2 s without), and a
-- month's tests and gate run dozens of such queries. A server setting for the database, so every
-- session of every role gets it; a role that does not own the database leaves it as it is.

do $$
begin
    execute format('alter database %I set jit = off', current_database());
exception when insufficient_privilege then
    raise notice 'jit left on: % does not own the database', current_user;
end
$$;
