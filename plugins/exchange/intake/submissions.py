"""What the association (and each lender, for itself) sees of submissions so far."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

from exchange.core.registry import lender_status


def summary_by_lender(conn: psycopg.Connection) -> list[dict]:
    """Per lender: files by verdict (and partial status files), rows accepted and rejected, latest
    reporting date of a complete file."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("""
            select l.lender_code as lender, l.status,
                   count(s.submission_id) as files,
                   count(*) filter (where s.verdict = 'accepted') as accepted,
                   count(*) filter (where s.verdict = 'accepted_with_errors') as with_errors,
                   count(*) filter (where s.verdict = 'rejected') as rejected,
                   count(*) filter (where s.verdict = 'duplicate') as duplicates,
                   count(*) filter (where s.is_partial) as partial,
                   coalesce(sum(s.rows_accepted), 0) as rows_accepted,
                   coalesce(sum(s.rows_rejected), 0) as rows_rejected,
                   max(s.as_of_date) filter (where s.verdict in ('accepted', 'accepted_with_errors')
                                             and not s.is_partial) as latest_period
            from control.lenders l
            left join control.submissions s on s.lender_code = l.lender_code
            group by l.lender_code, l.status
            order by l.lender_code""").fetchall()


def lender_submissions(conn: psycopg.Connection, lender_code: str) -> list[dict]:
    """One lender's submissions, newest first, with verdicts and feedback locations; L_UNKNOWN for a
    code not registered (an empty list would read as a lender that has sent nothing yet)."""
    lender_status(conn, lender_code)
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("""
            select submission_id as id, file_name, kind, as_of_date, seq, verdict, reason_code as reason,
                   rows_total, rows_accepted, rows_rejected, rows_warned,
                   is_partial as partial, superseded_by, feedback_path
            from control.submissions where lender_code = %s
            order by submission_id desc""", (lender_code,)).fetchall()
