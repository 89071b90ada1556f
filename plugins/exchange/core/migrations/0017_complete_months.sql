-- Complete months (完整报送): a loan_status file is checked against the lender's book when it
-- loads. The book is the loans that the lender's latest complete status file before this one (for
-- a correction, the file of the same date it would replace) reported active (not settled, written off, transferred or compensated). A file reporting fewer
-- of them than the complete-share setting (EXCHANGE_COMPLETE_SHARE, default 95 %) is accepted
-- as partial: its rows are kept, it replaces nothing, and it counts in no mart, feed or alert
-- until a complete file of the same month with a later reporting date arrives (then it is one
-- more report within a complete month). A 5-row daily file can therefore never become a
-- lender's reporting month.

alter table control.submissions
    add column is_partial boolean not null default false;
comment on column control.submissions.is_partial is
    'A loan_status file that reported less than the complete share of the lender''s book (control.status_coverage): '
    'kept, but counted only once a complete file of the same month with a later date arrives.';

-- The coverage of one status file against the lender's book, computed once (files are immutable)
-- and kept in control.status_coverage. The one place the book is defined: the ingest calls it when
-- a file loads, the give-to-get check when an older file has no row yet.
create function control.compute_status_coverage(p_submission bigint)
    returns table (previous_submission_id bigint, previous_active int, covered int)
    language plpgsql
    as $$
#variable_conflict use_column
declare
    v_lender   text;
    v_as_of    date;
    v_previous bigint;
    v_active   int := 0;
    v_covered  int := 0;
begin
    select s.lender_code, s.as_of_date into v_lender, v_as_of
    from control.submissions s where s.submission_id = p_submission;
    select s.submission_id into v_previous
    from control.submissions s
    where s.lender_code = v_lender and s.kind = 'loan_status' and s.verdict in ('accepted', 'accepted_with_errors')
      and s.superseded_by is null and not s.is_partial and s.as_of_date <= v_as_of
      and s.submission_id <> p_submission  -- a correction (same date) is judged against the file it replaces
    order by s.as_of_date desc, s.submission_id desc
    limit 1;
    if v_previous is null then
        return;  -- the lender's first status file defines its book
    end if;
    with before as (
        select distinct p.loan_id from raw.loan_status p
        where p.submission_id = v_previous
          and p.account_status not in ('settled', 'written_off', 'transferred', 'compensated')
    ), now_reported as (
        select distinct n.loan_id from raw.loan_status n where n.submission_id = p_submission
    )
    select count(*), count(now_reported.loan_id) into v_active, v_covered
    from before left join now_reported using (loan_id);
    insert into control.status_coverage (submission_id, previous_submission_id, previous_active, covered)
    values (p_submission, v_previous, v_active, v_covered)
    on conflict (submission_id) do update
        set previous_submission_id = excluded.previous_submission_id,
            previous_active = excluded.previous_active, covered = excluded.covered, computed_at = now();
    return query select v_previous, v_active, v_covered;
end
$$;
revoke all on function control.compute_status_coverage(bigint) from public;

-- Give-to-get judges the lender's latest complete file (a partial one says nothing of its book).
create or replace function control.give_to_get(p_lender text)
    returns table (latest_as_of date, age_days int, previous_active int, covered int)
    language plpgsql
    as $$
#variable_conflict use_column
declare
    v_latest  bigint;
    v_as_of   date;
    v_active  int := 0;
    v_covered int := 0;
begin
    select s.submission_id, s.as_of_date into v_latest, v_as_of
    from control.submissions s
    where s.lender_code = p_lender and s.kind = 'loan_status' and s.verdict in ('accepted', 'accepted_with_errors')
      and s.superseded_by is null and not s.is_partial
    order by s.as_of_date desc, s.submission_id desc
    limit 1;
    if v_latest is null then
        return;
    end if;
    select c.previous_active, c.covered into v_active, v_covered
    from control.status_coverage c where c.submission_id = v_latest;
    if not found then
        select c.previous_active, c.covered into v_active, v_covered
        from control.compute_status_coverage(v_latest) c;
        v_active := coalesce(v_active, 0);
        v_covered := coalesce(v_covered, 0);
    end if;
    return query select v_as_of, current_date - v_as_of, v_active, v_covered;
end
$$;
revoke all on function control.give_to_get(text) from public;
