-- The lender's own bad value beside a row problem, so the feedback can say what was wrong
-- ("2025/01/10" is not YYYY-MM-DD) -- only where it cannot be an identity: fields of date, time,
-- amount, count or region type, and only a value of digits and punctuation with no run of 11
-- digits (intake.validate.echoable). ID numbers, names, phones and free text are never kept.
alter table control.row_problems add column value text;
comment on column control.row_problems.value is
    'The submitted value of a date/time/amount/count/region field, only when made of digits and punctuation '
    'with no run of 11 digits (never an identity); null otherwise.';
comment on table control.row_problems is
    'Problems found in a submission, by line and field; values only where they cannot be identities (column value).';
