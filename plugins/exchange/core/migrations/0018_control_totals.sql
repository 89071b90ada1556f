-- Control totals (控制总数, intake/control_totals.py): what a file's sidecar declared and what the
-- exchange found, kept with the submission so the feedback can show both, also for a file rejected
-- for the difference (its rows are gone; the figures are not personal data).
alter table control.submissions
    add column control_declared jsonb,
    add column control_found jsonb;
comment on column control.submissions.control_declared is
    'The sidecar''s figures (rows; for loan_status the sums of outstanding and overdue principal), null without a sidecar.';
comment on column control.submissions.control_found is
    'The same figures counted by the exchange on the loaded rows, null without a sidecar.';
